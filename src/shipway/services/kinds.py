"""What each service type is, as apps see it (pure).

Facts from reference/platform-config.md §1.4 (default endpoints) and §3.2
(the relationship shapes): the endpoint a relationship without one gets, the
URL scheme, the default database and user. `engine` names the server that
runs a type on this host: `mysql` is Platform.sh's old name for MariaDB,
and `redis-persistent` is the same server as `redis` with its data kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipway.errors import NotSupportedYet

# Kinds Platform.sh has that shipway does not run yet (reference §2.1).
_KNOWN_ELSEWHERE = (
    "elasticsearch", "opensearch", "mongodb", "mongodb-enterprise", "rabbitmq",
    "solr", "kafka", "influxdb", "chrome-headless", "varnish", "vault-kms", "network-storage",
    "valkey", "clickhouse", "gotenberg", "netstorage",
)


@dataclass(frozen=True)
class Kind:
    """One service type (the part of `type` before the colon)."""

    name: str
    engine: str  # "postgresql" | "mariadb" | "redis" | "memcached" | "oracle-mysql"
    endpoint: str  # the default endpoint, also `rel` in PLATFORM_RELATIONSHIPS
    scheme: str
    username: str | None
    database: str | None  # `path` in PLATFORM_RELATIONSHIPS
    persistent: bool  # keeps its data across restarts

    @property
    def is_database(self) -> bool:
        """Databases say `query: {"is_master": true}`; others an empty list (§3.2)."""
        return self.database is not None


_POSTGRESQL = Kind("postgresql", "postgresql", "postgresql", "pgsql", "main", "main", True)
_MARIADB = Kind("mariadb", "mariadb", "mysql", "mysql", "user", "main", True)
_REDIS = Kind("redis", "redis", "redis", "redis", None, None, False)

KINDS: dict[str, Kind] = {
    "postgresql": _POSTGRESQL,
    "mariadb": _MARIADB,
    "mysql": Kind("mysql", "mariadb", "mysql", "mysql", "user", "main", True),
    # Relationships to it can be described, but no Oracle MySQL server runs here (versions.py).
    "oracle-mysql": Kind("oracle-mysql", "oracle-mysql", "mysql", "mysql", "user", "main", True),
    "redis": _REDIS,
    "redis-persistent": Kind("redis-persistent", "redis", "redis", "redis", None, None, True),
    "memcached": Kind("memcached", "memcached", "memcached", "memcached", None, None, False),
}


def kind_of(name: str) -> Kind:
    """The kind named by a service's `type`; NotSupportedYet for the others."""
    kind = KINDS.get(name)
    if kind is not None:
        return kind
    supported = ", ".join(sorted(KINDS))
    if name in _KNOWN_ELSEWHERE:
        raise NotSupportedYet(
            f"services of type '{name}' are not supported by shipway yet; supported: {supported}"
        )
    raise NotSupportedYet(f"unknown service type '{name}'; shipway runs: {supported}")
