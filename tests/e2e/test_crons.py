"""D10: crons run on schedule as activities; a deploy stops a cron that runs too long."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e

SHIPWAY_EXTRA_ENV = {"SHIPWAY_CRON_DEPLOY_WAIT": "2"}

CRONS = """
crons:
  ticker:
    spec: "* * * * *"
    commands:
      start: |
        echo "cron ran in $PLATFORM_ENVIRONMENT" >> /app/data/cron.log
        echo "cron started"
        sleep 120
"""


def cron_activities(shipway: Shipway) -> list[dict]:
    out = shipway.cli("activity:list", "-p", "cron", "--format", "json").stdout
    return [a for a in json.loads(out) if a["type"] == "environment.cron"]


def test_d10_cron_runs_then_deploy_stops_it(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("cron")
    repo = make_repo(tmp_path / "repo", STDLIB)
    (repo / ".platform.app.yaml").write_text((repo / ".platform.app.yaml").read_text() + CRONS)
    commit(repo, "app with a cron")
    assert push(repo, remote).returncode == 0
    deadline = time.monotonic() + 75
    while time.monotonic() < deadline and not cron_activities(shipway):
        time.sleep(1)
    running = cron_activities(shipway)
    assert running, "the every-minute cron did not start within 75 s"
    cron_id = running[0]["id"]
    log = shipway.cli("activity:log", cron_id).stdout
    assert "cron started" in log

    (repo / "app.py").write_text((repo / "app.py").read_text().replace('"v1"', '"v2"'))
    commit(repo, "v2")
    started = time.monotonic()
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    assert time.monotonic() - started < 30
    assert "Waiting up to 2 s for 1 running cron(s)" in out.stdout + out.stderr
    stopped = next(a for a in cron_activities(shipway) if a["id"] == cron_id)
    assert stopped["result"] == "cancelled"
    assert "stopped: a deploy of this environment needed it" in shipway.cli(
        "activity:log", cron_id).stdout
    assert shipway.fetch(shipway.url("cron"))[1].startswith("stdlib v2")
