"""Environments (E1, E4) and cancelling a build (B8) on a real platform."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, git, make_repo, push

pytestmark = pytest.mark.e2e



@pytest.fixture(scope="module")
def proj(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    remote = shipway.create_project("envs")
    repo = make_repo(tmp_path_factory.mktemp("envs") / "repo", STDLIB)
    assert push(repo, remote).returncode == 0
    return {"remote": remote, "repo": repo}


def envs(shipway: Shipway) -> dict[str, dict]:
    data = json.loads(shipway.cli("environment:list", "-p", "envs", "--format", "json").stdout)
    return {e["name"]: e for e in data}


def test_e1_new_branch_is_inactive_until_activated(shipway: Shipway, proj: dict) -> None:
    repo: Path = proj["repo"]  # type: ignore[assignment]
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', '"feature"'))
    commit(repo, "feature work")
    out = git(repo, "push", str(proj["remote"]), "feature", check=False)
    assert out.returncode == 0
    assert "inactive" in out.stdout + out.stderr
    assert envs(shipway)["feature"]["status"] == "inactive"
    assert envs(shipway)["feature"]["type"] == "development"

    main_url = shipway.url("envs")
    failures: list[int] = []
    stop = threading.Event()

    dropped: list[int] = []

    def load_main() -> None:
        while not stop.is_set():
            code, _ = shipway.fetch(main_url, timeout=10)
            if code == 0:
                dropped.append(code)
            elif code != 200:
                failures.append(code)

    loader = threading.Thread(target=load_main)
    loader.start()
    try:
        out2 = shipway.cli("environment:activate", "feature", "-p", "envs")
    finally:
        stop.set()
        loader.join()
    assert "deploy hook ran as" in out2.stdout and "for development" in out2.stdout
    assert failures == []  # deploying one environment never interrupts another
    # The activation changes the router's config once. Caddy keeps its sockets
    # (router/caddy.py), but a connection it accepts in the instant its old
    # config shuts down can still be closed unanswered: 0.05 per reload in
    # bench/router_reload.py. More than one such drop is a regression.
    assert len(dropped) <= 1
    feature_url = shipway.url("envs", "feature")
    assert feature_url != main_url
    assert shipway.fetch(feature_url)[1].startswith("stdlib feature")
    assert shipway.fetch(main_url)[1].startswith("stdlib v1")
    git(repo, "checkout", "-q", "main")


def test_e1_type_staging_and_deactivate(shipway: Shipway, proj: dict) -> None:
    out = shipway.cli("environment:info", "-p", "envs", "-e", "feature", "type", "staging")
    assert "staging" in out.stdout
    assert shipway.cli("environment:info", "-p", "envs", "-e", "feature", "type").stdout.strip() == \
        "staging"
    redeploy = shipway.cli("redeploy", "-p", "envs", "-e", "feature")
    assert redeploy.returncode == 0
    url = shipway.url("envs", "feature")
    env_vars = json.loads(shipway.fetch(url + "env")[1])
    assert env_vars["PLATFORM_ENVIRONMENT_TYPE"] == "staging"
    refused = shipway.cli("environment:deactivate", "main", "-p", "envs", check=False)
    assert refused.returncode != 0 and "production" in refused.stderr
    shipway.cli("environment:deactivate", "feature", "-p", "envs")
    assert envs(shipway)["feature"]["status"] == "inactive"
    # No route is left for its host: no certificate either, and plain http gets a 404.
    host = url.split("://", 1)[1].split(":", 1)[0]
    assert shipway.fetch(f"http://{host}:{shipway.env['SHIPWAY_HTTP_PORT']}/")[0] == 404
    assert shipway.fetch(shipway.url("envs"))[0] == 200


def test_e1_branch_creates_and_deploys(shipway: Shipway, proj: dict) -> None:
    out = shipway.cli("environment:branch", "dev2", "main", "-p", "envs")
    assert "Reusing existing build for this tree ID" in out.stdout
    env = envs(shipway)["dev2"]
    assert env["status"] == "active" and env["parent"] == "main"
    assert shipway.fetch(shipway.url("envs", "dev2"))[1].startswith("stdlib v1")
    again = shipway.cli("environment:branch", "dev2", "main", "-p", "envs", check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_b8_cancel_stuck_build_within_2s(shipway: Shipway, proj: dict) -> None:
    repo: Path = proj["repo"]  # type: ignore[assignment]
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace('echo "building stdlib app"', 'echo stuck; sleep 300'))
    commit(repo, "stuck build")
    result: dict[str, object] = {}
    pusher = threading.Thread(target=lambda: result.update(out=push(repo, str(proj["remote"]))))
    pusher.start()
    activity = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and activity is None:
        data = json.loads(shipway.cli("activity:list", "-p", "envs", "--format", "json").stdout)
        running = [a for a in data if a["state"] == "in_progress" and a["environment"] == "main"]
        if running and "stuck" in shipway.cli("activity:log", running[0]["id"]).stdout:
            activity = running[0]["id"]
        time.sleep(0.3)
    assert activity, "the build never reached its hook"
    started = time.monotonic()
    shipway.cli("activity:cancel", activity)
    pusher.join(timeout=30)
    assert time.monotonic() - started < 5
    out = result["out"]
    assert out.returncode != 0  # type: ignore[attr-defined]
    assert "cancelled" in out.stdout + out.stderr  # type: ignore[attr-defined]
    final = json.loads(shipway.cli("activity:list", "-p", "envs", "--format", "json").stdout)
    assert next(a for a in final if a["id"] == activity)["result"] == "cancelled"
    assert shipway.fetch(shipway.url("envs"))[1].startswith("stdlib v1")
    done = shipway.cli("activity:cancel", activity, check=False)
    assert done.returncode != 0 and "already completed" in done.stderr


def test_e4_concurrent_pushes_never_deploy_and_reject(shipway: Shipway, proj: dict,
                                                      tmp_path: Path) -> None:
    """Two clones push different commits to main at once: one deploys, the other is refused
    before it deploys, and what serves is what the branch says."""
    remote = str(proj["remote"])
    clones = []
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", remote, str(clone))
        app = clone / "app.py"
        app.write_text(app.read_text().replace('VERSION = "v1"', f'VERSION = "race-{name}"'))
        commit(clone, f"race {name}")
        clones.append(clone)
    results: dict[str, object] = {}
    threads = [threading.Thread(target=lambda c=c: results.update({c.name: push(c, remote)}))
               for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = {name: r.returncode for name, r in results.items()}  # type: ignore[attr-defined]
    assert sorted(outcomes.values())[0] == 0 and sorted(outcomes.values())[1] != 0, results
    winner = next(n for n, code in outcomes.items() if code == 0)
    loser_log = results[next(n for n in outcomes if n != winner)]
    assert "Serving requests" not in loser_log.stdout + loser_log.stderr  # type: ignore[attr-defined]
    head = git(Path(remote), "rev-parse", "main").stdout.strip()
    served = shipway.fetch(shipway.url("envs"))[1]
    assert served.startswith(f"stdlib race-{winner}"), served
    assert head == git(tmp_path / winner, "rev-parse", "HEAD").stdout.strip()


def test_e2_merge_moves_code_up_never_data(shipway: Shipway, proj: dict, tmp_path: Path) -> None:
    remote = str(proj["remote"])
    clone = tmp_path / "merge"
    git(tmp_path, "clone", "-q", "-b", "main", remote, str(clone))  # dev2 is behind main
    app = clone / "app.py"
    app.write_text(app.read_text().replace('VERSION = "', 'VERSION = "merged-'))
    commit(clone, "work on dev2")
    out = git(clone, "push", remote, "HEAD:dev2", check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    (shipway.app_data("envs", env="dev2") / "mounts" / "data" / "dev-only.txt").write_text("x")
    merged = shipway.cli("merge", "-p", "envs", "-e", "dev2")
    assert merged.returncode == 0
    assert shipway.fetch(shipway.url("envs"))[1].startswith("stdlib merged-")
    assert not (shipway.app_data("envs") / "mounts" / "data" / "dev-only.txt").exists()
    access = shipway.cli("log", "access", "-p", "envs", "-e", "main").stdout
    assert " GET " in access and " 200 " in access
