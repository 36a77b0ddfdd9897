"""How servers are run (engines.py) and the nftables text that guards them (isolation.py). Pure."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.config.model import ServiceConfig
from shipway.errors import NotSupportedYet
from shipway.services.engines import Credentials, engine_for
from shipway.services.isolation import access_script, setup_script

CREDS = Credentials("main", "pw", "main")


def service(kind: str, version: str, configuration: dict[str, Any] | None = None) -> ServiceConfig:
    return ServiceConfig("s", f"{kind}:{version}", kind, version, None, configuration or {})


def test_postgresql_listens_on_loopback_with_its_socket_inside() -> None:
    argv = engine_for("postgresql", True).run_argv("15", 30001, service("postgresql", "15"))
    assert argv[:4] == ("/bin/sh", "-c", argv[2], "postgres-fast-stop")
    assert "kill -INT" in argv[2]  # SIGTERM becomes a fast shutdown
    assert argv[4:] == ("/usr/lib/postgresql/15/bin/postgres", "-D", "/app/db", "-c", "port=30001",
                        "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=/app/run")


def test_postgresql_init_makes_main_offline() -> None:
    initdb, single = engine_for("postgresql", True).init_steps("15", CREDS)
    assert initdb.argv[0] == "/usr/lib/postgresql/15/bin/initdb"
    assert "--auth-host=scram-sha-256" in initdb.argv
    assert single.files["init.sql"] == ("CREATE ROLE main LOGIN PASSWORD 'pw';\n"
                                        "CREATE DATABASE main OWNER main;\n")
    assert single.fails_on == "ERROR:"


def test_mariadb_init_and_run() -> None:
    engine = engine_for("mariadb", True)
    (install,) = engine.init_steps("10.11.19", Credentials("user", "pw", "main"))
    assert install.files["init.sql"].startswith("FLUSH PRIVILEGES;\n")
    assert "CREATE USER 'user'@'%' IDENTIFIED BY 'pw';" in install.files["init.sql"]
    argv = engine.run_argv("10.11.19", 30003, service("mariadb", "10.11"))
    for arg in ("--no-defaults", "--port=30003", "--bind-address=127.0.0.1",
                "--socket=/app/run/mysqld.sock", "--character-set-server=utf8mb4"):
        assert arg in argv
    check = engine.ready_check("10.11.19", 30003, Credentials("user", "pw", "main"))
    assert "pw" not in check.argv and check.env == {"MYSQL_PWD": "pw"}


@pytest.mark.parametrize(("persistent", "configuration", "expected"), [
    (False, {}, ["--appendonly", "no", "--save", ""]),
    (True, {}, ["--appendonly", "yes"]),
    (True, {"maxmemory_policy": "allkeys-lru"}, ["--appendonly", "yes", "--maxmemory-policy",
                                                 "allkeys-lru"]),
])
def test_redis_persistence(persistent: bool, configuration: dict[str, Any],
                           expected: list[str]) -> None:
    argv = engine_for("redis", persistent).run_argv("7.0.15", 30002, service("redis", "7.0",
                                                                               configuration))
    assert argv[:9] == ("/usr/bin/redis-server", "--port", "30002", "--bind", "127.0.0.1", "--dir",
                        "/app/db", "--daemonize", "no")
    assert list(argv[11:]) == expected
    assert "--requirepass" not in argv  # Platform.sh's Redis has no password


@pytest.mark.parametrize(("engine", "kind", "configuration"), [
    ("postgresql", "postgresql", {"databases": ["a", "b"]}),
    ("mariadb", "mariadb", {"schemas": ["a"], "endpoints": {}}),
    ("redis", "redis", {"maxmemory": 5}),
])
def test_configuration_not_supported_yet(engine: str, kind: str,
                                         configuration: dict[str, Any]) -> None:
    with pytest.raises(NotSupportedYet, match="not supported by shipway yet"):
        engine_for(engine, True).check(service(kind, "1", configuration))


@pytest.mark.parametrize(("engine", "made_by", "version", "ok"), [
    ("postgresql", "15", "15", True),
    ("postgresql", "15", "16", False),
    ("mariadb", "10.11.19", "10.11.20", True),
    ("mariadb", "10.6.1", "10.11.19", False),
    ("redis", "6.2.1", "7.0.15", True),
])
def test_data_compatibility(engine: str, made_by: str, version: str, ok: bool) -> None:
    assert engine_for(engine, True).compatible(made_by, version) is ok


def test_setup_script_is_one_idempotent_rule() -> None:
    script = setup_script("swtest")
    assert script[0] == "add table inet swtest"
    assert "flush chain inet swtest services_out" in script
    assert script[-1] == ("add rule inet swtest services_out tcp dport @service_ports ct state new "
                          "fib daddr type local tcp dport . meta skuid != @service_access "
                          "reject with tcp reset")


@pytest.mark.parametrize(("current", "wanted", "expected"), [
    (set(), {0, 5}, ["add element inet t service_ports { 80 }",
                     "add element inet t service_access { 80 . 0, 80 . 5 }"]),
    ({0, 5}, {0, 5}, ["add element inet t service_ports { 80 }"]),
    ({0, 5}, {0, 7}, ["add element inet t service_ports { 80 }",
                      "add element inet t service_access { 80 . 7 }",
                      "delete element inet t service_access { 80 . 5 }"]),
    ({0, 5}, set(), ["add element inet t service_ports { 80 }",
                     "delete element inet t service_access { 80 . 0, 80 . 5 }"]),
])
def test_access_script_changes_only_the_difference(current: set[int], wanted: set[int],
                                                   expected: list[str]) -> None:
    assert access_script("t", 80, current, wanted) == expected


@pytest.mark.parametrize(("table", "port", "uids"), [
    ("bad name", 80, [1]), ("t", 0, [1]), ("t", 70000, [1]), ("t", 80, [-1]),
])
def test_access_script_rejects_bad_input(table: str, port: int, uids: list[int]) -> None:
    with pytest.raises(ValueError):
        access_script(table, port, set(), uids)
