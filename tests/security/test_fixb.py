"""Review findings fixed late in issue 9, as attacks against a real shipway.

S4: an app that puts a symlink to another tenant's socket where its own
app.sock was must never have its route answered by that tenant.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Shipway, commit, git, push, wait_for

pytestmark = pytest.mark.e2e

UNIX_CONFIG = ('name: app\ntype: "python:3.11"\nweb:\n  commands:\n    start: python3 server.py\n'
               "  upstream:\n    socket_family: unix\n")

VICTIM_APP = """\
import http.server, socketserver, os

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

class Handler(http.server.BaseHTTPRequestHandler):
    def address_string(self):
        return "unix"
    def do_GET(self):
        data = b"victim's secret page"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

Server(os.environ["SOCKET"], Handler).serve_forever()
"""

# `/swap?to=PATH` (after its gate opened): stop serving and leave a symlink to
# PATH where its socket was. With SWAP_AT_START set, it does so right after
# binding, before the deploy opens its gate.
MALLORY_APP = """\
import http.server, os, socketserver, threading, time, urllib.parse

SOCKET = os.environ["SOCKET"]

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

def swap(to):
    os.unlink(SOCKET)
    os.symlink(to, SOCKET)

class Handler(http.server.BaseHTTPRequestHandler):
    def address_string(self):
        return "unix"
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        data = b"mallory's page"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        if "to" in query:
            def later():
                server.shutdown()
                server.server_close()
                swap(query["to"][0])
            threading.Thread(target=later).start()

server = Server(SOCKET, Handler)
if os.environ.get("SWAP_AT_START"):
    swap(os.environ["SWAP_AT_START"])
    while True:
        time.sleep(60)
server.serve_forever()
while True:  # not served any more, but alive: its supervisor restarts nothing
    time.sleep(60)
"""


def unix_repo(path: Path, server: str, env: dict[str, str] | None = None) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    config = UNIX_CONFIG
    if env:
        config += "variables:\n  env:\n" + "".join(f"    {k}: {v!r}\n" for k, v in env.items())
    (path / ".platform.app.yaml").write_text(config)
    (path / "server.py").write_text(server)
    commit(path, "unix app")
    return path


def victim_socket(shipway: Shipway) -> Path:
    return shipway.home / "run" / "vsock" / "main" / "app" / "sock" / "app.sock"


@pytest.fixture(scope="module")
def victim(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = unix_repo(tmp_path_factory.mktemp("v") / "victim", VICTIM_APP)
    out = push(repo, shipway.create_project("vsock"))
    assert out.returncode == 0, out.stdout + out.stderr
    code, body = shipway.fetch(shipway.url("vsock"))
    assert code == 200 and body == "victim's secret page", (code, body)
    return body


def test_a_symlink_in_place_of_the_apps_socket_never_reaches_another_tenant(
        shipway: Shipway, victim: str, tmp_path: Path) -> None:
    out = push(unix_repo(tmp_path / "mallory", MALLORY_APP), shipway.create_project("msock"))
    assert out.returncode == 0, out.stdout + out.stderr
    url = shipway.url("msock")
    assert shipway.fetch(url) == (200, "mallory's page")
    own = shipway.home / "run" / "msock" / "main" / "app" / "sock" / "app.sock"

    assert shipway.fetch(f"{url}/?to={victim_socket(shipway)}") == (200, "mallory's page")
    wait_for(own.is_symlink, 20, "mallory's app to put its symlink in place")
    for _ in range(5):
        code, body = shipway.fetch(url, timeout=10)
        assert "victim" not in body and code != 200, (code, body)
    assert shipway.fetch(shipway.url("vsock")) == (200, victim)


def test_the_gate_never_opens_to_a_symlink_left_before_it_opened(
        shipway: Shipway, victim: str, tmp_path: Path) -> None:
    repo = unix_repo(tmp_path / "mallory", MALLORY_APP, {"SWAP_AT_START": str(victim_socket(shipway))})
    out = push(repo, shipway.create_project("early"))
    log = out.stdout + out.stderr
    assert out.returncode != 0 and "app.sock is a symlink" in log, log
    # Its gate never opened: no upstream link leads the router to it.
    links = [p for p in (shipway.home / "u").iterdir() if p.is_symlink()]
    assert not [p for p in links if "/early/" in str(p.readlink())], links
    assert shipway.fetch(shipway.url("vsock")) == (200, victim)
