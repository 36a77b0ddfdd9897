"""S1 and S5 attacks pushed to a real shipway: each push is refused at validation
with file:line, before anything runs; nothing outside the app changes and the
previous release keeps answering (issue 9, items 2, 3 and 7).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MINIMAL_APP_YAML, STDLIB, Shipway, commit, git, make_repo, push

pytestmark = pytest.mark.e2e

APP = ".platform.app.yaml"
BASE = MINIMAL_APP_YAML
UP = "/".join([".."] * 24)  # more than enough to reach / from any base


@pytest.fixture(scope="module")
def victim() -> Iterator[Path]:
    """A host directory an attacker would like to own, outside every shipway home."""
    base = Path(tempfile.mkdtemp(prefix="shipway-victim-"))
    base.chmod(0o755)
    (base / "precious").write_text("root's file\n")
    (base / "precious").chmod(0o644)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    repo = make_repo(tmp_path_factory.mktemp("cfg") / "repo")
    shutil.copy(STDLIB / "app.py", repo / "app.py")
    (repo / APP).write_text(BASE)
    commit(repo, "v1")
    remote = shipway.create_project("cfgatk")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    return {"repo": repo, "remote": remote, "url": shipway.url("cfgatk"),
            "base": git(repo, "rev-parse", "HEAD").stdout.strip()}


def snapshot(path: Path) -> dict[str, tuple[int, int, int, str]]:
    """Owner, group, mode and content of `path` and everything in it."""
    out = {}
    for item in [path, *sorted(path.rglob("*"))]:
        st = item.lstat()
        content = item.read_text() if stat.S_ISREG(st.st_mode) else ""
        out[str(item)] = (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), content)
    return out


def control_plane_pid(shipway: Shipway) -> int:
    assert shipway.proc is not None
    return shipway.proc.pid


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024  # type: ignore[index]


def releases(shipway: Shipway) -> list[dict]:
    out = shipway.cli("release:list", "-p", "cfgatk", "-e", "main", "--format", "json").stdout
    return json.loads(out)


def attack(shipway: Shipway, site: dict, files: dict[str, str | bytes]) -> str:
    """Push `files` on top of the good release; the push output."""
    repo: Path = site["repo"]  # type: ignore[assignment]
    git(repo, "reset", "-q", "--hard", str(site["base"]))
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    commit(repo, "attack")
    out = push(repo, str(site["remote"]))
    git(repo, "reset", "-q", "--hard", str(site["base"]))
    assert out.returncode != 0, "the push was accepted:\n" + out.stdout + out.stderr
    return out.stdout + out.stderr


def assert_refused_cleanly(shipway: Shipway, site: dict, log: str, where: str,
                           echoed: str = "\0") -> None:
    """`echoed` marks lines that quote the pusher's own value back (which may hold a path)."""
    assert "Error parsing configuration files" in log, log[-3000:]
    assert re.search(re.escape(where), log), f"no {where!r} in:\n{log[-3000:]}"
    assert "Traceback" not in log and "internal error" not in log, log[-3000:]
    # No server path reaches the pusher (git itself names the local remote's path).
    remote = [line for line in log.splitlines() if line.startswith("remote:")]
    assert not [line for line in remote if str(shipway.home) in line and echoed not in line]
    assert "Building application" not in log and "Launching" not in log  # nothing ran


def assert_previous_release_answers(shipway: Shipway, site: dict, before: list[dict]) -> None:
    assert releases(shipway) == before
    code, body = shipway.fetch(str(site["url"]))
    assert code == 200 and body.startswith("stdlib v1"), (code, body[:200])


BOMB = "".join(
    [f"    a0: &a0 [{', '.join(['lol'] * 9)}]\n"]
    + [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)]
)

# (id, files on top of BASE, file:line the refusal must name)
PATH_ATTACKS = [
    ("location root traversal (item 2)",
     {APP: BASE + "  locations:\n    /up:\n      root: " + UP + "\n      allow: true\n"},
     f"{APP}:12: web.locations./up.root: "),
    ("location root inside-out", {APP: BASE + "  locations:\n    /:\n      root: a/../../../b\n"},
     f"{APP}:12: web.locations./.root: "),
    ("mount source_path to a host dir (item 3)",
     {APP: BASE.replace("    source_path: scratch\n", "    source_path: scratch\n"
                        "  data:\n    source: local\n    source_path: {victim}\n")},
     f"{APP}:9: mounts.data.source_path: "),
    ("mount key with '..' (item 3)",
     {APP: BASE.replace("mounts:\n", "mounts:\n  '{victim}':\n    source: local\n")},
     f"{APP}:4: mounts.{{victim}}: "),
    ("legacy mount string up",
     {APP: BASE.replace("mounts:\n", "mounts:\n  data: 'shared:files/{victim}'\n")},
     f"{APP}:4: mounts.data.source_path: "),
    ("worker mount key up",
     {APP: BASE + "workers:\n  q:\n    commands: {{start: sleep 60}}\n    mounts:\n"
      "      '{victim}': {{source: local}}\n"},
     f"{APP}:14: workers.q.mounts.{{victim}}: "),
    ("worker name up", {APP: BASE + "workers:\n  '../../../../x':\n    commands: {{start: w}}\n"},
     f"{APP}:11: workers.../../../../x: invalid worker name"),
    ("include outside the repository",
     {APP: BASE + "variables:\n  env:\n    X: !include {{type: string, path: /etc/shadow}}\n"},
     f"{APP}:12: variables.env.X: !include: path '/etc/shadow' must be relative"),
]


@pytest.mark.parametrize(("files", "where"), [c[1:] for c in PATH_ATTACKS],
                         ids=[c[0] for c in PATH_ATTACKS])
def test_a_path_attack_is_refused_before_anything_runs(shipway: Shipway, site: dict,
                                                      victim: Path, files: dict,
                                                      where: str) -> None:
    # A directory inside the victim that does not exist yet: root would mkdir it.
    target = UP + str(victim / "planted")
    before, owned = releases(shipway), snapshot(victim)
    files = {rel: text.format(victim=target) for rel, text in files.items()}
    log = attack(shipway, site, files)
    assert_refused_cleanly(shipway, site, log, where.format(victim=target))
    assert snapshot(victim) == owned
    assert_previous_release_answers(shipway, site, before)


def test_the_router_ca_key_is_not_served_through_a_location(shipway: Shipway, site: dict) -> None:
    key = shipway.home / "router" / "storage" / "pki" / "authorities" / "local" / "root.key"
    assert key.is_file()
    attack(shipway, site, {APP: BASE + "  locations:\n    /up:\n      root: " + UP + "\n"})
    code, body = shipway.fetch(f"{site['url'].rstrip('/')}/up{key}")  # type: ignore[attr-defined]
    assert "PRIVATE KEY" not in body
    assert body.startswith("stdlib v1")  # the app answered: no /up location exists


ROUTER_PLACEHOLDERS = [
    ("header value {file.*}", "      headers:\n        X-Key: '{{file.{key}}}'\n",
     f"{APP}:14: web.locations./.headers.X-Key: must not contain '{{{{'"),
    ("header value {env.*}", "      headers:\n        X-Env: '{{env.SHIPWAY_HOME}}'\n",
     f"{APP}:14: web.locations./.headers.X-Env: must not contain '{{{{'"),
    ("rule header {file.*}", "      rules:\n        '.*':\n          headers:\n"
     "            X-Key: '{{file.{key}}}'\n",
     f"{APP}:16: web.locations./.rules..*.headers.X-Key: must not contain '{{{{'"),
]


@pytest.mark.parametrize(("extra", "where"), [c[1:] for c in ROUTER_PLACEHOLDERS],
                         ids=[c[0] for c in ROUTER_PLACEHOLDERS])
def test_caddy_placeholders_cannot_read_the_router_ca_key(shipway: Shipway, site: dict,
                                                          extra: str, where: str) -> None:
    """Caddy expands {file./path} and {env.NAME} in header values (seen: 2.11.7 served
    /etc/hostname in a header): a pushed header must not reach it."""
    key = shipway.home / "router" / "storage" / "pki" / "authorities" / "local" / "root.key"
    before = releases(shipway)
    text = BASE + "  locations:\n    /:\n      passthru: true\n" + extra.format(key=key)
    log = attack(shipway, site, {APP: text})
    assert_refused_cleanly(shipway, site, log, where.format(), echoed="got '{file.")
    code, out = shipway.fetch(str(site["url"]), "-D", "-")
    assert code == 200 and "PRIVATE KEY" not in out and str(shipway.home) not in out
    assert_previous_release_answers(shipway, site, before)


# (id, files, file:line) — parser limits (S5, item 7)
LIMIT_ATTACKS = [
    ("alias bomb 9x9", {APP: BASE + "variables:\n  env:\n" + BOMB},
     f"{APP}:16: the configuration expands to more than 50,000 values"),
    ("10,000-level nesting",
     {APP: BASE + "variables:\n  env:\n    X: " + "[" * 10_000 + "]" * 10_000 + "\n"},
     f"{APP}:12: nested more than 64 levels deep"),
    ("8 MB config", {APP: BASE + "variables:\n  env:\n" + "".join(
        f"    V{i}: '{'x' * 100}'\n" for i in range(80_000))},
     f"{APP}: the file is "),
    ("NUL in an environment variable", {APP: BASE + 'variables:\n  env:\n    X: "a\\0b"\n'},
     f"{APP}:12: variables.env.X: contains a NUL character"),
    ("newline in a key forging output",
     {APP: BASE + 'variables:\n  env:\n    "A\\nremote: deployed OK": x\n'},
     f"{APP}:12: variables.env.A\\nremote: deployed OK: a key must not contain control"),
]


@pytest.mark.parametrize(("files", "where"), [c[1:] for c in LIMIT_ATTACKS],
                         ids=[c[0] for c in LIMIT_ATTACKS])
def test_a_parser_attack_is_refused_with_bounded_memory(shipway: Shipway, site: dict,
                                                       files: dict, where: str) -> None:
    before = releases(shipway)
    log = attack(shipway, site, files)
    assert_refused_cleanly(shipway, site, log, where)
    # The issue saw the bomb hold the control plane at 2 GB; a few hundred MB is
    # Python, Caddy's client libraries and the 8 MB file's bytes.
    assert peak_rss_mb(control_plane_pid(shipway)) < 400
    assert_previous_release_answers(shipway, site, before)
    assert os.path.exists(shipway.home)
