"""Service types and the choice of the installed server that runs them (D4)."""

from __future__ import annotations

import pytest

from shipway.errors import NotSupportedYet, PlatformError, UserError
from shipway.services.kinds import kind_of
from shipway.services.versions import choose_version

# type → (engine, default endpoint, scheme, username, database, persistent, is_database)
KINDS = [
    ("postgresql", ("postgresql", "postgresql", "pgsql", "main", "main", True, True)),
    ("mariadb", ("mariadb", "mysql", "mysql", "user", "main", True, True)),
    ("mysql", ("mariadb", "mysql", "mysql", "user", "main", True, True)),
    ("oracle-mysql", ("oracle-mysql", "mysql", "mysql", "user", "main", True, True)),
    ("redis", ("redis", "redis", "redis", None, None, False, False)),
    ("redis-persistent", ("redis", "redis", "redis", None, None, True, False)),
    ("memcached", ("memcached", "memcached", "memcached", None, None, False, False)),
]


@pytest.mark.parametrize(("name", "expected"), KINDS, ids=[k[0] for k in KINDS])
def test_kind_facts(name: str, expected: tuple[object, ...]) -> None:
    k = kind_of(name)
    assert (k.engine, k.endpoint, k.scheme, k.username, k.database, k.persistent,
            k.is_database) == expected


@pytest.mark.parametrize(("name", "says"), [
    ("mongodb", "not supported by shipway yet"),
    ("elasticsearch", "not supported by shipway yet"),
    ("postgres", "unknown service type 'postgres'"),
])
def test_other_kinds_are_not_supported_yet(name: str, says: str) -> None:
    with pytest.raises(NotSupportedYet, match=says):
        kind_of(name)


# (type, asked, installed, nearest) → (version, warning?) ; ids name the rule shown
CHOICES = [
    ("same major", "postgresql", "15", ("15",), False, ("15", False)),
    ("highest matching major", "postgresql", "15", ("13", "15"), False, ("15", False)),
    ("series prefix", "mariadb", "10.11", ("10.11.19",), False, ("10.11.19", False)),
    ("major only", "redis", "7", ("7.0.15",), False, ("7.0.15", False)),
    ("minor", "redis-persistent", "7.0", ("7.0.15",), False, ("7.0.15", False)),
    ("nearest: only one", "postgresql", "16", ("15",), True, ("15", True)),
    ("C11 nearest: newer before a closer older", "postgresql", "13", ("12", "15"), True, ("15", True)),
    ("C11 nearest: nearest newer", "postgresql", "12", ("15", "17"), True, ("15", True)),
    ("C11 nearest: redis 5.0 runs on 7.0", "redis", "5.0", ("7.0.15",), True, ("7.0.15", True)),
    ("C11 nearest: mariadb 10.4 runs on 10.11", "mariadb", "10.4", ("10.11.19",), True,
     ("10.11.19", True)),
    ("C11 nearest: older only when none is newer", "mariadb", "11.2", ("10.6.1", "10.11.19"), True,
     ("10.11.19", True)),
    ("nearest: tie goes newer", "postgresql", "14", ("13", "15"), True, ("15", True)),
    ("nearest: minor", "redis", "7.2", ("6.2.1", "7.0.15"), True, ("7.0.15", True)),
    ("nearest: exact wins", "mariadb", "10.11", ("10.11.19",), True, ("10.11.19", False)),
]


@pytest.mark.parametrize(("kind", "asked", "installed", "nearest", "expected"),
                         [c[1:] for c in CHOICES], ids=[c[0] for c in CHOICES])
def test_choose_version(kind: str, asked: str, installed: tuple[str, ...], nearest: bool,
                        expected: tuple[str, bool]) -> None:
    choice = choose_version(kind_of(kind), asked, installed, nearest=nearest)
    assert (choice.version, choice.warning is not None) == expected
    if choice.warning:
        assert f"{kind}:{asked}" in choice.warning and choice.version in choice.warning
        assert f"instead of {asked}" in choice.warning  # both versions named (C11)


# (type, asked, installed, nearest) → fragments of the message
MISSING = [
    ("postgresql", "16", ("15",), False, ["postgresql:16", "installed: 15", "apt.postgresql.org"]),
    ("mariadb", "11.4", ("10.11.19",), False, ["mariadb:11.4", "10.11.19", "MariaDB's own apt"]),
    ("redis", "7.2", ("7.0.15",), False, ["redis:7.2", "7.0.15", "packages.redis.io"]),
    ("postgresql", "15", (), True, ["installed: none", "apt-get install postgresql"]),
    ("oracle-mysql", "8.0", (), True, ["oracle-mysql:8.0", "mariadb:<version>"]),
]


@pytest.mark.parametrize(("kind", "asked", "installed", "nearest", "says"), MISSING)
def test_missing_version_names_asked_installed_and_how(
        kind: str, asked: str, installed: tuple[str, ...], nearest: bool, says: list[str]) -> None:
    with pytest.raises(PlatformError) as raised:
        choose_version(kind_of(kind), asked, installed, nearest=nearest)
    for fragment in says:
        assert fragment in str(raised.value)


@pytest.mark.parametrize("asked", ["latest", "", "15-postgis", "7.x"])
def test_unreadable_version(asked: str) -> None:
    with pytest.raises(UserError, match="numbers separated by dots"):
        choose_version(kind_of("postgresql"), asked, ("15",))
