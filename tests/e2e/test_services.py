"""Services as real servers (D4): PostgreSQL, MariaDB and Redis started in
sandboxes as their own uids, reachable only by the uids the firewall allows,
their data kept across restarts, and described to an app as Platform.sh does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipway.config import load_project
from shipway.config.model import ServiceConfig
from shipway.encoding import b64json
from shipway.errors import NotSupportedYet, PlatformError
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import Bind, SandboxSpec
from shipway.services import isolation, servers, standard
from shipway.services.local import expose, local_instance, retire
from shipway.services.relationships import (
    host_addresses,
    hosts_file,
    relationships_document,
    service_consumers,
    service_variables,
)
from shipway.services.servers import ServiceInstance

from .conftest import free_port, wait_for

NEEDED = ("bwrap", "nft", "psql", "mysql", "redis-cli", "redis-server", "mariadbd", "setpriv")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0 or not all(shutil.which(n, path="/usr/sbin:/usr/bin")
                                                      for n in NEEDED),
                       reason="needs root, bwrap, nft, PostgreSQL, MariaDB and Redis"),
]

# Our own uid range, away from every shipway instance's (settings.uid_base).
APP = 262501  # an app with a relationship to the services
OTHER = 262502  # an app without one
Launch = Callable[..., ServiceInstance]


def as_uid(uid: int, argv: list[str], env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
                           *argv], env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **(env or {})},
                          capture_output=True, text=True, timeout=30, check=False)


def psql(uid: int, inst: ServiceInstance, sql: str) -> subprocess.CompletedProcess[str]:
    ep = servers.endpoint(inst)
    return as_uid(uid, ["psql", "-h", ep.ip, "-p", str(ep.port), "-U", str(ep.username),
                        "-d", str(ep.path), "-Atc", sql],
                  {"PGPASSWORD": str(ep.password), "PGCONNECT_TIMEOUT": "5"})


def mysql(uid: int, inst: ServiceInstance, sql: str) -> subprocess.CompletedProcess[str]:
    ep = servers.endpoint(inst)
    return as_uid(uid, ["mysql", "--no-defaults", "--protocol=tcp", "-h", ep.ip,
                        "-P", str(ep.port), "-u", str(ep.username), "-N", "-e", sql, str(ep.path)],
                  {"MYSQL_PWD": str(ep.password)})


def redis(uid: int, inst: ServiceInstance, *args: str) -> subprocess.CompletedProcess[str]:
    return as_uid(uid, ["redis-cli", "-h", "127.0.0.1", "-p", str(inst.port), *args])


@pytest.fixture
def table() -> Iterator[str]:
    name = f"swsvc_{uuid.uuid4().hex[:10]}"
    yield name
    isolation.remove_service_isolation(name)
    subprocess.run(["nft", "delete", "table", "inet", name], capture_output=True, check=False)


@pytest.fixture
def launch(tmp_path: Path, table: str) -> Iterator[Launch]:
    """Prepare and expose a service as the deploy does; retire it after the test."""
    started: list[ServiceInstance] = []
    uids = iter(range(262100, 262200))

    def make(name: str, type_: str, *, allowed: tuple[int, ...] = (APP,)) -> ServiceInstance:
        kind, _, version = type_.partition(":")
        inst = local_instance(tmp_path, "proj", "main", ServiceConfig(name, type_, kind, version,
                                                                      None, {}),
                              uid=next(uids), port=free_port())
        servers.prepare(inst)
        started.append(inst)
        line = expose(inst, table, allowed)
        assert line.startswith(f"{name} ({type_}) on 127.0.0.1:{inst.port}")
        assert ": started, ready in " in line
        assert expose(inst, table, allowed).endswith(": already running")
        return inst

    yield make
    for inst in started:
        retire(inst, table)
        assert not servers.running(inst)


def restart(inst: ServiceInstance) -> None:
    servers.stop(inst)
    assert not servers.running(inst)
    assert servers.start(inst)
    servers.wait_ready(inst, timeout=60)


def test_postgresql(launch: Launch) -> None:
    db = launch("db", "postgresql:15")
    made = psql(APP, db, "CREATE TABLE t (x text); INSERT INTO t VALUES ('kept'); "
                         "SELECT current_user, current_database()")
    assert made.returncode == 0, made.stderr
    assert made.stdout.split()[-1] == "main|main"
    refused = psql(OTHER, db, "SELECT 1")
    assert refused.returncode != 0 and "Connection refused" in refused.stderr
    restart(db)
    assert psql(APP, db, "SELECT x FROM t").stdout.strip() == "kept"


def test_postgresql_wants_its_password(launch: Launch) -> None:
    db = launch("db", "postgresql:15")
    ep = servers.endpoint(db)
    wrong = as_uid(APP, ["psql", "-h", ep.ip, "-p", str(ep.port), "-U", "main", "-d", "main",
                         "-c", "SELECT 1"], {"PGPASSWORD": "wrong"})
    assert "password authentication failed" in wrong.stderr
    superuser = as_uid(APP, ["psql", "-h", ep.ip, "-p", str(ep.port), "-U", "postgres",
                             "-c", "SELECT 1"], {"PGPASSWORD": ""})
    assert superuser.returncode != 0  # the superuser only comes in over the private socket


def test_mariadb(launch: Launch) -> None:
    db = launch("mydb", "mariadb:10.11")
    made = mysql(APP, db, "CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept'); "
                          "SELECT CURRENT_USER(), DATABASE(), @@character_set_server")
    assert made.returncode == 0, made.stderr
    assert made.stdout.split() == ["user@%", "main", "utf8mb4"]
    refused = mysql(OTHER, db, "SELECT 1")
    assert refused.returncode != 0 and "Can't connect" in refused.stderr
    restart(db)
    assert mysql(APP, db, "SELECT x FROM t").stdout.strip() == "kept"


def test_redis_is_ephemeral_and_has_no_password(launch: Launch) -> None:
    cache = launch("cache", "redis:7.0")
    assert redis(APP, cache, "SET", "k", "v").stdout.strip() == "OK"
    refused = redis(OTHER, cache, "PING")
    assert "PONG" not in refused.stdout and "refused" in (refused.stdout + refused.stderr)
    restart(cache)
    assert redis(APP, cache, "GET", "k").stdout.strip() == ""


MEMCACHE_CLIENT = """import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
    s.sendall(sys.argv[2].encode().replace(b"|", b"\\r\\n"))
    print(s.recv(256).decode().replace("\\r\\n", "|"))
"""


def memcache(uid: int, inst: ServiceInstance, command: str) -> subprocess.CompletedProcess[str]:
    return as_uid(uid, ["python3", "-c", MEMCACHE_CLIENT, str(inst.port), command])


def test_memcached_is_a_cache_for_its_apps_only(launch: Launch) -> None:
    cache = launch("mc", "memcached:1.6")
    assert memcache(APP, cache, "set k 0 0 4|kept|").stdout.strip() == "STORED|"
    assert memcache(APP, cache, "get k|").stdout.strip() == "VALUE k 0 4|kept|END|"
    refused = memcache(OTHER, cache, "get k|")
    assert refused.returncode != 0 and "ConnectionRefused" in refused.stderr
    restart(cache)
    assert memcache(APP, cache, "get k|").stdout.strip() == "END|"  # nothing kept


def test_redis_persistent_survives_a_crash_under_its_supervisor(launch: Launch) -> None:
    store = launch("store", "redis-persistent:7.0")
    assert redis(APP, store, "SET", "k", "kept").stdout.strip() == "OK"
    supervisor = int((store.state_dir / "supervisor.pid").read_text())
    assert _parent(supervisor) != os.getpid()  # detached: a dead control plane leaves it running
    killed = _pids_of_uid(store.uid)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    # A killed server still answers until it has exited: wait for that, so
    # the readiness seen next is the restarted server's.
    wait_for(lambda: not set(killed) & set(_pids_of_uid(store.uid)), 10, "the killed server exits")
    servers.wait_ready(store, timeout=30)  # restarted by the supervisor after its back-off
    assert redis(APP, store, "GET", "k").stdout.strip() == "kept"
    assert "restarting in" in store.log.read_text()


def test_a_restart_reuses_credentials_and_a_new_port_restarts(launch: Launch, table: str) -> None:
    db = launch("db", "postgresql:15")
    before = servers.endpoint(db)
    assert servers.prepare(db).endpoint == before
    assert servers.start(db) is False  # already running with this command
    moved = ServiceInstance(db.service, db.data_dir, db.state_dir, db.log, db.uid, free_port())
    assert servers.start(moved) is True
    servers.wait_ready(moved, timeout=60)
    standard.translate(table, moved.port, "postgresql")  # what expose() does first (C6a)
    assert psql(0, moved, "SELECT 1").stdout.strip() == "1"


def test_a_version_the_host_lacks(tmp_path: Path) -> None:
    inst = ServiceInstance(ServiceConfig("db", "postgresql:16", "postgresql", "16", None, {}),
                           tmp_path / "data", tmp_path / "run", tmp_path / "log", 262190, free_port())
    with pytest.raises(PlatformError, match=r"postgresql:16 .*installed: 15.*apt.postgresql.org"):
        servers.prepare(inst)
    assert not (tmp_path / "data").exists()  # refused before touching anything
    prepared = servers.prepare(inst, nearest=True)
    assert prepared.version == "15" and "running postgresql 15 instead of 16" in prepared.warnings[0]


def test_isolation_follows_allow(table: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        probe = ["python3", "-c", "import socket,sys; socket.create_connection(('127.0.0.1', "
                 f"{port}), timeout=5); print('connected')"]

        def reaches(uid: int) -> bool:
            return as_uid(uid, probe).stdout.strip() == "connected"

        isolation.allow(table, port, {APP})
        assert (reaches(APP), reaches(OTHER)) == (True, False)
        isolation.allow(table, port, {OTHER})
        assert (reaches(APP), reaches(OTHER)) == (False, True)
        assert isolation.allowed(table) == {port: frozenset({OTHER})}
        isolation.forget(table, port)
        assert (reaches(APP), reaches(OTHER)) == (True, True)
        assert isolation.allowed(table) == {}


PROJECT_APP = """\
name: app
type: python:3.11
web: {commands: {start: run}}
relationships:
  database: "db:postgresql"
  redis: "cache:redis"
  cache:
workers:
  queue:
    commands: {start: work}
    relationships: {db, cache}
"""
PROJECT_SERVICES = """\
db: {type: "postgresql:15"}
cache: {type: "redis:7.0"}
"""
IN_APP = """\
getent hosts database.internal db.internal redis.internal cache.internal | sort
python3 -c 'import base64, json, os
doc = json.loads(base64.b64decode(os.environ["PLATFORM_RELATIONSHIPS"]))
print(sorted(doc), doc["database"][0]["host"], doc["redis"][0]["query"])'
PGPASSWORD="$DATABASE_PASSWORD" psql -Atc "SELECT 'psql ' || current_user" \
  "host=$DATABASE_HOST port=$DATABASE_PORT user=$DATABASE_USERNAME dbname=$DATABASE_PATH \
connect_timeout=5" 2>&1
redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>&1
"""


def test_an_app_sees_its_relationships(tmp_path: Path, launch: Launch) -> None:
    repo = tmp_path / "repo"
    (repo / ".platform").mkdir(parents=True)
    (repo / ".platform.app.yaml").write_text(PROJECT_APP)
    (repo / ".platform/services.yaml").write_text(PROJECT_SERVICES)
    config = load_project(repo)
    app = config.apps[0]
    assert service_consumers(config.apps, config.services) == {"db": {"app"}, "cache": {"app"}}
    instances = {name: launch(name, svc.type) for name, svc in config.services.items()}
    endpoints = {name: servers.endpoint(inst) for name, inst in instances.items()}

    doc = relationships_document(app.relationships, config.services, endpoints, cluster="p-main-x")
    assert sorted(doc) == ["cache", "database", "redis"]
    assert doc["cache"][0]["hostname"] == "cache.internal" and doc["cache"][0]["rel"] == "redis"
    worker = relationships_document(app.workers["queue"].relationships, config.services, endpoints,
                                    cluster="p-main-x")
    assert sorted(worker) == ["cache", "db"]
    env = {"PATH": "/usr/bin:/bin", "PLATFORM_RELATIONSHIPS": b64json(doc), **service_variables(doc)}
    assert env["DATABASE_URL"] == (f"pgsql://main:{endpoints['db'].password}@database.internal:"
                                   f"{endpoints['db'].port}/main")
    hosts = tmp_path / "hosts"
    hosts.write_text(hosts_file(host_addresses(doc)))

    seen = run_in_app(tmp_path, APP, env, hosts)
    # C6a: each service at its own address, on its standard port.
    db_ip, cache_ip = endpoints["db"].ip, endpoints["cache"].ip
    assert (endpoints["db"].port, endpoints["cache"].port) == (5432, 6379)
    assert sorted(seen[:4]) == sorted([f"{cache_ip} cache.internal", f"{db_ip} database.internal",
                                       f"{db_ip} db.internal", f"{cache_ip} redis.internal"])
    assert seen[4] == "['cache', 'database', 'redis'] database.internal []"
    assert seen[5:] == ["psql main", "PONG"]
    refused = "\n".join(run_in_app(tmp_path, OTHER, env, hosts)[5:])
    assert refused.count("Connection refused") == 2 and "PONG" not in refused


def run_in_app(tmp_path: Path, uid: int, env: dict[str, str], hosts: Path) -> list[str]:
    """A command in an app's sandbox, /etc/hosts bound read-only as the platform would."""
    app_dir = tmp_path / "app"
    app_dir.mkdir(exist_ok=True)
    spec = SandboxSpec(command=("/bin/sh", "-c", IN_APP), app_dir=app_dir, app_writable=False,
                       uid=uid, gid=uid, env=env, binds=(Bind(hosts, "/etc/hosts"),))
    lines: list[str] = []
    run_oneshot(spec, on_line=lambda line, _: lines.append(line), timeout=60)
    return [" ".join(line.split()) if line.startswith("127.") else line for line in lines]


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            real = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]
            if int(real) == uid:
                pids.append(int(entry.name))
    return pids


def test_data_is_never_reinitialised(tmp_path: Path) -> None:
    svc = ServiceConfig("mydb", "mariadb:10.11", "mariadb", "10.11", None, {})
    inst = local_instance(tmp_path, "proj", "main", svc, uid=262191, port=free_port())
    (inst.service_dir / "db").mkdir(parents=True)
    (inst.service_dir / "db" / "ibdata1").write_text("precious")
    with pytest.raises(PlatformError, match="holds data but .* has no record of it; not touching"):
        servers.prepare(inst)
    inst.record_file.write_text(json.dumps({"username": "user", "password": "pw", "database": "main",
                                            "version": "10.6.1"}))
    with pytest.raises(NotSupportedYet, match="made by mariadb 10.6.1.*needs an upgrade"):
        servers.prepare(inst)
    assert (inst.service_dir / "db" / "ibdata1").read_text() == "precious"
