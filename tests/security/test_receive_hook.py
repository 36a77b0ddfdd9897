"""S7 attacks on the git push path: refs, names and objects crafted to confuse the hook.

One real shipway with one deployed project (the victim). Each attack pushes
what someone with push access could (or runs the pre-receive hook by hand
with garbage), and asserts that it fails cleanly — a clear `remote:` message,
no traceback, no server path — and that nothing changed: main still answers,
its release list is as it was, no environment was made from the bad name,
and no file appeared outside the project's repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MINIMAL_APP_YAML, STDLIB, Shipway, commit, git, make_repo, push

pytestmark = pytest.mark.e2e

PROJECT = "refatk"
CONFIG = MINIMAL_APP_YAML


@pytest.fixture(scope="module")
def outside() -> Iterator[Path]:
    """A directory outside every shipway home that no attack may write into."""
    base = Path(tempfile.mkdtemp(prefix="shipway-refatk-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    repo = make_repo(tmp_path_factory.mktemp("refs") / "repo")
    shutil.copy(STDLIB / "app.py", repo / "app.py")
    (repo / ".platform.app.yaml").write_text(CONFIG)
    commit(repo, "v1")
    remote = shipway.create_project(PROJECT)
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    return {"repo": repo, "remote": remote, "url": shipway.url(PROJECT),
            "head": git(repo, "rev-parse", "HEAD").stdout.strip(),
            "releases": releases(shipway)}


def releases(shipway: Shipway) -> list[str]:
    data = json.loads(shipway.cli("release:list", "-p", PROJECT, "-e", "main",
                                  "--format", "json").stdout)
    return [r["id"] for r in data]


def environments(shipway: Shipway) -> set[str]:
    data = json.loads(shipway.cli("environment:list", "-p", PROJECT, "--format", "json").stdout)
    return {e["name"] for e in data}


def assert_clean_refusal(shipway: Shipway, out: subprocess.CompletedProcess[str], *said: str) -> None:
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    remote = [line for line in text.splitlines() if line.startswith("remote:")]
    assert "Traceback" not in text and not any(str(shipway.home) in line for line in remote), text
    for words in said:
        assert words in text, text


def assert_unchanged(shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    code, body = shipway.fetch(str(site["url"]))
    assert code == 200 and "stdlib v1" in body, (code, body)
    assert releases(shipway) == site["releases"]
    bare = Path(str(site["remote"]))
    assert git(bare, "rev-parse", "refs/heads/main").stdout.strip() == site["head"]
    assert list(outside.iterdir()) == []


def push_ref(repo: Path, remote: str, *refspecs: str) -> subprocess.CompletedProcess[str]:
    return git(repo, "push", remote, *refspecs, check=False)


def marker(outside: Path) -> str:
    return str(outside / "pwned")


BAD_BRANCHES = [
    "feat$(touch${IFS}{marker})",
    "a;touch${IFS}{marker}",
    "x`touch${IFS}{marker}`",
    "a|b&&c",
    "a/b/c",
    "main/app",  # its directories would sit inside main's app directory
    "main.restoring",  # main's restore scratch volume
    "x" * 200,
    "caf\u00e9-\u65e5\u672c",
    "-o",
]


@pytest.mark.parametrize("template", BAD_BRANCHES, ids=range(len(BAD_BRANCHES)))
def test_branch_names_that_are_no_directory_name_are_refused(
        shipway: Shipway, site: dict[str, object], outside: Path, template: str) -> None:
    branch = template.replace("{marker}", marker(outside))
    repo = Path(str(site["repo"]))
    assert git(repo, "check-ref-format", f"refs/heads/{branch}", check=False).returncode == 0, branch
    before = environments(shipway)
    out = push_ref(repo, str(site["remote"]), f"HEAD:refs/heads/{branch}")
    assert_clean_refusal(shipway, out, "cannot be an environment")
    assert environments(shipway) == before
    assert git(Path(str(site["remote"])), "rev-parse", "--verify", "--quiet",
               f"refs/heads/{branch}", check=False).returncode != 0
    assert_unchanged(shipway, site, outside)


@pytest.mark.parametrize("name", ["a;b", "main/app", "x`id`"])
def test_environment_branch_with_a_bad_name_makes_no_ref(
        shipway: Shipway, site: dict[str, object], outside: Path, name: str) -> None:
    before = environments(shipway)
    out = shipway.cli("environment:branch", "-p", PROJECT, name, "main", check=False)
    assert_clean_refusal(shipway, out, "cannot be an environment")
    assert environments(shipway) == before
    assert git(Path(str(site["remote"])), "show-ref", check=False).stdout.count("\n") == 1
    assert_unchanged(shipway, site, outside)


@pytest.mark.parametrize("ref", ["refs/notes/x", "refs/pull/1/head", "refs/shipway/x"])
def test_refs_that_are_no_branch_or_tag_are_refused(
        shipway: Shipway, site: dict[str, object], outside: Path, ref: str) -> None:
    out = push_ref(Path(str(site["repo"])), str(site["remote"]), f"HEAD:{ref}")
    assert_clean_refusal(shipway, out, "branches (refs/heads/) and tags (refs/tags/) only")
    assert git(Path(str(site["remote"])), "show-ref", check=False).stdout.count("\n") == 1
    assert_unchanged(shipway, site, outside)


def test_a_tag_is_stored_and_deploys_nothing(
        shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    before = environments(shipway)
    out = push_ref(Path(str(site["repo"])), str(site["remote"]), "HEAD:refs/tags/v1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert environments(shipway) == before
    git(Path(str(site["repo"])), "push", "-q", str(site["remote"]), ":refs/tags/v1")
    assert_unchanged(shipway, site, outside)


def test_deleting_main_is_refused(shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    out = push_ref(Path(str(site["repo"])), str(site["remote"]), ":refs/heads/main")
    assert_clean_refusal(shipway, out, "deleting 'main' refused")
    assert_unchanged(shipway, site, outside)


def test_one_bad_name_refuses_the_whole_push(
        shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    before = environments(shipway)
    out = push_ref(Path(str(site["repo"])), str(site["remote"]),
                   "HEAD:refs/heads/fine-one", "HEAD:refs/heads/a;b")
    assert_clean_refusal(shipway, out, "branch 'a;b' refused")
    assert environments(shipway) == before
    assert_unchanged(shipway, site, outside)


def test_fifty_branches_in_one_push_are_all_inactive(
        shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    names = [f"many-{i:02d}" for i in range(50)]
    out = push_ref(Path(str(site["repo"])), str(site["remote"]),
                   *(f"HEAD:refs/heads/{n}" for n in names))
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(shipway.cli("environment:list", "-p", PROJECT, "--format", "json").stdout)
    made = {e["name"]: e for e in data if e["name"].startswith("many-")}
    assert sorted(made) == names
    # Inactive: stored, nothing built or started, no uid slot taken (S5).
    assert {e["status"] for e in made.values()} == {"inactive"}
    assert {e["current_release"] for e in made.values()} == {None}
    assert len({e["machine_name"] for e in made.values()}) == 50
    assert_unchanged(shipway, site, outside)


def _push_config_entry(shipway: Shipway, site: dict[str, object], tmp_path: Path,
                       mode: str, target: str) -> subprocess.CompletedProcess[str]:
    """Push to main a commit whose `.platform.app.yaml` is a tree entry of `mode`."""
    repo = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(site["remote"]), str(repo))
    git(repo, "rm", "-q", "--cached", ".platform.app.yaml")
    (repo / ".platform.app.yaml").unlink()
    if mode == "120000":
        (repo / ".platform.app.yaml").symlink_to(target)
        git(repo, "add", ".platform.app.yaml")
    else:
        git(repo, "update-index", "--add", "--cacheinfo", f"{mode},{target},.platform.app.yaml")
    git(repo, "commit", "-q", "-m", f"config as {mode}")
    return push(repo, str(site["remote"]))


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../../../etc/shadow"])
def test_config_as_a_symlink_out_of_the_repo_is_refused(
        shipway: Shipway, site: dict[str, object], outside: Path, tmp_path: Path,
        target: str) -> None:
    out = _push_config_entry(shipway, site, tmp_path, "120000", target)
    assert_clean_refusal(shipway, out, ".platform.app.yaml")
    assert "root:" not in out.stdout + out.stderr
    assert_unchanged(shipway, site, outside)


def test_config_as_a_submodule_entry_is_refused(
        shipway: Shipway, site: dict[str, object], outside: Path, tmp_path: Path) -> None:
    out = _push_config_entry(shipway, site, tmp_path, "160000", str(site["head"]))
    assert_clean_refusal(shipway, out, ".platform.app.yaml")
    assert_unchanged(shipway, site, outside)


def _run_hook(shipway: Shipway, site: dict[str, object], stdin: bytes,
              **env: str) -> subprocess.CompletedProcess[str]:
    bare = Path(str(site["remote"]))
    base = {k: v for k, v in shipway.env.items() if not k.startswith("GIT_")}
    proc = subprocess.run([str(bare / "hooks" / "pre-receive")], input=stdin,
                          capture_output=True, env={**base, "GIT_DIR": str(bare), **env},
                          check=False, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


@pytest.mark.parametrize("stdin", [
    b"garbage\n", b"\x00\xff\xfe\n" * 3, b"a b c d\n", b"0 0 refs/heads/main\n",
    b"x" * 100_000, ("1" * 40 + " " + "2" * 40 + "\n").encode(),
], ids=["word", "binary", "four-fields", "short-shas", "one-long-line", "no-ref"])
def test_hook_with_garbage_stdin_refuses_cleanly(
        shipway: Shipway, site: dict[str, object], outside: Path, stdin: bytes) -> None:
    quarantine = outside / "quarantine"
    out = _run_hook(shipway, site, stdin, GIT_QUARANTINE_PATH=str(quarantine),
                    GIT_OBJECT_DIRECTORY=str(quarantine))
    assert_clean_refusal(shipway, out, "malformed ref update")
    assert_unchanged(shipway, site, outside)


@pytest.mark.parametrize("var", ["GIT_OBJECT_DIRECTORY", "GIT_QUARANTINE_PATH",
                                 "GIT_ALTERNATE_OBJECT_DIRECTORIES"])
def test_hook_with_objects_outside_the_repository_is_refused(
        shipway: Shipway, site: dict[str, object], outside: Path, var: str) -> None:
    update = f"{site['head']} {'0' * 39}1 refs/heads/main\n".encode()
    out = _run_hook(shipway, site, update, **{var: str(outside)})
    assert_clean_refusal(shipway, out, "must name a directory inside the project's repository")
    assert_unchanged(shipway, site, outside)


def test_hook_for_a_repository_that_is_no_project_is_refused(
        shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    update = f"{'0' * 40} {site['head']} refs/heads/main\n".encode()
    out = _run_hook(shipway, site, update, GIT_DIR=str(outside / "nosuch.git"))
    assert_clean_refusal(shipway, out, "no project 'nosuch'")
    assert_unchanged(shipway, site, outside)


@pytest.mark.parametrize("name", ["a;b", "$(touch${IFS}/tmp/x)", "../escape", "x`id`", "shop\n",
                                  "UPPER", "caf\u00e9", "a" * 41, "-o"])
def test_project_names_with_metacharacters_are_refused(
        shipway: Shipway, site: dict[str, object], outside: Path, name: str) -> None:
    before = sorted(p.name for p in (shipway.home / "git").iterdir())
    out = shipway.cli("project:create", "--", name, check=False)
    assert_clean_refusal(shipway, out, "invalid project name")
    assert sorted(p.name for p in (shipway.home / "git").iterdir()) == before
    assert_unchanged(shipway, site, outside)


def test_force_push_of_a_huge_deep_tree_rewriting_main_deploys_as_a_new_release(
        shipway: Shipway, site: dict[str, object], outside: Path) -> None:
    """Last: it changes main. A rewritten history is allowed (as on Platform.sh);
    it becomes one new release, the earlier ones kept for rollback."""
    repo = Path(str(site["repo"]))
    many = repo / "many"
    many.mkdir()
    for i in range(3000):
        (many / f"f{i}").write_text("")
    deep = repo / ".platform" / "/".join(f"d{i}" for i in range(60))
    deep.mkdir(parents=True)
    (deep / ".platform.app.yaml").write_text("name: [not, an, app\n")  # beyond the search depth
    app = (repo / "app.py").read_text().replace('VERSION = "v1"', 'VERSION = "v2"')
    (repo / "app.py").write_text(app)
    commit(repo, "rewritten", "--amend")
    out = push(repo, str(site["remote"]), "--force")
    assert out.returncode == 0, out.stdout + out.stderr
    new_head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert git(Path(str(site["remote"])), "rev-parse", "refs/heads/main").stdout.strip() == new_head
    after = releases(shipway)
    assert len(after) == len(site["releases"]) + 1 and after[1:] == site["releases"]
    code, body = shipway.fetch(str(site["url"]))
    assert code == 200 and "stdlib v2" in body, (code, body)
    assert list(outside.iterdir()) == []
