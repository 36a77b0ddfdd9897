"""Give a clone's files to the new environment's users.

A clone keeps its parent's owners, but each environment runs its apps and
services under uids of its own: PostgreSQL refuses a data directory owned
by another user, and an app could not write its mounts. One lchown per
file whose owner or group is in the map; data blocks stay shared (btrfs
rewrites only the inode's metadata).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from shipway.sandbox.beneath import for_each_entry


def reown(path: Path, ids: Mapping[int, int]) -> int:
    """Change every uid and gid found in `ids` (old → new) under `path`,
    `path` included, without following links; the number of entries changed.
    Walked by directory fds (beneath.py): a directory an app swapped for a
    symlink is never entered (S1)."""
    changed = 0

    def one(name: str, dir_fd: int, st: os.stat_result) -> None:
        nonlocal changed
        uid, gid = ids.get(st.st_uid, st.st_uid), ids.get(st.st_gid, st.st_gid)
        if (uid, gid) != (st.st_uid, st.st_gid):
            # Clears set-id bits, as it should for files of another user.
            os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
            changed += 1

    for_each_entry(path, one)
    return changed
