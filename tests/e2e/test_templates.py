"""Real Platform.sh-style projects with databases deploy unchanged (D4, issue 6):
the Django example on PostgreSQL, the Express example on MariaDB."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e



def visits(body: str) -> int:
    found = re.search(r'id="visits">(\d+)<|visits: (\d+)', body)
    assert found, body
    return int(found.group(1) or found.group(2))


def test_d4_django_on_postgresql(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("django")
    repo = make_repo(tmp_path / "django", "django")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    # C6a: its allocated port, and the standard one at the service's own address
    assert re.search(r"db \(postgresql:15\) on 127\.0\.0\.1:\d+, 127\.77\.[\d.]+:5432: started",
                     log), log
    assert "Applying visits.0001_initial" in log  # migrate ran in the deploy hook
    url = shipway.url("django")
    first = visits(shipway.fetch(url)[1])
    assert visits(shipway.fetch(url)[1]) == first + 1
    code, _ = shipway.fetch(url + "static/visits/style.css", "-D", "/dev/stderr")
    assert code == 200
    # The data survives a redeploy: the database runs per environment, not per release.
    shipway.cli("redeploy", "-p", "django")
    assert visits(shipway.fetch(url)[1]) == first + 2


def test_d4_express_on_mariadb_via_platformsh_config(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("express")
    repo = make_repo(tmp_path / "express", "express-mariadb")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("express")
    first = visits(shipway.fetch(url)[1])
    assert visits(shipway.fetch(url)[1]) == first + 1


def test_d4_app_without_relationship_cannot_reach_service(shipway: Shipway, tmp_path: Path) -> None:
    """Another project's build and app know the port, and are still refused by the platform."""
    port = _service_port(shipway, "django", "db")
    probe = (f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 3)\"")
    remote = shipway.create_project("intruder")
    repo = make_repo(tmp_path / "intruder", STDLIB)
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text()
                   .replace('echo "building stdlib app"',
                            f"{probe} && echo BUILD-REACHED || echo BUILD-BLOCKED")
                   .replace("    touch /app/code-write-attempt",
                            f"    {probe} && echo RUN-REACHED || echo RUN-BLOCKED\n"
                            "    touch /app/code-write-attempt"))
    commit(repo, "intruder")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert "BUILD-BLOCKED" in log and "RUN-BLOCKED" in log, log


def _service_port(shipway: Shipway, project: str, service: str) -> int:
    # Read from the state database: the test needs the port an attacker would guess.
    db = sqlite3.connect(shipway.home / "state" / "shipway.db")
    try:
        row = db.execute("SELECT port FROM ports WHERE project = ? AND app = ?",
                         (project, f"service:{service}")).fetchone()
    finally:
        db.close()
    return int(row[0])
