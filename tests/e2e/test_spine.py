"""The spine, end to end (issue 2): git push → build → frozen artifact → deploy → router.

Real git, real bubblewrap sandboxes, real Caddy, real pip installs. One
project walks through its life in order; each test names the requirement.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from .conftest import Shipway, commit, make_repo, push, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shop(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    remote = shipway.create_project("shop")
    repo = make_repo(tmp_path_factory.mktemp("shop") / "repo", "python-flask")
    first = push(repo, remote)
    assert first.returncode == 0, first.stdout + first.stderr
    return {"remote": remote, "repo": repo, "first": first.stdout + first.stderr}


def test_c1_b1_d1_push_deploys_python_example(shipway: Shipway, shop: dict) -> None:
    log = shop["first"]
    assert "Building application 'app' (runtime type: python:3.11, tree: " in log
    assert "Executing build hook..." in log
    code, body = shipway.fetch(shipway.url("shop"))
    assert code == 200, body
    assert body.startswith("python-flask example: hello from shipway")


def test_b4_packages_from_registry_importable_at_run_time(shipway: Shipway, shop: dict) -> None:
    code, body = shipway.fetch(shipway.url("shop") + "env")
    assert code == 200, body
    env = json.loads(body)
    assert env["flask_from_app_local"] is True
    assert env["variables"]["PLATFORM_BRANCH"] == "main", env
    assert env["variables"]["PLATFORM_ENVIRONMENT"].startswith("main-")


def test_d3_code_read_only_mount_writable_and_kept(shipway: Shipway, shop: dict) -> None:
    url = shipway.url("shop")
    code, body = shipway.fetch(url + "writes")
    assert code == 200, body
    writes = json.loads(body)
    assert writes["code_write"] == "EROFS"
    assert writes["mount_write"] == "ok"
    code, _ = shipway.fetch(url + "notes", "-X", "POST", "--data-binary", "kept-note")
    assert code == 201
    repo: Path = shop["repo"]  # type: ignore[assignment]
    (repo / "app.py").write_text((repo / "app.py").read_text().replace(
        "python-flask example:", "python-flask example v2:"))
    commit(repo, "v2")
    out = push(repo, str(shop["remote"]))
    assert out.returncode == 0, out.stdout + out.stderr
    code, body = shipway.fetch(url)
    assert body.startswith("python-flask example v2:"), body
    assert "kept-note" in shipway.fetch(url + "notes")[1]


def test_r1_release_list_shows_each_deploy(shipway: Shipway, shop: dict) -> None:
    data = json.loads(shipway.cli("release:list", "-p", "shop", "-e", "main",
                                  "--format", "json").stdout)
    assert [r["id"] for r in data][-2:] == ["v2", "v1"]
    assert all(len(r["commit"]) == 40 and r["builds"]["app"] for r in data)
    table = shipway.cli("release:list", "-p", "shop", "-e", "main").stdout
    assert "v1" in table and "ID" in table


def test_b2_same_tree_reuses_build(shipway: Shipway, shop: dict) -> None:
    repo: Path = shop["repo"]  # type: ignore[assignment]
    commit(repo, "empty", "--allow-empty")
    out = push(repo, str(shop["remote"]))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Reusing existing build for this tree ID" in log
    assert "Executing build hook" not in log
    assert shipway.fetch(shipway.url("shop"))[0] == 200


def test_b3_failing_build_hook_rejects_push_and_keeps_release(
        shipway: Shipway, shop: dict) -> None:
    repo: Path = shop["repo"]  # type: ignore[assignment]
    cfg = repo / ".platform.app.yaml"
    original = cfg.read_text()
    cfg.write_text(original.replace("    set -e\n", "    set -e\n    echo about-to-fail\n    false\n"))
    commit(repo, "broken build")
    out = push(repo, str(shop["remote"]))
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert "about-to-fail" in log and "build hook failed" in log
    code, body = shipway.fetch(shipway.url("shop"))
    assert code == 200 and body.startswith("python-flask example v2:")
    # Without `set -e` only the last command decides.
    cfg.write_text(original.replace("    set -e\n", "    false\n    echo recovered\n"))
    commit(repo, "non-last failure")
    out = push(repo, str(shop["remote"]))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "recovered" in out.stdout + out.stderr


@pytest.mark.parametrize(("content", "expect"), [
    ("name: app\ntype: python:3.11\nhooks: [unclosed\n", ".platform.app.yaml:3"),
    ("name: app\ntype: pythn:3.11\nweb:\n  commands:\n    start: x\n", ".platform.app.yaml:2: type"),
    ("type: python:3.11\nweb:\n  commands:\n    start: x\n", "name"),
    ("name: app\ntype: python:3.11\ndisk: big\nweb:\n  commands:\n    start: x\n",
     ".platform.app.yaml:3: disk"),
])
def test_c2_malformed_config_fails_push_before_build(
        shipway: Shipway, shop: dict, tmp_path: Path, content: str, expect: str) -> None:
    repo = make_repo(tmp_path / "bad")
    (repo / ".platform.app.yaml").write_text(content)
    commit(repo, "bad config")
    before = shipway.fetch(shipway.url("shop"))[1]
    out = push(repo, str(shop["remote"]), "-f")
    log = out.stdout + out.stderr
    assert out.returncode != 0, log
    assert expect in log, log
    assert "Building application" not in log
    assert shipway.fetch(shipway.url("shop"))[1] == before


def test_b4_build_hook_cannot_reach_host_loopback(
        shipway: Shipway, tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    remote = shipway.create_project("probe")
    repo = make_repo(tmp_path / "probe")
    (repo / ".platform.app.yaml").write_text(
        "name: app\ntype: python:3.11\n"
        "hooks:\n  build: |\n"
        f"    python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 3)\" "
        "&& echo REACHED || echo BLOCKED\n"
        "    id -u\n"
        "web:\n  commands:\n    start: python3 -m http.server $PORT\n")
    commit(repo, "probe")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    server.close()
    assert "BLOCKED" in log and "REACHED" not in log, log


def test_x1_kill9_control_plane_app_keeps_answering(shipway: Shipway, shop: dict) -> None:
    url = shipway.url("shop")
    failures: list[int] = []
    answers: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            code, _ = shipway.fetch(url, timeout=10)
            (answers if code == 200 else failures).append(code)
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        shipway.kill9()
        # Requests answered while the control plane is dead, then after its restart.
        dead = len(answers)
        wait_for(lambda: failures or len(answers) >= dead + 10, 30, "answers while it is dead")
        shipway.start()
        restarted = len(answers)
        wait_for(lambda: failures or len(answers) >= restarted + 5, 30, "answers after the restart")
    finally:
        stop.set()
        poller.join()
    assert failures == []
    repo: Path = shop["repo"]  # type: ignore[assignment]
    (repo / "app.py").write_text((repo / "app.py").read_text().replace(" v2:", " v3:"))
    commit(repo, "v3 after restart")
    out = push(repo, str(shop["remote"]))
    assert out.returncode == 0, out.stdout + out.stderr
    assert shipway.fetch(url)[1].startswith("python-flask example v3:")
