"""App-to-app relationships (issue 6): `api: "backend:http"` reaches the other app.

Two dependency-free apps in `.platform/applications.yaml`: only `frontend` is
routed; it answers with what it fetched from `backend` through the
relationship's host and port, exactly as PLATFORM_RELATIONSHIPS gives them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, commit, git, push

pytestmark = pytest.mark.e2e

APPLICATIONS = """\
- name: backend
  type: "python:3.11"
  source:
    root: backend
  web:
    commands:
      start: python3 server.py
- name: frontend
  type: "python:3.11"
  source:
    root: frontend
  relationships:
    api: "backend:http"
  web:
    commands:
      start: python3 server.py
"""

# One small server for both apps: ANSWER is the body, SETUP runs first.
SERVER = """\
import base64, http.server, json, os, urllib.request
SETUP

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (ANSWER).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

BACKEND = SERVER.replace("SETUP", "").replace("ANSWER", "f\"backend at {self.headers['Host']}\"")

FRONTEND = SERVER.replace("SETUP", """\
api = json.loads(base64.b64decode(os.environ["PLATFORM_RELATIONSHIPS"]))["api"][0]

def fetched():
    url = f"{api['scheme']}://{api['host']}:{api['port']}/"
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read().decode()
""").replace("ANSWER", "f\"frontend got: {fetched()} (API_URL={os.environ['API_URL']})\"")

ROUTES = '"https://{default}/":\n  type: upstream\n  upstream: "frontend:http"\n'


def two_apps(path: Path, backend_family: str = "tcp") -> Path:
    files = {
        ".platform/applications.yaml": APPLICATIONS,
        ".platform/routes.yaml": ROUTES,
        "backend/server.py": BACKEND,
        "frontend/server.py": FRONTEND,
    }
    if backend_family != "tcp":
        files[".platform/applications.yaml"] = APPLICATIONS.replace(
            "      start: python3 server.py\n- name: frontend",
            f"      start: python3 server.py\n    upstream:\n      socket_family: {backend_family}\n"
            "- name: frontend", 1)
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    commit(path, "two apps")
    return path


def test_app_relationship_reaches_the_other_app(shipway: Shipway, tmp_path: Path) -> None:
    out = push(two_apps(tmp_path / "r"), shipway.create_project("duo"))
    assert out.returncode == 0, out.stdout + out.stderr
    code, body = shipway.fetch(shipway.url("duo"))
    assert code == 200, body
    assert body.startswith("frontend got: backend at api.internal:"), body
    assert "API_URL=http://api.internal:" in body


def test_app_relationship_to_a_unix_socket_app_says_what_to_change(
        shipway: Shipway, tmp_path: Path) -> None:
    out = push(two_apps(tmp_path / "r", backend_family="unix"), shipway.create_project("duounix"))
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "app 'backend' listens on a unix socket" in log and "socket_family: tcp" in log, log
