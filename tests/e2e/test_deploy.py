"""Deploy rules on a real app (D3, D6, D7, D9, timeline), with a dependency-free app."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    remote = shipway.create_project("dep")
    repo = make_repo(tmp_path_factory.mktemp("dep") / "repo", STDLIB)
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    return {"remote": remote, "repo": repo, "log": out.stdout + out.stderr,
            "url": shipway.url("dep")}


def wait_for(check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_d6_deploy_hook_logged_in_seed_format(shipway: Shipway, site: dict) -> None:
    assert "deploy hook ran as" in site["log"] and "for production" in site["log"]
    assert "code is read-only" in site["log"]
    text = shipway.cli("log", "deploy", "-p", "dep", "-e", "main").stdout
    assert re.search(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\] Launching hook 'echo ", text, re.M)


def test_d7_post_deploy_runs_while_traffic_is_served(shipway: Shipway, site: dict) -> None:
    repo: Path = site["repo"]  # type: ignore[assignment]
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', '"v2"'))
    commit(repo, "v2")
    answers: list[str] = []
    result: dict[str, object] = {}
    pusher = threading.Thread(target=lambda: result.update(out=push(repo, str(site["remote"]))))
    pusher.start()
    while pusher.is_alive():
        code, body = shipway.fetch(str(site["url"]), timeout=10)
        if code == 200:
            answers.append(body)
        time.sleep(0.1)
    pusher.join()
    log = result["out"].stdout + result["out"].stderr  # type: ignore[attr-defined]
    assert "post_deploy start" in log and "post_deploy end" in log
    # v2 answered while the 3-second post_deploy hook was still running.
    assert sum(1 for a in answers if a.startswith("stdlib v2")) >= 5, answers
    assert "post-deploy" not in shipway.cli("log", "post-deploy", "-p", "dep").stderr


def test_d9_worker_runs_with_its_own_mount_and_variables(shipway: Shipway, site: dict) -> None:
    url = str(site["url"])
    data = shipway.app_data("dep")
    beat = data / "worker-beater" / "mounts" / "data" / "worker-beat"
    wait_for(lambda: beat.exists() and beat.read_text().startswith("worker "))
    files = json.loads(shipway.fetch(url + "files")[1])
    assert "worker-beat" not in files["web_data"]  # each worker has its own local mount


def test_d9_crashed_web_process_restarts_with_backoff(shipway: Shipway, site: dict) -> None:
    url = str(site["url"])
    shipway.fetch(url + "crash", timeout=5)
    wait_for(lambda: "restarting in" in shipway.cli("log", "app", "-p", "dep").stdout)
    wait_for(lambda: shipway.fetch(url, timeout=5)[1].startswith("stdlib"), timeout=30)
    assert "exited with status 3" in shipway.cli("log", "app", "-p", "dep").stdout


def test_d3_tmp_mount_emptied_on_restart(shipway: Shipway, site: dict) -> None:
    files = json.loads(shipway.fetch(str(site["url"]) + "files")[1])
    assert files["tmp_mount"] == ["started"]


def test_d1_timeline_in_activity_json(shipway: Shipway, site: dict) -> None:
    activities = json.loads(shipway.cli("activity:list", "-p", "dep", "--format", "json").stdout)
    push_activity = next(a for a in activities if a["type"] == "environment.push")
    phases = [t["phase"] for t in push_activity["details"]["timeline"]]
    assert phases[:5] == ["Hold", "StopProcesses", "MountFileSystems", "ExposeServices",
                          "StartProcesses"]
    assert "deploy hook" in phases and "Serve" in phases and "post_deploy hook" in phases
    assert push_activity["details"]["deployed"] is True


def test_d6_failing_deploy_hook_still_deploys(shipway: Shipway, site: dict) -> None:
    repo: Path = site["repo"]  # type: ignore[assignment]
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace('echo "code is read-only"', 'echo "code is read-only"; exit 7'))
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v2"', '"v3"'))
    commit(repo, "failing deploy hook")
    out = push(repo, str(site["remote"]))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log  # deployed: the ref follows what serves
    assert "deploy hook of 'app' failed with status 7" in log
    assert shipway.fetch(str(site["url"]))[1].startswith("stdlib v3")
    activities = json.loads(shipway.cli("activity:list", "-p", "dep", "--format", "json").stdout)
    assert activities[0]["result"] == "failure"


START_HOOKS = """\
    pre_start: |
      echo "prepared by pre_start" > /app/data/pre-start.txt
    post_start: |
      for i in $(seq 100); do [ -f /app/data/pre-start.txt ] && break; sleep 0.05; done
      echo "post_start: $(cat /app/data/pre-start.txt), smtp=[${PLATFORM_SMTP_HOST-unset}]"
      echo "post_start knows start: $PLATFORM_APP_COMMAND"
"""


def test_upsun_pre_start_and_post_start_run_around_the_start(shipway: Shipway, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", STDLIB)
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace("    start: python3 app.py\n",
                                           "    start: python3 app.py\n" + START_HOOKS, 1))
    commit(repo, "start hooks")
    out = push(repo, shipway.create_project("starthooks"))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "post_start: prepared by pre_start, smtp=[]" in log, log
    assert "post_start knows start: python3 app.py" in log
    # post_start comes before the deploy hook, which comes before serving.
    assert log.index("post_start:") < log.index("deploy hook ran as") < log.index("Serving requests")
    assert shipway.fetch(shipway.url("starthooks"))[0] == 200
