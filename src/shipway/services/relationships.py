"""What an app is told about the services it may use (pure): the
PLATFORM_RELATIONSHIPS document (reference §3.2), Upsun's service variables,
and the names its /etc/hosts must resolve.

Every service listens on 127.0.0.1 on a port of its own, and also answers
at an address of its own on its standard port (standard.py, C6a): `ip` is
that address and `port` the standard one (5432, 3306, 6379, 11211), as
apps that hard-code them expect. `host` is `<relationship>.internal` and
`hostname` `<service>.internal`; the reference shows both spellings in
use, so both resolve to `ip` (`hosts_file`).

A relationship may also name another app of the project (`api:
"backend:http"`). The app is reached where it listens: its `PORT` on
127.0.0.1 (apps of one environment run as one uid, so no rule stands in
the way; other environments' apps and the builds are other uids).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from shipway.config.model import AppConfig, Relationship, ServiceConfig
from shipway.errors import NotSupportedYet, PlatformError, UserError
from shipway.services.kinds import kind_of

LOOPBACK = "127.0.0.1"
DEFAULT_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


@dataclass(frozen=True)
class Endpoint:
    """How to reach one running service instance: the facts that differ per
    instance (the rest follows from its type)."""

    port: int
    username: str | None
    password: str | None
    path: str | None
    ip: str = LOOPBACK


@dataclass(frozen=True)
class AppEndpoint:
    """Where another app of the environment answers HTTP."""

    type: str
    port: int | None  # None: it listens on a unix socket


APP_ENDPOINT = "http"


def relationships_document(
    relationships: Mapping[str, Relationship],
    services: Mapping[str, ServiceConfig],
    endpoints: Mapping[str, Endpoint],
    *,
    cluster: str,
    apps: Mapping[str, AppEndpoint] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """PLATFORM_RELATIONSHIPS for one app (or worker): `endpoints` by service
    name, `apps` by app name (the apps it may name); `cluster` is
    `<project id>-<environment machine name>`."""
    return {
        name: [_app_entry(name, rel, apps[rel.service], cluster) if rel.service in (apps or {})
               else _entry(name, rel, services, endpoints, cluster)]
        for name, rel in sorted(relationships.items())
    }


def _app_entry(name: str, rel: Relationship, target: AppEndpoint, cluster: str) -> dict[str, Any]:
    endpoint = rel.endpoint or APP_ENDPOINT
    if endpoint != APP_ENDPOINT:
        raise UserError(f"relationship '{name}': app '{rel.service}' has no endpoint '{endpoint}'; "
                        f"shipway offers '{APP_ENDPOINT}'")
    if target.port is None:
        raise NotSupportedYet(
            f"relationship '{name}': app '{rel.service}' listens on a unix socket, and shipway "
            f"connects apps to apps over TCP only so far; give '{rel.service}' "
            "`web.upstream.socket_family: tcp` (Platform.sh's default)")
    return {
        "username": None,
        "scheme": "http",
        "service": rel.service,
        "fragment": None,
        "ip": LOOPBACK,
        "hostname": f"{rel.service}.internal",
        "port": target.port,
        "cluster": cluster,
        "host": f"{name}.internal",
        "rel": endpoint,
        "path": None,
        "query": [],
        "password": None,
        "type": target.type,
        "public": False,
        "host_mapped": False,
    }


def _entry(name: str, rel: Relationship, services: Mapping[str, ServiceConfig],
           endpoints: Mapping[str, Endpoint], cluster: str) -> dict[str, Any]:
    service = services.get(rel.service)
    if service is None:
        raise PlatformError(f"relationship '{name}': '{rel.service}' is neither a service nor "
                            "an app of this project")
    kind = kind_of(service.kind)
    endpoint = rel.endpoint or kind.endpoint
    if endpoint != kind.endpoint:
        raise UserError(f"relationship '{name}': service '{service.name}' ({service.type}) has no "
                        f"endpoint '{endpoint}'; shipway offers '{kind.endpoint}'")
    facts = endpoints.get(service.name)
    if facts is None:
        raise PlatformError(f"relationship '{name}': service '{service.name}' has no endpoint yet "
                            f"(was it prepared?)")
    # Key order as Platform.sh prints it (reference §3.2).
    return {
        "username": facts.username,
        "scheme": kind.scheme,
        "service": service.name,
        "fragment": None,
        "ip": facts.ip,
        "hostname": f"{service.name}.internal",
        "port": facts.port,
        "cluster": cluster,
        "host": f"{name}.internal",
        "rel": endpoint,
        "path": facts.path,
        # An empty *list* for non-databases: PHP's serialisation of an empty map.
        "query": {"is_master": True} if kind.is_database else [],
        "password": facts.password,
        "type": service.type,
        "public": False,
        "host_mapped": False,
    }


def service_variables(document: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, str]:
    """Upsun's `<RELATIONSHIP>_<FIELD>` variables (reference §3.2), plus
    `_URL` and `_EPOCH`, for the first endpoint of each relationship."""
    variables: dict[str, str] = {}
    for name, entries in document.items():
        prefix = re.sub(r"[^0-9A-Z_]", "_", name.upper())
        entry = entries[0]
        for key, value in [*entry.items(), ("epoch", 0), ("url", service_url(entry))]:
            variables[f"{prefix}_{key.upper()}"] = _variable(value)
    return variables


def service_url(entry: Mapping[str, Any]) -> str:
    """`scheme://user:password@host:port/path`, e.g. pgsql://main:pw@database.internal:5432/main."""
    user = ""
    if entry.get("username"):
        user = quote(entry["username"], safe="")
        if entry.get("password"):
            user += ":" + quote(entry["password"], safe="")
        user += "@"
    path = f"/{entry['path']}" if entry.get("path") else ""
    return f"{entry['scheme']}://{user}{entry['host']}:{entry['port']}{path}"


def _variable(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return repr(value)  # Upsun prints e.g. {'is_master': True}, as Python would
    return str(value)


def host_names(document: Mapping[str, list[Mapping[str, Any]]]) -> list[str]:
    """Every name the app must resolve: each relationship's and each service's."""
    return sorted({e[key] for entries in document.values() for e in entries
                   for key in ("host", "hostname")})


def host_addresses(document: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, str]:
    """Each name the app must resolve → the address its entry gives (C6a:
    a service's own loopback address, an app's 127.0.0.1)."""
    return {e[key]: e.get("ip") or LOOPBACK for entries in document.values() for e in entries
            for key in ("host", "hostname")}


def hosts_file(names: Iterable[str] | Mapping[str, str], base: str = DEFAULT_HOSTS) -> str:
    """An /etc/hosts for the app's sandbox: `base` (e.g. the host's own file)
    plus every name on its address (names alone: the loopback address)."""
    addresses = dict(names) if isinstance(names, Mapping) else dict.fromkeys(names, LOOPBACK)
    lines = [base.rstrip("\n")] if base.strip() else []
    lines += [f"{addresses[name]}\t{name}" for name in sorted(addresses)]
    return "\n".join(lines) + "\n"


def service_consumers(apps: Iterable[AppConfig], services: Iterable[str]) -> dict[str, set[str]]:
    """Each service → the apps whose web or worker instances have a
    relationship to it: whom the firewall lets in (isolation.py)."""
    consumers: dict[str, set[str]] = {name: set() for name in services}
    for app in apps:
        for rels in [app.relationships, *(w.relationships for w in app.workers.values())]:
            for rel in rels.values():
                if rel.service in consumers:
                    consumers[rel.service].add(app.name)
    return consumers
