"""Runtime and service versions (issue 6, C3): clear errors, and the nearest policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e



def stdlib_repo(path: Path, type_: str, services: str = "") -> Path:
    repo = make_repo(path, STDLIB)
    cfg = repo / ".platform.app.yaml"
    text = cfg.read_text().replace('type: "python:3.11"', f'type: "{type_}"')
    if services:
        (repo / ".platform").mkdir()
        (repo / ".platform" / "services.yaml").write_text(services)
        text = text.replace("mounts:", "relationships:\n  cache: \"cache:redis\"\nmounts:")
    cfg.write_text(text)
    commit(repo, f"app on {type_}")
    return repo


def test_c3_runtime_list_shows_host_runtimes(shipway: Shipway) -> None:
    found = json.loads(shipway.cli("runtime:list", "--format", "json").stdout)
    assert any(r["language"] == "python" and r["version"].startswith("3.11") for r in found)
    assert any(r["language"] == "nodejs" for r in found)


def test_c3_missing_runtime_fails_before_build_with_the_choices(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("oldpy")
    out = push(stdlib_repo(tmp_path / "r", "python:3.4"), remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "3.4" in log and "3.11" in log, log
    assert "Executing build hook" not in log


def test_d4_missing_service_version_then_nearest_policy(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("newredis")
    repo = stdlib_repo(tmp_path / "r", "python:3.11", "cache:\n  type: redis:6.0\n")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "redis" in log and "6.0" in log and "7" in log, log
    shipway.cli("project:info", "-p", "newredis", "version_policy", "nearest")
    assert shipway.cli("project:info", "-p", "newredis", "version_policy").stdout.strip() == "nearest"
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "W: " in log and "6.0" in log
    assert shipway.fetch(shipway.url("newredis"))[0] == 200
