"""Remove what a cloned data directory must not carry from its parent.

A clone is a copy of a live (or just stopped) server's files, so it holds
the parent's lock files: PostgreSQL refuses to start on a `postmaster.pid`
or a socket lock naming a process that is alive — the parent's own — and
MariaDB's `<host>.pid` is as stale. Sockets copied along are dead ends.
Redis keeps nothing of the kind in its data directory.

pid files are removed only in directories that are recognisably a
database's data directory, so an app's own files in its mounts are left be.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MARIADB_MARKERS = frozenset({"aria_log_control", "ibdata1", "mysql"})


def scrub_clone(path: Path) -> list[Path]:
    """Remove stale pid, lock and socket files under `path`; those removed."""
    removed: list[Path] = []
    stack = [Path(path)]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as it:
            entries = list(it)
        names = {e.name for e in entries}
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif _stale(entry, names):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return sorted(removed)


def _stale(entry: os.DirEntry[str], siblings: set[str]) -> bool:
    name = entry.name
    if name == "postmaster.pid" and "PG_VERSION" in siblings:
        return True
    if name.endswith(".pid") and siblings & MARIADB_MARKERS:
        return True
    if (name.startswith(".s.PGSQL.") and name.endswith(".lock")) or name.endswith(".sock.lock"):
        return True
    # d_type tells files, folders and links apart for free; only the rest is stat'ed.
    if entry.is_file(follow_symlinks=False) or entry.is_symlink():
        return False
    return stat.S_ISSOCK(entry.stat(follow_symlinks=False).st_mode)
