"""S6 attacks: failures that used to leave what runs, what is recorded and the router apart.

(a) a release whose app exits at start; (b) `kill -9` of the control plane in
the middle of a deploy (during the deploy hook, and while the new app starts);
(c) two branches pushed at once. Each asserts that what serves is what
`release:list` calls current, that held requests are answered, and that no
route is lost.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.conftest import STDLIB, Shipway, commit, git, make_repo, push

pytestmark = pytest.mark.e2e

CRASH_AT_START = 'if __name__ == "__main__":\n    sys.exit(4)\n'


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def set_version(repo: Path, version: str, *, crash: bool = False) -> None:
    app = repo / "app.py"
    text = re.sub(r'VERSION = "[^"]*"', f'VERSION = "{version}"', app.read_text())
    if crash:
        text = text.replace('if __name__ == "__main__":\n', CRASH_AT_START, 1)
    app.write_text(text)


def current_release(shipway: Shipway, project: str, env: str = "main") -> dict:
    releases = json.loads(shipway.cli("release:list", "-p", project, "-e", env,
                                      "--format", "json").stdout)
    current = [r for r in releases if r["current"]]
    assert len(current) == 1, releases
    return current[0]


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def remote_branch(remote: str, branch: str = "main") -> str:
    return git(Path(remote), "rev-parse", f"refs/heads/{branch}").stdout.strip()


class Held:
    """A request sent through the router while a deploy holds it, answered later."""

    def __init__(self, shipway: Shipway, url: str) -> None:
        self.result: tuple[int, str] | None = None
        self.answered_at = 0.0

        def run() -> None:
            self.result = shipway.fetch(url, timeout=90)
            self.answered_at = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def answer(self) -> tuple[int, str]:
        self.thread.join(120)
        assert self.result is not None
        return self.result


def holding(shipway: Shipway) -> bool:
    holds = shipway.home / "holds"
    return holds.is_dir() and any(p.is_file() for p in holds.iterdir())


def start_push(repo: Path, remote: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["git", "-C", str(repo), "push", *args, remote, "HEAD:main"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# -- (a) a release that exits at start ------------------------------------------------

def test_a_release_that_exits_at_start_gives_way_to_the_previous_one(
        shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("failstart")
    repo = make_repo(tmp_path / "repo", STDLIB)
    assert push(repo, remote).returncode == 0
    url = shipway.url("failstart")
    assert shipway.fetch(url)[1].startswith("stdlib v1")
    good = head(repo)

    set_version(repo, "v2", crash=True)
    commit(repo, "v2 exits at start")
    exits = shipway.home / "run" / "failstart" / "main" / "app" / "web" / "exits"
    pushing = start_push(repo, remote)
    # The first exit of the new app: the old one is stopped, requests are held.
    wait_for(exits.exists, 120, "the new app to exit at start")
    failed_at = time.monotonic()
    assert holding(shipway)
    held = Held(shipway, url)
    code, body = held.answer()
    out = pushing.communicate(timeout=120)[0]

    print(f"\nfrom the failed start to the previous release answering: "
          f"{held.answered_at - failed_at:.2f} s")
    assert pushing.returncode != 0, out
    assert "the new release did not start" in out and "exited 2 times at start" in out, out
    assert "release v1" in out and "was started again and serves" in out, out
    assert (code, body.split(" pid")[0]) == (200, "stdlib v1"), body
    assert held.answered_at - failed_at < 30  # the crash loop is seen, not waited out (120 s)
    assert shipway.fetch(url)[1].startswith("stdlib v1")
    assert current_release(shipway, "failstart")["id"] == "v1"
    assert current_release(shipway, "failstart")["commit"] == good
    assert remote_branch(remote) == good


def test_a_first_release_that_exits_at_start_records_nothing(
        shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("neverup")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text((STDLIB / "app.py").read_text())
    for name in (".platform.app.yaml", "worker.py"):
        (repo / name).write_text((STDLIB / name).read_text())
    set_version(repo, "v1", crash=True)
    make_repo(repo)
    started = time.monotonic()
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert "the new release did not start" in log and "nothing serves" in log, log
    assert time.monotonic() - started < 90, "seen as a crash loop, not waited out"
    releases = json.loads(shipway.cli("release:list", "-p", "neverup", "--format", "json").stdout)
    assert releases == []
    env = json.loads(shipway.cli("environment:info", "-p", "neverup", "-e", "main",
                                 "--format", "json").stdout)
    assert env["current_release"] is None, env
    assert git(Path(remote), "rev-parse", "--verify", "-q", "refs/heads/main",
               check=False).returncode != 0


# -- (b) kill -9 during a deploy -------------------------------------------------------

BLOCKING_HOOKS = """  deploy: |
    echo run >> /app/data/hook-runs
    while [ -e /app/data/block-hook ]; do sleep 0.05; done
    echo done >> /app/data/hook-runs
  post_deploy: |
    echo post >> /app/data/hook-runs
    while [ -e /app/data/block-post ]; do sleep 0.05; done
"""


@pytest.fixture(scope="module")
def blocking(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A project whose deploy hook, post_deploy hook and start wait while
    /app/data/block-hook, block-post, block-start exist: files the test controls."""
    remote = shipway.create_project("killed")
    repo = make_repo(tmp_path_factory.mktemp("killed") / "repo", STDLIB)
    cfg = repo / ".platform.app.yaml"
    text = cfg.read_text()
    start = text.index("  deploy: |")
    end = text.index("mounts:")
    text = text[:start] + BLOCKING_HOOKS + text[end:]
    text = text.replace("    start: python3 app.py\n",
                        "    start: while [ -e /app/data/block-start ]; do sleep 0.05; done;"
                        " exec python3 app.py\n")
    cfg.write_text(text)
    commit(repo, "blocking hooks")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    data = shipway.app_data("killed") / "mounts" / "data"
    return {"remote": remote, "repo": repo, "data": data, "url": shipway.url("killed")}


def hook_runs(data: Path) -> list[str]:
    path = data / "hook-runs"
    return path.read_text().split() if path.exists() else []


def test_kill_9_during_the_deploy_hook_converges_on_the_new_release(
        shipway: Shipway, blocking: dict) -> None:
    repo, remote, data, url = blocking["repo"], blocking["remote"], blocking["data"], blocking["url"]
    runs_before = hook_runs(data)
    set_version(repo, "v2")
    commit(repo, "v2")
    (data / "block-hook").write_text("")
    try:
        pushing = start_push(repo, remote)
        wait_for(lambda: len(hook_runs(data)) == len(runs_before) + 1, 120,
                 "the deploy hook to start")
        assert holding(shipway)
        held = Held(shipway, url)
        shipway.kill9()
        pushing.communicate(timeout=60)
        shipway.start()
        code, body = held.answer()
    finally:
        (data / "block-hook").unlink(missing_ok=True)

    assert (code, body.split(" pid")[0]) == (200, "stdlib v2"), body
    assert shipway.fetch(url)[1].startswith("stdlib v2")
    current = current_release(shipway, "killed")
    assert current["commit"] == head(repo), current
    assert remote_branch(remote) == head(repo)  # git agrees with what serves
    # the interrupted hook was not run again (nor the completed one of v1)
    assert hook_runs(data) == [*runs_before, "run"]
    assert not holding(shipway)


def test_kill_9_during_post_deploy_keeps_the_new_release_current(
        shipway: Shipway, blocking: dict) -> None:
    repo, remote, data, url = blocking["repo"], blocking["remote"], blocking["data"], blocking["url"]
    runs_before = hook_runs(data)
    set_version(repo, "v4")
    commit(repo, "v4")
    (data / "block-post").write_text("")
    try:
        pushing = start_push(repo, remote)
        wait_for(lambda: hook_runs(data)[len(runs_before):] == ["run", "done", "post"], 120,
                 "post_deploy to start")
        shipway.kill9()
        pushing.communicate(timeout=60)  # git refused it: the pre-receive hook died
        shipway.start()
    finally:
        (data / "block-post").unlink(missing_ok=True)

    assert shipway.fetch(url)[1].startswith("stdlib v4")
    current = current_release(shipway, "killed")
    assert current["commit"] == head(repo), current
    assert remote_branch(remote) == head(repo)  # the pushed objects were kept, the ref moved
    assert hook_runs(data) == [*runs_before, "run", "done", "post"]


def test_kill_9_while_the_new_app_starts_brings_the_previous_release_back(
        shipway: Shipway, blocking: dict) -> None:
    repo, remote, data, url = blocking["repo"], blocking["remote"], blocking["data"], blocking["url"]
    serving = current_release(shipway, "killed")
    served_body = shipway.fetch(url)[1].split(" pid")[0]
    runs_before = hook_runs(data)
    set_version(repo, "v3")
    commit(repo, "v3")
    (data / "block-start").write_text("")
    try:
        pushing = start_push(repo, remote)
        wait_for(lambda: "Waiting for the new processes" in _activity_logs(shipway), 120,
                 "the deploy to wait for the new app")
        held = Held(shipway, url)
        shipway.kill9()
        pushing.communicate(timeout=60)
        (data / "block-start").unlink()
        shipway.start()
        code, body = held.answer()
    finally:
        (data / "block-start").unlink(missing_ok=True)

    assert (code, body.split(" pid")[0]) == (200, served_body), body
    assert current_release(shipway, "killed")["id"] == serving["id"]
    assert remote_branch(remote) == serving["commit"]
    assert hook_runs(data) == runs_before  # v3's hook never ran, and nothing reran
    assert not holding(shipway)


def _activity_logs(shipway: Shipway) -> str:
    return "".join(p.read_text(errors="replace") for p in (shipway.home / "activities").glob("*.log"))


# -- (c) two branches at once ----------------------------------------------------------

def test_two_branches_pushed_at_once_both_answer_their_own_page(
        shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("twins")
    repo = make_repo(tmp_path / "repo", STDLIB)
    assert push(repo, remote).returncode == 0
    for branch in ("left", "right"):
        git(repo, "checkout", "-q", "-b", branch, "main")
        set_version(repo, branch)
        commit(repo, branch)
    pushes = [subprocess.Popen(["git", "-C", str(repo), "push", "-o", "environment.status=active",
                                remote, f"{branch}:{branch}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for branch in ("left", "right")]
    outs = [p.communicate(timeout=300)[0] for p in pushes]
    failed = [out for p, out in zip(pushes, outs, strict=True) if p.returncode != 0]
    assert not failed, "\n".join(failed)
    for branch in ("left", "right", "main"):
        code, body = shipway.fetch(shipway.url("twins", branch))
        expected = "stdlib v1" if branch == "main" else f"stdlib {branch}"
        assert (code, body.split(" pid")[0]) == (200, expected), (branch, body)


def test_a_restart_with_one_app_crash_looping_brings_the_others_back(
        shipway: Shipway, blocking: dict, tmp_path: Path) -> None:
    remote = shipway.create_project("fragile")
    repo = make_repo(tmp_path / "repo", STDLIB)
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace(
        "    start: python3 app.py\n",
        "    start: test ! -e /app/data/break-start && exec python3 app.py\n"))
    commit(repo, "breakable start")
    assert push(repo, remote).returncode == 0
    fragile = shipway.url("fragile")
    (shipway.app_data("fragile") / "mounts" / "data" / "break-start").write_text("")
    shipway.fetch(fragile + "crash")  # from now on it exits at every start
    shipway.kill9()
    shipway.start()

    assert shipway.fetch(blocking["url"])[0] == 200  # the other project serves again
    code, _ = shipway.fetch(fragile)
    assert code == 503  # quick: no hold is left behind for the broken one
    assert "fragile/main did not come back" in shipway.serve_log.read_text()
