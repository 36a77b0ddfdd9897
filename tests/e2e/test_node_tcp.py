"""The Node.js example: default npm flavor, a TCP upstream behind the nftables gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Shipway, commit, make_repo, push

pytestmark = pytest.mark.e2e


def test_b1b_d1_node_example_builds_with_npm_and_serves_over_tcp(
        shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("nodeshop")
    repo = make_repo(tmp_path / "node", "node-express")
    out = push(repo, remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Found a `package.json`, installing dependencies." in log
    url = shipway.url("nodeshop")
    code, body = shipway.fetch(url)
    assert code == 200, body
    assert body.startswith("node-express example")
    info = json.loads(shipway.fetch(url + "build-info")[1])
    assert info  # written by the build hook, frozen into the artifact
    writes = json.loads(shipway.fetch(url + "writes")[1])
    assert writes == {"code_write": "EROFS", "mount_write": "ok"}


def test_d1_tcp_app_redeploy_serves_new_code(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("nodetwo")
    repo = make_repo(tmp_path / "node2", "node-express")
    assert push(repo, remote).returncode == 0
    server = repo / "server.js"
    server.write_text(server.read_text().replace("node-express example", "node-express v2"))
    commit(repo, "v2")
    out = push(repo, remote)
    assert out.returncode == 0, out.stdout + out.stderr
    assert shipway.fetch(shipway.url("nodetwo"))[1].startswith("node-express v2")
