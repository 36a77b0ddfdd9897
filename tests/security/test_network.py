"""S4/S5/S6 attacks on the network and uid boundary, against a real shipway.

Project `victim` runs a TCP app; project `mallory` runs an app (and a build
hook) that tries to reach it on 127.0.0.1 directly, skipping the router.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Shipway, commit, git, push
from tests.e2e.test_app_relationships import two_apps

pytestmark = pytest.mark.e2e

# Answers with its port and uid; `/?port=N` tries 127.0.0.1:N and says what happened.
PROBE_APP = """\
import http.server, os, socket, urllib.parse

def probe(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            return "connected: " + s.makefile().read().split("\\n\\n")[-1]
    except OSError as e:
        return f"refused: {e!r}"

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if "port" in query:
            body = probe(int(query["port"][0]))
        else:
            body = f"NAME port {os.environ['PORT']} uid {os.getuid()}"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

APP_YAML = """\
name: app
type: "python:3.11"
hooks:
  build: |
    python3 build_probe.py
web:
  commands:
    start: python3 server.py
"""

BUILD_PROBE = """\
import socket
port = int(open("target_port").read())
try:
    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    print(f"build-probe: connected to {port}")
except OSError as e:
    print(f"build-probe: refused {port}: {e!r}")
"""


def probe_repo(path: Path, name: str, target_port: int = 1) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    files = {".platform.app.yaml": APP_YAML, "server.py": PROBE_APP.replace("NAME", name),
             "build_probe.py": BUILD_PROBE, "target_port": str(target_port)}
    for rel, text in files.items():
        (path / rel).write_text(text)
    commit(path, name)
    return path


def deployed(shipway: Shipway, repo: Path, project: str) -> str:
    out = push(repo, shipway.create_project(project))
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


def answer(shipway: Shipway, project: str, query: str = "", env: str = "main") -> str:
    code, body = shipway.fetch(shipway.url(project, env) + query)
    assert code == 200, body
    return body


def port_of(body: str) -> int:
    return int(body.split(" port ", 1)[1].split()[0])


def uid_of(body: str) -> int:
    return int(body.split(" uid ", 1)[1].split()[0])


@pytest.fixture(scope="module")
def victim(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    deployed(shipway, probe_repo(tmp_path_factory.mktemp("v") / "r", "victim"), "victim")
    body = answer(shipway, "victim")
    return {"port": port_of(body), "uid": uid_of(body), "body": body}


def test_another_projects_app_cannot_reach_an_app_port_directly(
        shipway: Shipway, victim: dict, tmp_path: Path) -> None:
    port = int(victim["port"])
    log = deployed(shipway, probe_repo(tmp_path / "r", "mallory", port), "mallory")
    mallory = answer(shipway, "mallory")
    assert uid_of(mallory) != victim["uid"]
    # The probe itself works: mallory reaches its own port...
    assert answer(shipway, "mallory", f"/?port={port_of(mallory)}").startswith("connected: mallory")
    # ...but not the victim's, from its app or from its build.
    assert answer(shipway, "mallory", f"/?port={port}").startswith("refused:")
    assert f"build-probe: refused {port}" in log, log
    # Nothing changed for the victim: the router still serves it, the same process.
    assert answer(shipway, "victim") == victim["body"]


def test_a_host_user_cannot_reach_an_app_port_directly(shipway: Shipway, victim: dict) -> None:
    code = ("import socket,sys\ntry:\n socket.create_connection(('127.0.0.1', int(sys.argv[1])),"
            " timeout=5).close(); print('connected')\nexcept OSError as e: print('refused', e)\n")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          sys.executable, "-c", code, str(victim["port"])],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.stdout.startswith("refused"), out.stdout + out.stderr
    assert answer(shipway, "victim") == victim["body"]


def test_a_declared_relationship_still_reaches_the_other_app(shipway: Shipway,
                                                              tmp_path: Path) -> None:
    deployed(shipway, two_apps(tmp_path / "r"), "duo")
    assert answer(shipway, "duo").startswith("frontend got: backend at api.internal:")


def test_a_deactivated_environments_slot_and_uids_are_reused(
        shipway: Shipway, victim: dict, tmp_path: Path) -> None:
    def env_uid(env: str) -> int:
        return uid_of(answer(shipway, "victim", env=env))

    shipway.cli("environment:branch", "one", "main", "-p", "victim")
    shipway.cli("environment:branch", "two", "main", "-p", "victim")
    one, two = env_uid("one"), env_uid("two")
    assert len({one, two, victim["uid"]}) == 3
    shipway.cli("environment:deactivate", "one", "-p", "victim")
    shipway.cli("environment:branch", "three", "main", "-p", "victim")
    assert env_uid("three") == one  # the freed slot, not a new one past `two`
    assert env_uid("two") == two and answer(shipway, "victim") == victim["body"]
    listing = json.loads(shipway.cli("environment:list", "-p", "victim", "--format",
                                     "json").stdout)
    assert {e["name"]: e["status"] for e in listing}["one"] == "inactive"
    # Reactivated, `one` takes the lowest slot free now: a new uid, never one in use.
    shipway.cli("environment:activate", "one", "-p", "victim")
    assert env_uid("one") not in {one, two, victim["uid"]}
