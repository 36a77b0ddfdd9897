"""Attacks on issue 12's new surfaces, pushed to a real shipway: stack entries
that try paths or shell, a huge stack, a rule pattern built to backtrack, and
a service's standard-port address probed by a user it does not serve."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Shipway, commit, git, push, stdlib_with_postgres

pytestmark = pytest.mark.e2e

ROUTES = "routes:\n  \"https://{default}/\":\n    type: upstream\n    upstream: \"app:http\"\n"


def upsun(path: Path, app: str, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    config = {".upsun/config.yaml": f"applications:\n  app:\n{app}{ROUTES}"}
    for name, text in {**config, **(files or {})}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    commit(path, "attack")
    return path


@pytest.mark.parametrize(("stack", "says"), [
    ('["../../bin@1"]', "is not a runtime written name@version"),
    ('["nodejs@20", "$(touch /tmp/shipway-pwned)"]', "is not a package name"),
    ('["python@3.11", "--registry=http://127.0.0.1:1/"]', "is not a package name"),
    ('["nodejs@20;id"]', "is not a runtime written name@version"),
    ("[" + ", ".join(['"yarn"'] * 5000) + ', "python@3.11"]', "at most 32 entries"),
])
def test_stack_entries_that_attack_are_refused_at_validation(shipway: Shipway, tmp_path: Path,
                                                             stack: str, says: str) -> None:
    app = f"    stack: {stack}\n    web:\n      commands:\n        start: sleep 1000\n"
    out = push(upsun(tmp_path / "r", app), shipway.create_project(f"st{abs(hash(stack)) % 10**8}"))
    log = out.stdout + out.stderr
    assert out.returncode != 0 and says in log, log
    assert ".upsun/config.yaml:" in log  # file:line
    assert not Path("/tmp/shipway-pwned").exists()
    assert "Building application" not in log


def test_a_backtracking_rule_is_served_in_linear_time(shipway: Shipway, tmp_path: Path) -> None:
    """`(x+x+)+y` takes exponential time in a backtracking engine; the router's
    RE2 answers at once. A look-behind followed by such a pattern cannot be
    rewritten exactly and is refused with the reason, not run."""
    rule = "            '(x+x+)+y$': {allow: true}\n"
    app = ("    type: python:3.11\n    web:\n      commands:\n        start: python3 server.py\n"
           "      locations:\n        /:\n          root: public\n          passthru: true\n"
           "          allow: false\n          rules:\n" + rule)
    server = ("import os\nfrom http.server import BaseHTTPRequestHandler as B, HTTPServer as S\n"
              "class H(B):\n def do_GET(s):\n  s.send_response(200); s.end_headers(); s.wfile.write(b'app')\n"
              "S(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n")
    files = {"server.py": server, "public/xxy": "file"}
    bad = app.replace(rule, rule + "            '(?<!z)(x+x+)+\\.css$': {allow: true}\n")
    refused = push(upsun(tmp_path / "bad", bad, files), shipway.create_project("redosbad"))
    assert refused.returncode != 0 and "bounded" in refused.stdout + refused.stderr
    out = push(upsun(tmp_path / "r", app, files), shipway.create_project("redos"))
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("redos")
    start = time.monotonic()
    status, body = shipway.fetch(url + "x" * 5000 + "!")
    assert time.monotonic() - start < 5 and status == 200 and body == "app"
    assert shipway.fetch(url + "xxy") == (200, "file")


def test_a_service_standard_address_refuses_users_it_does_not_serve(shipway: Shipway,
                                                                     tmp_path: Path) -> None:
    out = push(stdlib_with_postgres(tmp_path / "r"), shipway.create_project("stdvictim"))
    assert out.returncode == 0, out.stdout + out.stderr
    env = json.loads(shipway.fetch(shipway.url("stdvictim") + "env")[1])
    db = json.loads(base64.b64decode(env["PLATFORM_RELATIONSHIPS"]))["database"][0]
    assert db["port"] == 5432
    code = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1], 5432), timeout=5).close();"
            " print('connected')\nexcept OSError as e: print('refused', e)\n")
    nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             sys.executable, "-c", code, db["ip"]],
                            capture_output=True, text=True, timeout=30, check=False)
    assert nobody.stdout.startswith("refused"), nobody.stdout + nobody.stderr
    root = subprocess.run([sys.executable, "-c", code, db["ip"]], capture_output=True, text=True,
                          timeout=30, check=False)
    assert root.stdout.startswith("connected"), root.stdout + root.stderr
