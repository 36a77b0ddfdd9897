"""How each server is initialised, run and checked (pure).

Theory of operation. A service runs in a bwrap sandbox (see servers.py)
where its own directory is /app: the server's files in /app/db, its unix
socket and pid file in /app/run. Paths inside the sandbox stay the same
wherever the host keeps the data, so a cloned data directory (E2) starts
as it is. Initialisation happens once, offline, before the first start:
users, passwords and the default database are made by the server's own
bootstrap mode, so no window exists where it listens without them. The
readiness check runs on the host as root, over TCP, as an app would connect.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from shipway.config.model import ServiceConfig
from shipway.errors import NotSupportedYet
from shipway.services.versions import MARIADBD, MEMCACHED, REDIS_SERVER, pg_isready, postgresql_bin

ROOT = "/app"
DB = f"{ROOT}/db"
RUN = f"{ROOT}/run"
LISTEN = "127.0.0.1"


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str | None
    database: str | None


@dataclass(frozen=True)
class Step:
    """One initialisation command, run in the service's sandbox. `files` are
    written into /app first (and removed after: they may hold passwords).
    `fails_on` is an output fragment that means failure, for commands whose
    status says nothing (PostgreSQL's single-user mode exits 0 on errors)."""

    argv: tuple[str, ...]
    files: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    fails_on: str | None = None


@dataclass(frozen=True)
class Check:
    """A readiness check run on the host: ready when it exits 0 (and prints
    `expect`, if given)."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    expect: str | None = None


class Engine(Protocol):
    def check(self, service: ServiceConfig) -> None: ...
    def init_steps(self, version: str, creds: Credentials) -> tuple[Step, ...]: ...
    def run_argv(self, version: str, port: int, service: ServiceConfig) -> tuple[str, ...]: ...
    def ready_check(self, version: str, port: int, creds: Credentials) -> Check: ...
    def compatible(self, made_by: str, version: str) -> bool: ...


def _no_configuration(service: ServiceConfig) -> None:
    if service.configuration:
        keys = ", ".join(sorted(service.configuration))
        raise NotSupportedYet(f"service '{service.name}': `configuration` ({keys}) is not supported "
                              f"by shipway yet; the default database and endpoint are")


# PostgreSQL takes SIGTERM as a "smart" shutdown, which waits for every
# client to leave (an app's connection pool never does: measured, the stop
# ran into SIGKILL after the 30 s grace). The supervisor only sends SIGTERM,
# so this shell turns it into SIGINT, a "fast" shutdown: clients are cut,
# data is flushed. PostgreSQL's children run in sessions of their own, so the
# group's TERM reaches only the postmaster and this shell.
FAST_STOP = """"$@" & child=$!
trap 'kill -INT "$child"' TERM
wait "$child"
status=$?
if [ "$status" -gt 128 ]; then wait "$child"; status=$?; fi
exit "$status"
"""


class Postgresql:
    def check(self, service: ServiceConfig) -> None:
        _no_configuration(service)

    def init_steps(self, version: str, creds: Credentials) -> tuple[Step, ...]:
        bin_dir = postgresql_bin(version)
        # The superuser `postgres` has no password: it can only come in over the
        # unix socket, inside the service's own directory. Apps get `main`,
        # owner of database `main`, as on Platform.sh.
        initdb = (f"{bin_dir}/initdb", "-D", DB, "-U", "postgres", "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-host=scram-sha-256", "--auth-local=trust")
        sql = (f"CREATE ROLE {creds.username} LOGIN PASSWORD '{creds.password}';\n"
               f"CREATE DATABASE {creds.database} OWNER {creds.username};\n")
        single = ("/bin/sh", "-c", 'exec "$0" --single -D "$1" postgres < "$2"',
                  f"{bin_dir}/postgres", DB, f"{ROOT}/init.sql")
        return Step(initdb), Step(single, MappingProxyType({"init.sql": sql}), fails_on="ERROR:")

    def run_argv(self, version: str, port: int, service: ServiceConfig) -> tuple[str, ...]:
        return ("/bin/sh", "-c", FAST_STOP, "postgres-fast-stop",
                f"{postgresql_bin(version)}/postgres", "-D", DB, "-c", f"port={port}",
                "-c", f"listen_addresses={LISTEN}", "-c", f"unix_socket_directories={RUN}")

    def ready_check(self, version: str, port: int, creds: Credentials) -> Check:
        return Check((pg_isready(), "-q", "-h", LISTEN,
                      "-p", str(port), "-U", str(creds.username), "-d", str(creds.database)), {})

    def compatible(self, made_by: str, version: str) -> bool:
        return made_by.split(".")[0] == version.split(".")[0]  # a new major needs pg_upgrade


# Debian's own server configuration says so too; MariaDB's built-in default is latin1.
_MARIADB_CHARSET = ("--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci")


class Mariadb:
    def check(self, service: ServiceConfig) -> None:
        _no_configuration(service)

    def init_steps(self, version: str, creds: Credentials) -> tuple[Step, ...]:
        # The extra file runs in bootstrap mode, where grants are off until
        # FLUSH PRIVILEGES loads them; CREATE USER fails without it.
        sql = (f"FLUSH PRIVILEGES;\nCREATE DATABASE {creds.database};\n"
               f"CREATE USER '{creds.username}'@'%' IDENTIFIED BY '{creds.password}';\n"
               f"GRANT ALL PRIVILEGES ON {creds.database}.* TO '{creds.username}'@'%';\n")
        install = ("/usr/bin/mariadb-install-db", "--no-defaults", f"--datadir={DB}",
                   "--skip-test-db", "--skip-name-resolve", "--auth-root-authentication-method=socket",
                   "--auth-root-socket-user=root", f"--extra-file={ROOT}/init.sql", *_MARIADB_CHARSET)
        return (Step(install, MappingProxyType({"init.sql": sql})),)

    def run_argv(self, version: str, port: int, service: ServiceConfig) -> tuple[str, ...]:
        return (MARIADBD, "--no-defaults", f"--datadir={DB}", f"--port={port}",
                f"--bind-address={LISTEN}", f"--socket={RUN}/mysqld.sock",
                f"--pid-file={RUN}/mysqld.pid", "--skip-name-resolve", "--tmpdir=/tmp",
                *_MARIADB_CHARSET)

    def ready_check(self, version: str, port: int, creds: Credentials) -> Check:
        # MYSQL_PWD keeps the password out of `ps`.
        return Check(("/usr/bin/mysqladmin", "--no-defaults", "--protocol=tcp", "-h", LISTEN,
                      "-P", str(port), "-u", str(creds.username), "--connect-timeout=2", "ping"),
                     {"MYSQL_PWD": str(creds.password)})

    def compatible(self, made_by: str, version: str) -> bool:
        return made_by.split(".")[:2] == version.split(".")[:2]  # another series needs mariadb-upgrade


_REDIS_SETTINGS = ("maxmemory_policy",)


class Redis:
    def __init__(self, persistent: bool) -> None:
        self.persistent = persistent

    def check(self, service: ServiceConfig) -> None:
        unknown = sorted(set(service.configuration) - set(_REDIS_SETTINGS))
        if unknown:
            raise NotSupportedYet(f"service '{service.name}': configuration {', '.join(unknown)} "
                                  f"is not supported by shipway yet; supported: maxmemory_policy")

    def init_steps(self, version: str, creds: Credentials) -> tuple[Step, ...]:
        return ()

    def run_argv(self, version: str, port: int, service: ServiceConfig) -> tuple[str, ...]:
        # No password, as on Platform.sh: the firewall (isolation.py) is the access control.
        argv = [REDIS_SERVER, "--port", str(port), "--bind", LISTEN, "--dir", DB,
                "--daemonize", "no", "--logfile", ""]
        # Ephemeral Redis writes nothing, so a restart starts empty (as Platform.sh's does).
        argv += ["--appendonly", "yes"] if self.persistent else ["--appendonly", "no", "--save", ""]
        policy = service.configuration.get("maxmemory_policy")
        if policy:
            argv += ["--maxmemory-policy", str(policy)]
        return tuple(argv)

    def ready_check(self, version: str, port: int, creds: Credentials) -> Check:
        return Check(("/usr/bin/redis-cli", "-h", LISTEN, "-p", str(port), "ping"), {}, "PONG")

    def compatible(self, made_by: str, version: str) -> bool:
        return True  # newer servers read older RDB and AOF files


# memcached has no client on a Debian host; the check speaks its text protocol.
_MEMCACHED_PING = """import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
    s.sendall(b"version\\r\\n")
    print(s.recv(64).decode(errors="replace"))
"""


class Memcached:
    """A cache: no credentials and no data kept (as on Platform.sh), so the
    firewall (isolation.py) is the only access control."""

    def check(self, service: ServiceConfig) -> None:
        _no_configuration(service)

    def init_steps(self, version: str, creds: Credentials) -> tuple[Step, ...]:
        return ()

    def run_argv(self, version: str, port: int, service: ServiceConfig) -> tuple[str, ...]:
        # -U 0: no UDP (amplification attacks); 64 MB is memcached's own default.
        return (MEMCACHED, "-p", str(port), "-l", LISTEN, "-U", "0", "-m", "64")

    def ready_check(self, version: str, port: int, creds: Credentials) -> Check:
        return Check((sys.executable, "-c", _MEMCACHED_PING, LISTEN, str(port)), {}, "VERSION")

    def compatible(self, made_by: str, version: str) -> bool:
        return True  # nothing is kept


def engine_for(engine: str, persistent: bool) -> Engine:
    if engine == "postgresql":
        return Postgresql()
    if engine == "mariadb":
        return Mariadb()
    if engine == "redis":
        return Redis(persistent)
    if engine == "memcached":
        return Memcached()
    raise NotSupportedYet(f"shipway cannot run {engine} servers yet")
