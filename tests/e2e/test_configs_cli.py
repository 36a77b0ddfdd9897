"""C12 end to end: `activity:cancel -p P ID` and friends against a real control
plane; -p/-e taken from the repository's remote and branch when left out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import SHIPWAY, STDLIB, Shipway, make_repo, push

pytestmark = pytest.mark.e2e


def test_c12_activity_commands_take_p_and_e(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("clip")
    repo = make_repo(tmp_path / "r", STDLIB)
    assert push(repo, remote).returncode == 0
    (activity,) = [a for a in json.loads(shipway.cli("activity:list", "-p", "clip", "--format",
                                                     "json").stdout)][:1]
    out = shipway.cli("activity:cancel", "-p", "clip", "-e", "main", activity["id"], check=False)
    assert "No such option" not in out.stderr, out.stderr
    wrong = shipway.cli("activity:cancel", "-p", "other", activity["id"], check=False)
    assert wrong.returncode != 0 and "belongs to project 'clip'" in wrong.stderr, wrong.stderr
    got = json.loads(shipway.cli("activity:get", "-p", "clip", activity["id"], "--format", "json").stdout)
    assert got["id"] == activity["id"]
    assert "stdlib" in shipway.cli("activity:log", "-p", "clip", "-e", "main", activity["id"]).stdout
    # Inside the repository, -p and -e come from its shipway remote and branch.
    git_remote = subprocess.run(["git", "-C", str(repo), "remote", "add", "shipway", remote], check=True)
    assert git_remote.returncode == 0
    here = subprocess.run([*SHIPWAY, "environment:info", "--format", "json"], cwd=repo, env=shipway.env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert here.returncode == 0, here.stderr
    assert json.loads(here.stdout)["name"] == "main"
    assert "https://" in subprocess.run([*SHIPWAY, "environment:url", "--pipe"], cwd=repo, env=shipway.env,
                                        capture_output=True, text=True, timeout=60, check=True).stdout
