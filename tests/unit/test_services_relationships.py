"""PLATFORM_RELATIONSHIPS, service variables and /etc/hosts for an app (D4, reference §1.4, §3.2)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from shipway.config import ProjectConfig, Relationship, load_project
from shipway.errors import NotSupportedYet, PlatformError, UserError
from shipway.services.relationships import (
    AppEndpoint,
    Endpoint,
    host_names,
    hosts_file,
    relationships_document,
    service_consumers,
    service_url,
    service_variables,
)

SERVICES = """\
db: {type: "postgresql:15"}
cache: {type: "redis:7.0"}
mysqldb: {type: "mariadb:10.11"}
my-store: {type: "redis-persistent:7.0"}
mc: {type: "memcached:1.6"}
"""
ENDPOINTS = {
    "db": Endpoint(30001, "main", "pw1", "main"),
    "cache": Endpoint(30002, None, None, None),
    "mysqldb": Endpoint(30003, "user", "pw3", "main"),
    "my-store": Endpoint(30004, None, None, None),
    "mc": Endpoint(30005, None, None, None),
}
CLUSTER = "proj-main-bvxea6i"
PLATFORM_KEYS = ["username", "scheme", "service", "fragment", "ip", "hostname", "port", "cluster",
                 "host", "rel", "path", "query", "password", "type", "public", "host_mapped"]


def project(root: Path, relationships: str) -> ProjectConfig:
    app = "name: app\ntype: python:3.11\nweb: {commands: {start: run}}\n" + relationships
    (root / ".platform.app.yaml").write_text(textwrap.dedent(app))
    (root / ".platform").mkdir(exist_ok=True)
    (root / ".platform/services.yaml").write_text(SERVICES)
    return load_project(root)


def document(root: Path, relationships: str) -> dict[str, list[dict[str, Any]]]:
    config = project(root, relationships)
    return relationships_document(config.apps[0].relationships, config.services, ENDPOINTS,
                                  cluster=CLUSTER)


def test_memcached_entry_has_no_credentials(tmp_path: Path) -> None:
    (entry,) = document(tmp_path, 'relationships:\n  cache: "mc:memcached"\n')["cache"]
    assert (entry["scheme"], entry["rel"], entry["port"], entry["type"]) == (
        "memcached", "memcached", 30005, "memcached:1.6")
    assert (entry["username"], entry["password"], entry["path"], entry["query"]) == (None, None, None, [])


def test_postgresql_entry_in_platform_shape(tmp_path: Path) -> None:
    doc = document(tmp_path, 'relationships:\n  database: "db:postgresql"\n')
    assert list(doc) == ["database"]
    entry = doc["database"][0]
    assert list(entry) == PLATFORM_KEYS
    assert entry == {
        "username": "main", "scheme": "pgsql", "service": "db", "fragment": None,
        "ip": "127.0.0.1", "hostname": "db.internal", "port": 30001, "cluster": CLUSTER,
        "host": "database.internal", "rel": "postgresql", "path": "main",
        "query": {"is_master": True}, "password": "pw1", "type": "postgresql:15",
        "public": False, "host_mapped": False,
    }


# (id, relationships YAML) → {relationship: (service, rel, scheme, username, path, query, type)}
FORMS = [
    ("legacy strings", 'relationships:\n  database: "db:postgresql"\n  redis: "cache:redis"\n',
     {"database": ("db", "postgresql", "pgsql", "main", "main", {"is_master": True}, "postgresql:15"),
      "redis": ("cache", "redis", "redis", None, None, [], "redis:7.0")}),
    ("explicit", "relationships:\n  database: {service: mysqldb, endpoint: mysql}\n",
     {"database": ("mysqldb", "mysql", "mysql", "user", "main", {"is_master": True},
                   "mariadb:10.11")}),
    ("explicit, endpoint left out", "relationships:\n  sessions: {service: my-store}\n",
     {"sessions": ("my-store", "redis", "redis", None, None, [], "redis-persistent:7.0")}),
    ("null value", "relationships:\n  db:\n  cache: null\n",
     {"db": ("db", "postgresql", "pgsql", "main", "main", {"is_master": True}, "postgresql:15"),
      "cache": ("cache", "redis", "redis", None, None, [], "redis:7.0")}),
    ("flow set", "relationships: {db, mysqldb}\n",
     {"db": ("db", "postgresql", "pgsql", "main", "main", {"is_master": True}, "postgresql:15"),
      "mysqldb": ("mysqldb", "mysql", "mysql", "user", "main", {"is_master": True},
                  "mariadb:10.11")}),
]


@pytest.mark.parametrize(("relationships", "expected"), [f[1:] for f in FORMS],
                         ids=[f[0] for f in FORMS])
def test_relationship_forms(tmp_path: Path, relationships: str,
                            expected: dict[str, tuple[Any, ...]]) -> None:
    doc = document(tmp_path, relationships)
    got = {name: (e[0]["service"], e[0]["rel"], e[0]["scheme"], e[0]["username"], e[0]["path"],
                  e[0]["query"], e[0]["type"]) for name, e in doc.items()}
    assert got == expected
    for name, entries in doc.items():
        assert entries[0]["host"] == f"{name}.internal"
        assert entries[0]["port"] == ENDPOINTS[entries[0]["service"]].port


def test_service_variables(tmp_path: Path) -> None:
    doc = document(tmp_path, 'relationships:\n  database: "db:postgresql"\n'
                   '  redis: "cache:redis"\n  my-cache: "my-store:redis"\n')
    env = service_variables(doc)
    assert {k: v for k, v in env.items() if k.startswith("DATABASE_")} == {
        "DATABASE_USERNAME": "main", "DATABASE_SCHEME": "pgsql", "DATABASE_SERVICE": "db",
        "DATABASE_FRAGMENT": "", "DATABASE_IP": "127.0.0.1", "DATABASE_HOSTNAME": "db.internal",
        "DATABASE_PORT": "30001", "DATABASE_CLUSTER": CLUSTER, "DATABASE_HOST": "database.internal",
        "DATABASE_REL": "postgresql", "DATABASE_PATH": "main",
        "DATABASE_QUERY": "{'is_master': True}", "DATABASE_PASSWORD": "pw1",
        "DATABASE_TYPE": "postgresql:15", "DATABASE_PUBLIC": "false", "DATABASE_HOST_MAPPED": "false",
        "DATABASE_EPOCH": "0", "DATABASE_URL": "pgsql://main:pw1@database.internal:30001/main",
    }
    assert env["REDIS_URL"] == "redis://redis.internal:30002"
    assert (env["REDIS_QUERY"], env["REDIS_PASSWORD"], env["REDIS_USERNAME"]) == ("[]", "", "")
    assert env["MY_CACHE_HOST"] == "my-cache.internal"  # [^0-9A-Z_] becomes _


@pytest.mark.parametrize(("entry", "url"), [
    ({"scheme": "mysql", "username": "user", "password": "", "host": "database.internal",
      "port": 3306, "path": "main"}, "mysql://user@database.internal:3306/main"),
    ({"scheme": "pgsql", "username": "main", "password": "a b/c", "host": "h.internal",
      "port": 1, "path": "main"}, "pgsql://main:a%20b%2Fc@h.internal:1/main"),
    ({"scheme": "redis", "username": None, "password": None, "host": "r.internal", "port": 2,
      "path": None}, "redis://r.internal:2"),
])
def test_service_url(entry: dict[str, Any], url: str) -> None:
    assert service_url(entry) == url


def test_hosts_resolve_relationship_and_service_names(tmp_path: Path) -> None:
    doc = document(tmp_path, 'relationships:\n  database: "db:postgresql"\n  redis: "cache:redis"\n')
    names = host_names(doc)
    assert names == ["cache.internal", "database.internal", "db.internal", "redis.internal"]
    text = hosts_file(names, base="127.0.0.1 localhost\n10.0.0.5 myhost\n")
    assert text == ("127.0.0.1 localhost\n10.0.0.5 myhost\n127.0.0.1\tcache.internal\n"
                    "127.0.0.1\tdatabase.internal\n127.0.0.1\tdb.internal\n127.0.0.1\tredis.internal\n")
    assert hosts_file([]).startswith("127.0.0.1\tlocalhost\n")


def test_app_to_app_relationship_reaches_the_app_port(tmp_path: Path) -> None:
    apps = {"backend": AppEndpoint("python:3.11", 30123)}
    doc = relationships_document({"api": Relationship("backend", "http")}, {}, ENDPOINTS,
                                 cluster=CLUSTER, apps=apps)
    (entry,) = doc["api"]
    assert (entry["scheme"], entry["host"], entry["hostname"], entry["port"]) == (
        "http", "api.internal", "backend.internal", 30123)
    assert (entry["service"], entry["rel"], entry["type"], entry["username"]) == (
        "backend", "http", "python:3.11", None)
    assert service_url(entry) == "http://api.internal:30123"
    assert host_names(doc) == ["api.internal", "backend.internal"]


def test_app_to_app_relationship_needs_a_tcp_app_and_the_http_endpoint() -> None:
    with pytest.raises(NotSupportedYet, match="socket_family: tcp"):
        relationships_document({"api": Relationship("backend", "http")}, {}, ENDPOINTS,
                               cluster=CLUSTER, apps={"backend": AppEndpoint("nodejs:20", None)})
    with pytest.raises(UserError, match="has no endpoint 'grpc'"):
        relationships_document({"api": Relationship("backend", "grpc")}, {}, ENDPOINTS,
                               cluster=CLUSTER, apps={"backend": AppEndpoint("nodejs:20", 1)})


@pytest.mark.parametrize(("relationships", "error", "says"), [
    ('relationships:\n  database: "db:mysql"\n', UserError, "has no endpoint 'mysql'"),
    ('relationships:\n  database: "db:postgresql-replica"\n', UserError, "offers 'postgresql'"),
    ('relationships:\n  cache: "mc:redis"\n', UserError, "offers 'memcached'"),
])
def test_unusable_relationships(tmp_path: Path, relationships: str, error: type[Exception],
                                says: str) -> None:
    with pytest.raises(error, match=says):
        document(tmp_path, relationships)


def test_a_service_not_prepared_is_a_platform_error(tmp_path: Path) -> None:
    config = project(tmp_path, 'relationships:\n  database: "db:postgresql"\n')
    with pytest.raises(PlatformError, match="'db' has no endpoint yet"):
        relationships_document(config.apps[0].relationships, config.services, {}, cluster=CLUSTER)


def test_service_consumers_include_workers(tmp_path: Path) -> None:
    config = project(tmp_path, 'relationships:\n  database: "db:postgresql"\n'
                     "workers:\n  queue:\n    commands: {start: work}\n"
                     '    relationships: {cache: "cache:redis"}\n')
    assert service_consumers(config.apps, config.services) == {
        "db": {"app"}, "cache": {"app"}, "mysqldb": set(), "my-store": set(), "mc": set(),
    }
