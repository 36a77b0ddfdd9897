"""C9 end to end: a provisioned Node.js major gets an npm that supports it and
its own headers for native builds (Node 14: npm 11 from the host crashes on it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Shipway, commit, git, push

pytestmark = pytest.mark.e2e

APP = """name: app
type: "nodejs:14"
hooks:
  build: |
    echo "node $(node --version) npm $(npm --version)"
    test -f "$npm_config_nodedir/include/node/node.h" && echo "headers at $npm_config_nodedir"
    npm install --no-audit --no-fund is-number@7
    node -e 'console.log("is-number", require("is-number")(5))'
web:
  commands:
    start: node server.js
"""
ROUTES = "\"https://{default}/\":\n  type: upstream\n  upstream: \"app:http\"\n"
SERVER = ("require('http').createServer((q, r) => r.end(`node ${process.version}`))"
          ".listen(process.env.PORT);\n")


def test_c9_node_14_gets_npm_6_and_its_own_headers(shipway: Shipway, tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for name, text in {".platform.app.yaml": APP, ".platform/routes.yaml": ROUTES,
                       "server.js": SERVER, "package.json": json.dumps({"name": "x", "version": "1.0.0"})
                       }.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    commit(repo, "node 14")
    out = push(repo, shipway.create_project("node14"))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "node v14." in log and "npm 6." in log, log
    assert "headers at /run/shipway/runtimes/nodejs-14." in log, log
    assert "is-number true" in log, log
    assert shipway.fetch(shipway.url("node14"))[1].startswith("node v14.")
