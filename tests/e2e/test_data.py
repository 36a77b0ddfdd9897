"""E2: a new environment's data is cloned from its parent (mounts and a real PostgreSQL),
then independent; rollback --with-data brings back the data as it was before a deploy hook."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from .conftest import Shipway, commit, push, stdlib_with_postgres

pytestmark = pytest.mark.e2e

def sql(shipway: Shipway, env: str, statement: str) -> str:
    """Run SQL as root on the host (root may reach every service) with the app's credentials."""
    variables = json.loads(shipway.fetch(shipway.url("data", env) + "env")[1])
    db = json.loads(base64.b64decode(variables["PLATFORM_RELATIONSHIPS"]))["database"][0]
    url = f"postgresql://{db['username']}:{db['password']}@{db['ip']}:{db['port']}/{db['path']}"
    out = subprocess.run(["psql", "-qtA", url, "-c", statement], capture_output=True, text=True,
                         check=True, timeout=30)
    return out.stdout.strip()


def rows(shipway: Shipway, env: str) -> list[str]:
    return sorted(sql(shipway, env, "select v from t").split())


@pytest.fixture(scope="module")
def proj(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    remote = shipway.create_project("data")
    repo = stdlib_with_postgres(tmp_path_factory.mktemp("data") / "repo")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    sql(shipway, "main", "create table t (v text); insert into t values ('parent-1')")
    (shipway.app_data("data") / "mounts" / "data" / "upload.txt").write_text("from main\n")
    return {"remote": remote, "repo": repo}


def test_e2_branch_clones_parent_data_then_independent(shipway: Shipway, proj: dict) -> None:
    out = shipway.cli("environment:branch", "child", "main", "-p", "data")
    assert "Data: cloned from 'main'" in out.stdout and "btrfs" in out.stdout, out.stdout
    assert rows(shipway, "child") == ["parent-1"]
    child_file = shipway.app_data("data", env="child") / "mounts" / "data" / "upload.txt"
    assert child_file.read_text() == "from main\n"
    sql(shipway, "child", "insert into t values ('child-1')")
    sql(shipway, "main", "insert into t values ('parent-2')")
    assert rows(shipway, "child") == ["child-1", "parent-1"]
    assert rows(shipway, "main") == ["parent-1", "parent-2"]


def test_rollback_with_data_restores_before_the_deploy_hook(shipway: Shipway, proj: dict) -> None:
    repo: Path = proj["repo"]  # type: ignore[assignment]
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace(
        '    echo "deploy hook ran',
        '    PGPASSWORD=$DATABASE_PASSWORD psql -h $DATABASE_HOST -p $DATABASE_PORT '
        '-U $DATABASE_USERNAME $DATABASE_PATH -c "delete from t" || echo no psql\n'
        '    echo "deploy hook ran'))
    commit(repo, "a destructive migration")
    out = push(repo, str(proj["remote"]))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Data: snapshot 'pre-" in log
    if "no psql" in log:
        sql(shipway, "main", "delete from t")  # psql not in the sandbox: do the migration here
    assert rows(shipway, "main") == []
    plain = shipway.cli("rollback", "-p", "data", "-e", "main")
    assert plain.returncode == 0 and rows(shipway, "main") == []  # code only
    back = shipway.cli("rollback", "v1", "--with-data", "-p", "data", "-e", "main")
    assert "Data: restored" in back.stdout, back.stdout
    assert rows(shipway, "main") == ["parent-1", "parent-2"]
    assert rows(shipway, "child") == ["child-1", "parent-1"]  # other environments untouched


def test_e2_sync_data_recopies_the_parent(shipway: Shipway, proj: dict) -> None:
    out = shipway.cli("sync", "data", "-p", "data", "-e", "child")
    assert "Data: synchronized from 'main'" in out.stdout, out.stdout
    assert rows(shipway, "child") == rows(shipway, "main")
    refused = shipway.cli("sync", "data", "-p", "data", "-e", "main", check=False)
    assert refused.returncode != 0 and "no parent" in refused.stderr
