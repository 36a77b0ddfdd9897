"""Redeploy (D8), variables (E3, B2) and rollback (R2) on a real deployed app."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import SHIPWAY, Shipway, commit, git, make_repo, push

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    remote = shipway.create_project("rel")
    repo = make_repo(tmp_path_factory.mktemp("rel") / "repo", "python-flask")
    git(repo, "remote", "add", "shipway", remote)
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    return {"remote": remote, "repo": repo}


def in_repo(shipway: Shipway, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI inside the repo, without -p: the project comes from its git remote."""
    return subprocess.run([*SHIPWAY, *args], env=shipway.env, cwd=repo, capture_output=True,
                          text=True, check=False, timeout=300)


def deploys_log(shipway: Shipway) -> str:
    return shipway.fetch(shipway.url("rel") + "deploys")[1]


def test_d8_redeploy_runs_only_post_deploy(shipway: Shipway, app: dict) -> None:
    before = deploys_log(shipway)
    out = shipway.cli("redeploy", "-p", "rel", "-e", "main")
    assert "Reusing existing build for this tree ID" in out.stdout
    assert "post_deploy" in out.stdout
    assert "Running hook (app: deploy)" not in out.stdout
    assert deploys_log(shipway) == before  # the deploy hook appends a line each time it runs
    assert shipway.fetch(shipway.url("rel"))[0] == 200


def test_b2_e3_rebuild_date_seed_commands_force_rebuilds(shipway: Shipway, app: dict) -> None:
    repo: Path = app["repo"]  # type: ignore[assignment]
    created = in_repo(shipway, repo, "variable:create", "-l", "environment", "-e", "main",
                      "--prefix", "env:", "--name", "REBUILD_DATE", "--value", "one",
                      "--visible-build", "true")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Rebuilding: variable env:REBUILD_DATE changed" in created.stdout
    assert "Executing build hook..." in created.stdout
    updated = in_repo(shipway, repo, "variable:update", "-e", "main", "--value", "two",
                      "env:REBUILD_DATE")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "Rebuilding: variable env:REBUILD_DATE changed" in updated.stdout


def test_e3_runtime_variable_restarts_without_build_or_deploy_hook(
        shipway: Shipway, app: dict) -> None:
    before = deploys_log(shipway)
    out = shipway.cli("variable:create", "-p", "rel", "-e", "main", "-l", "environment",
                      "--prefix", "env:", "--name", "GREETING", "--value", "hi from a variable")
    assert "Reusing existing build for this tree ID" in out.stdout
    assert "Running hook (app: deploy)" not in out.stdout
    assert shipway.fetch(shipway.url("rel"))[1].startswith("python-flask example: hi from a variable")
    assert deploys_log(shipway) == before


def test_e3_sensitive_value_never_shown(shipway: Shipway, app: dict) -> None:
    out = shipway.cli("variable:create", "-p", "rel", "-e", "main", "-l", "environment",
                      "--prefix", "env:", "--name", "API_KEY", "--value", "s3cr3t-value",
                      "--sensitive", "true")
    listed = shipway.cli("variable:list", "-p", "rel", "-e", "main", "--format", "json").stdout
    releases = shipway.cli("release:list", "-p", "rel", "-e", "main", "--format", "json").stdout
    assert "s3cr3t-value" not in out.stdout + listed + releases
    activity_logs = "".join(p.read_text() for p in (shipway.home / "activities").glob("*.log"))
    assert "s3cr3t-value" not in activity_logs


def test_e3_project_level_change_says_redeploy_needed(shipway: Shipway, app: dict) -> None:
    out = shipway.cli("variable:create", "-p", "rel", "-l", "project", "--name", "misc:x",
                      "--value", "1")
    assert "must be redeployed" in out.stdout


def test_r2_rollback_restores_code_keeps_mount_data(shipway: Shipway, app: dict) -> None:
    repo: Path = app["repo"]  # type: ignore[assignment]
    url = shipway.url("rel")
    shipway.fetch(url + "notes", "-X", "POST", "--data-binary", "before-rollback")
    (repo / "app.py").write_text((repo / "app.py").read_text().replace(
        "python-flask example:", "python-flask NEW:"))
    commit(repo, "new code")
    assert push(repo, str(app["remote"])).returncode == 0
    assert shipway.fetch(url)[1].startswith("python-flask NEW:")
    releases = json.loads(shipway.cli("release:list", "-p", "rel", "--format", "json").stdout)
    out = shipway.cli("rollback", "-p", "rel", "-e", "main")
    assert "Executing build hook" not in out.stdout and "Building application" not in out.stdout
    body = shipway.fetch(url)[1]
    assert body.startswith("python-flask example: hi from a variable"), body
    assert "before-rollback" in shipway.fetch(url + "notes")[1]
    after = json.loads(shipway.cli("release:list", "-p", "rel", "--format", "json").stdout)
    assert len(after) == len(releases) + 1 and after[0]["trigger"].startswith("rollback to v")
    again = shipway.cli("rollback", releases[0]["id"], "-p", "rel", "-e", "main")
    assert again.returncode == 0
    assert shipway.fetch(url)[1].startswith("python-flask NEW:")


def test_r2_rollback_errors_are_clear(shipway: Shipway, app: dict) -> None:
    out = shipway.cli("rollback", "v999", "-p", "rel", "-e", "main", check=False)
    assert out.returncode != 0 and "release" in out.stderr
    out = shipway.cli("rollback", "banana", "-p", "rel", "-e", "main", check=False)
    assert out.returncode != 0 and "v3" in out.stderr
