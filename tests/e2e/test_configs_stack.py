"""C8 end to end (must-hold 4): an Upsun app on a composable image with
`stack: ["nodejs@20", "python@3.11"]` builds with both and serves; bun from
the npm registry runs as a stack runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, commit, git, push

pytestmark = pytest.mark.e2e

ROUTES = "routes:\n  \"https://{default}/\":\n    type: upstream\n    upstream: \"app:http\"\n"


def upsun_repo(path: Path, app: str, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in {".upsun/config.yaml": f"applications:\n  app:\n{app}{ROUTES}", **files}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    commit(path, "composable app")
    return path


NODE_PYTHON = """    type: "composable:25.05"
    stack: ["nodejs@20", "python@3.11"]
    hooks:
      build: |
        echo "node is $(node --version)"
        echo "python is $(python3 --version)"
        python3 -c 'print("python runs", 6 * 7)'
    web:
      commands:
        start: node server.js
"""
SERVER = ("require('http').createServer((q, r) => r.end(`stack node ${process.version}`))"
          ".listen(process.env.PORT);\n")


def test_c8_stack_of_node_and_python_builds_with_both_and_serves(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("stack")
    out = push(upsun_repo(tmp_path / "r", NODE_PYTHON, {"server.js": SERVER}), remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "node is v20." in log and "python is Python 3.11." in log and "python runs 42" in log, log
    status, body = shipway.fetch(shipway.url("stack"))
    assert status == 200 and body.startswith("stack node v20."), body


BUN = """    stack:
      runtimes: ["bun@1", "python@3.11"]
    hooks:
      build: |
        echo "bun is $(bun --version)"
    web:
      commands:
        start: bun server.js
"""
BUN_SERVER = ("Bun.serve({port: Number(process.env.PORT), hostname: '127.0.0.1', "
              "fetch() { return new Response('bun ' + Bun.version); }});\n")


def test_c8_bun_from_the_npm_registry(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("bun")
    out = push(upsun_repo(tmp_path / "r", BUN, {"server.js": BUN_SERVER}), remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Installing bun 1." in log and "bun is 1." in log, log
    status, body = shipway.fetch(shipway.url("bun"))
    assert status == 200 and body.startswith("bun 1."), body


DENO = """    stack: ["deno"]
    hooks:
      build: |
        echo "deno is $(deno --version | head -1)"
    web:
      commands:
        start: deno run --allow-net --allow-env server.ts
"""
DENO_SERVER = ("Deno.serve({port: Number(Deno.env.get('PORT')), hostname: '127.0.0.1'}, "
               "() => new Response('deno ' + Deno.version.deno));\n")


def test_c8_deno_from_the_npm_registry(shipway: Shipway, tmp_path: Path) -> None:
    """upsun/demo-js writes a bare `deno`: its current major, fetched as @deno/linux-x64-glibc."""
    remote = shipway.create_project("deno")
    out = push(upsun_repo(tmp_path / "r", DENO, {"server.ts": DENO_SERVER}), remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Installing deno 2." in log and "deno is deno 2." in log, log
    status, body = shipway.fetch(shipway.url("deno"))
    assert status == 200 and body.startswith("deno 2."), body
