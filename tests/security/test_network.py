"""S4/S5/S6 attacks on the network and uid boundary, against a real shipway.

Project `victim` runs a TCP app; project `mallory` runs an app (and a build
hook) that tries to reach it on 127.0.0.1 directly, skipping the router.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipway.deploy import gate
from shipway.ranges import derived_port_base
from shipway.services import isolation
from shipway.settings import load_settings
from tests.e2e.conftest import (
    SHIPWAY,
    Shipway,
    commit,
    free_port,
    git,
    push,
    running_shipway,
    stop_everything,
    teardown,
    unix_socket_app,
)
from tests.e2e.test_app_relationships import two_apps

pytestmark = pytest.mark.e2e

# Answers with its port and uid; `/?port=N` tries 127.0.0.1:N and says what happened.
PROBE_APP = """\
import http.server, os, socket, threading, urllib.parse

def probe(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
            return "connected: " + s.makefile().read().split("\\n\\n")[-1]
    except OSError as e:
        return f"refused: {e!r}"

class Squat(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "26")
        self.end_headers()
        self.wfile.write(b"squatter got your request!")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if "port" in query:
            body = probe(int(query["port"][0]))
        elif "bind" in query:
            squat = http.server.ThreadingHTTPServer(("127.0.0.1", int(query["bind"][0])), Squat)
            threading.Thread(target=squat.serve_forever, daemon=True).start()
            body = "squatting"
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


def owned_by(root: Path, uid: int) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        try:
            if path.lstat().st_uid == uid:
                found.append(path)
        except FileNotFoundError:
            continue  # gone meanwhile
    return found


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
    # The next holder of the slot inherits nothing: no file of the old uid is left.
    left = owned_by(shipway.home, one)
    assert not left, left[:5]
    shipway.cli("environment:branch", "three", "main", "-p", "victim")
    assert env_uid("three") == one  # the freed slot, not a new one past `two`
    assert env_uid("two") == two and answer(shipway, "victim") == victim["body"]
    listing = json.loads(shipway.cli("environment:list", "-p", "victim", "--format",
                                     "json").stdout)
    assert {e["name"]: e["status"] for e in listing}["one"] == "inactive"
    # Reactivated, `one` takes the lowest slot free now: a new uid, never one in use.
    shipway.cli("environment:activate", "one", "-p", "victim")
    assert env_uid("one") not in {one, two, victim["uid"]}


def test_an_app_squatting_a_stopped_apps_port_never_gets_its_requests(
        shipway: Shipway, victim: dict, tmp_path: Path) -> None:
    shipway.cli("environment:branch", "sq", "main", "-p", "victim")
    port = port_of(answer(shipway, "victim", env="sq"))
    url = shipway.url("victim", "sq")
    shipway.cli("environment:deactivate", "sq", "-p", "victim")  # its port is kept for it
    deployed(shipway, probe_repo(tmp_path / "r", "squatter"), "squatter")
    assert answer(shipway, "squatter", f"/?bind={port}") == "squatting"
    out = shipway.cli("environment:activate", "sq", "-p", "victim", check=False)
    log = out.stdout + out.stderr
    assert out.returncode != 0 and f"port {port} is held by uid" in log, log
    code, body = shipway.fetch(url, timeout=10)
    assert "squatter" not in body and code != 200, (code, body)
    assert answer(shipway, "victim") == victim["body"]


UNIX_APP = unix_socket_app('f"unix victim uid {os.getuid()}".encode()')

CONNECT_UNIX = """\
import socket, sys
try:
    socket.socket(socket.AF_UNIX).connect(sys.argv[1])
    print("connected")
except OSError as e:
    print("refused", repr(e))
"""


def test_another_environments_app_uid_cannot_reach_a_unix_socket_app(
        shipway: Shipway, victim: dict, tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / ".platform.app.yaml").write_text(
        'name: app\ntype: "python:3.11"\nweb:\n  commands:\n    start: python3 server.py\n'
        "  upstream:\n    socket_family: unix\n")
    (repo / "server.py").write_text(UNIX_APP)
    commit(repo, "unix")
    deployed(shipway, repo, "vsock")
    body = answer(shipway, "vsock")
    own_uid = int(body.rsplit(" ", 1)[1])
    socket_path = shipway.home / "run" / "vsock" / "main" / "app" / "sock" / "app.sock"
    apps_gid = load_settings(shipway.env).apps_gid

    def connect_as(uid: int) -> str:
        out = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={apps_gid}",
                              "--clear-groups", sys.executable, "-c", CONNECT_UNIX,
                              str(socket_path)],
                             capture_output=True, text=True, timeout=30, check=False)
        return out.stdout + out.stderr

    assert connect_as(own_uid).startswith("connected")  # the socket is there and live
    # Another environment's app runs in the same group, with its own uid: no way in,
    # not even from outside its sandbox.
    assert connect_as(int(victim["uid"])).startswith("refused PermissionError"), \
        connect_as(int(victim["uid"]))
    assert answer(shipway, "vsock") == body

# -- S6: instances side by side ------------------------------------------------------


def bases(sw: Shipway) -> tuple[int, int]:
    settings = load_settings(sw.env)
    return settings.uid_base, settings.port_base


def serve_refused(sw: Shipway, home: Path, uid_base: int, port_base: int) -> str:
    """`shipway serve` of a second instance on these ranges: it must refuse, quickly."""
    env = {**sw.env, "SHIPWAY_HOME": str(home), "SHIPWAY_UID_BASE": str(uid_base),
           "SHIPWAY_PORT_BASE": str(port_base), "SHIPWAY_HTTP_PORT": str(free_port()),
           "SHIPWAY_HTTPS_PORT": str(free_port())}
    second = Shipway(home, env, home.parent / "second.log")
    try:
        out = subprocess.run([*SHIPWAY, "serve"], env=env, capture_output=True, text=True,
                             timeout=60, check=False)
    finally:
        teardown(second)  # only if it did start: it must not have
    assert out.returncode != 0, out.stdout + out.stderr
    assert not (home / "router").exists()  # refused before its router started
    return out.stderr


def test_a_second_instance_on_the_same_ranges_is_refused(
        shipway: Shipway, victim: dict, tmp_path: Path) -> None:
    uid_base, port_base = bases(shipway)
    message = serve_refused(shipway, tmp_path / "same", uid_base, port_base)
    assert "set SHIPWAY_UID_BASE to a free range" in message, message
    assert f"SHIPWAY_HOME={shipway.home}" in message, message
    # Only the ports in common: the message names the other setting.
    message = serve_refused(shipway, tmp_path / "ports", 6_000_000, port_base + 150)
    assert "set SHIPWAY_PORT_BASE to a free range" in message, message
    assert answer(shipway, "victim") == victim["body"]
    assert bases(shipway) == (uid_base, port_base)


def test_a_derived_range_in_use_moves_and_the_new_instance_serves(
        shipway: Shipway, victim: dict, tmp_path: Path) -> None:
    _, port_base = bases(shipway)

    def colliding(base: Path) -> str:
        """A home name whose derived port block is the running instance's."""
        for i in range(100_000):
            digest = int(hashlib.sha256(str(base / f"h{i}").encode()).hexdigest()[:6], 16)
            if derived_port_base(digest) == port_base:
                return f"h{i}"
        raise AssertionError("no colliding home name")

    with running_shipway(home_name=colliding) as other:
        assert "the derived ones were another instance's" in other.serve_log.read_text()
        _, other_ports = bases(other)
        assert abs(other_ports - port_base) >= 300
        deployed(other, probe_repo(tmp_path / "r", "neighbour"), "neighbour")
        # The first free port of its block (its base may be in TIME_WAIT from another test).
        assert other_ports <= port_of(answer(other, "neighbour")) < other_ports + 300
    assert answer(shipway, "victim") == victim["body"]


def test_a_stopped_instances_firewall_table_does_not_refuse_the_next_one(
        tmp_path: Path) -> None:
    """The 503-forever of issue 9 item 11(e): a stopped instance's table guarded the port
    the next instance on its port range gave its first app."""
    with running_shipway() as old:
        deployed(old, probe_repo(tmp_path / "old", "old"), "old")
        # Not fetched through its router: a connection the app's end closes leaves the
        # port in TIME_WAIT for a minute, and the next instance would skip it.
        _, old_ports = bases(old)
        table = load_settings(old.env).firewall_table
        stop_everything(old)  # as a crash or a reboot-less stop leaves it: the table stays
        listed = subprocess.run(["nft", "-j", "list", "set", "inet", table, "service_ports"],
                                capture_output=True, text=True, check=False)
        # The app's port: the first free one of the range, not always the base itself.
        guarded = [e for item in json.loads(listed.stdout or "{}").get("nftables", [])
                   for e in item.get("set", {}).get("elem", [])]
        assert len(guarded) == 1, listed.stdout + listed.stderr
        port = guarded[0]
        assert old_ports <= port < old_ports + 300
        with running_shipway({"SHIPWAY_PORT_BASE": str(old_ports),
                              "SHIPWAY_UID_BASE": str(6_100_000)}) as new:
            assert "took over ranges of the stopped instance" in new.serve_log.read_text()
            deployed(new, probe_repo(tmp_path / "new", "new"), "new")
            body = answer(new, "new")
            assert port_of(body) == port
            gone = subprocess.run(["nft", "list", "table", "inet", table],
                                  capture_output=True, text=True, check=False)
            assert gone.returncode != 0


def test_our_own_tables_leftovers_are_reset_at_start() -> None:
    """A table of this home left by an earlier run (another uid base, a deploy killed while
    holding, ports of another range): the start-up refresh leaves only what is ours now."""
    table = f"swtest_net{os.getpid()}"
    try:
        gate.ensure_tcp_gate(table, 111_999)
        gate.hold_port(table, 10_001)
        isolation.allow(table, 10_002, {0, 111_100})
        isolation.allow(table, 20_002, {0, 111_100})
        isolation.allow(table, 20_003, {0, 111_100})  # allocated before the range changed
        gate.ensure_tcp_gate(table, 222_999)
        assert isolation.keep_within(table, 10_000, 10_299, {20_003}) == [20_002]
        rules = subprocess.run(["nft", "list", "chain", "inet", table, "gate"],
                               capture_output=True, text=True, check=True).stdout
        assert "222999" in rules and "111999" not in rules and rules.count("reject") == 1, rules
        held = subprocess.run(["nft", "list", "set", "inet", table, gate.HELD_SET],
                              capture_output=True, text=True, check=True).stdout
        assert "10001" not in held, held
        assert isolation.allowed(table) == {10_002: frozenset({0, 111_100}),
                                            20_003: frozenset({0, 111_100})}
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True, check=False)
