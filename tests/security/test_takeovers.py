"""Takeovers between tenants: a socket swapped for a symlink, processes left for a uid's next owner.

S4: an app that puts a symlink to another tenant's socket where its own
app.sock was must never have its route answered by that tenant.
S5: a process of an environment's uid that outlives it (a detached one, a
cron) must not live on into the next environment that gets the same uid.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shipway.settings import load_settings
from tests.e2e.conftest import Shipway, commit, git, processes_of, push, unix_socket_app, wait_for

pytestmark = pytest.mark.e2e

UNIX_CONFIG = ('name: app\ntype: "python:3.11"\nweb:\n  commands:\n    start: python3 server.py\n'
               "  upstream:\n    socket_family: unix\n")

VICTIM_APP = unix_socket_app('b"victim\'s secret page"')

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


UID_APP = unix_socket_app('f"uid {os.getuid()}".encode()')
LOOP = "import time\nwhile True: time.sleep(1)"


def app_uid(shipway: Shipway, project: str, env: str) -> int:
    code, body = shipway.fetch(shipway.url(project, env))
    assert code == 200 and body.startswith("uid "), (code, body)
    return int(body.split()[1])


def detached_as(shipway: Shipway, uid: int) -> subprocess.Popen[bytes]:
    """A process of the app's uid in no supervisor's care, as `setsid` in a hook makes."""
    gid = load_settings(shipway.env).apps_gid
    proc = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                             sys.executable, "-c", LOOP], start_new_session=True)
    wait_for(lambda: proc.pid in processes_of(uid), 10, "the detached process to run as the app's uid")
    return proc


def test_no_process_of_a_deactivated_environment_lives_on_into_its_uids_next_owner(
        shipway: Shipway, tmp_path: Path) -> None:
    out = push(unix_repo(tmp_path / "r", UID_APP), shipway.create_project("reuse"))
    assert out.returncode == 0, out.stdout + out.stderr
    shipway.cli("environment:branch", "gone", "main", "-p", "reuse")
    uid = app_uid(shipway, "reuse", "gone")
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(lingering := detached_as(shipway, uid))
        shipway.cli("environment:deactivate", "gone", "-p", "reuse")
        assert lingering.wait(timeout=10) == -9
        assert processes_of(uid) == []

        # A process of a free slot's uid, however it got there, dies as the slot is taken.
        started.append(squatter := detached_as(shipway, uid))
        shipway.cli("environment:branch", "next", "main", "-p", "reuse")
        assert squatter.wait(timeout=10) == -9
        assert app_uid(shipway, "reuse", "next") == uid  # the same uid, a new owner
        assert squatter.pid not in processes_of(uid)
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


CRON = """crons:
  long:
    spec: "* * * * *"
    commands:
      start: |
        echo "cron started"
        sleep 300
"""


def test_a_running_cron_ends_with_its_environment(shipway: Shipway, tmp_path: Path) -> None:
    repo = unix_repo(tmp_path / "r", UID_APP)
    (repo / ".platform.app.yaml").write_text((repo / ".platform.app.yaml").read_text() + CRON)
    commit(repo, "a cron that outlives a deactivate")
    out = push(repo, shipway.create_project("cronreuse"))
    assert out.returncode == 0, out.stdout + out.stderr
    shipway.cli("environment:branch", "gone", "main", "-p", "cronreuse")
    uid = app_uid(shipway, "cronreuse", "gone")

    def crons() -> list[dict]:
        listed = shipway.cli("activity:list", "-p", "cronreuse", "-e", "gone", "--format", "json").stdout
        return [a for a in json.loads(listed) if a["type"] == "environment.cron"]

    wait_for(lambda: any(a["state"] != "complete" for a in crons()), 75, "the cron of 'gone' to start")
    wait_for(lambda: len(processes_of(uid)) > 1, 10, "the cron's processes beside the app's")
    shipway.cli("environment:deactivate", "gone", "-p", "cronreuse")
    assert processes_of(uid) == []
    [cron] = crons()
    assert (cron["state"], cron["result"]) == ("complete", "cancelled"), cron
    assert "stopped: its environment was deactivated" in shipway.cli("activity:log", cron["id"]).stdout
