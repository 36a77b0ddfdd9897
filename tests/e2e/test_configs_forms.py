"""C10 end to end: a repository with both .platform/ and .upsun/ deploys .upsun/
(with a warning), `dependencies.python` is installed and on PATH, and the
WordPress look-behind rule runs in the real router: a.jpg served, x-lock.jpg not."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Shipway, commit, git, push

pytestmark = pytest.mark.e2e

WORDPRESS_RULE = r"(?<!\-lock)\.(?i:jpe?g|gif|png|svg|bmp|ico|css|js(?:on)?)$"

UPSUN = f"""applications:
  site:
    type: "python:3.11"
    dependencies:
      python:
        six: "*"
    hooks:
      build: |
        python3 -c "import six; print('six importable', six.__version__)"
    web:
      commands:
        start: python3 server.py
      locations:
        /:
          root: public
          passthru: true
          allow: false
          rules:
            '{WORDPRESS_RULE}':
              allow: true
routes:
  "https://{{default}}/":
    type: upstream
    upstream: "site:http"
"""

SERVER = """import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"from the app"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def both_repo(path: Path) -> Path:
    files = {
        ".upsun/config.yaml": UPSUN,
        ".platform.app.yaml": "name: legacy\ntype: python:3.11\n",  # invalid: no start; not read
        ".platform/routes.yaml": "{}\n",
        "server.py": SERVER,
        "public/a.jpg": "JPEG a",
        "public/x-lock.jpg": "JPEG lock",
    }
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    commit(path, "both configurations")
    return path


def test_c10_both_dirs_dependencies_python_and_look_behind_rule(shipway: Shipway, tmp_path: Path) -> None:
    remote = shipway.create_project("forms")
    out = push(both_repo(tmp_path / "r"), remote)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "both .platform (Platform.sh) and .upsun (Upsun)" in log and "deploying .upsun/" in log, log
    assert "Installing python build dependencies: six" in log and "six importable" in log, log
    url = shipway.url("forms")
    assert shipway.fetch(url + "a.jpg") == (200, "JPEG a")
    status, body = shipway.fetch(url + "x-lock.jpg")
    assert body != "JPEG lock" and body == "from the app", (status, body)
    assert shipway.fetch(url + "sub/page")[1] == "from the app"
