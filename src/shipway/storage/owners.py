"""Give a clone's files to the new environment's users.

A clone keeps its parent's owners, but each environment runs its apps and
services under uids of its own: PostgreSQL refuses a data directory owned
by another user, and an app could not write its mounts. One lchown per
file whose owner or group is in the map; data blocks stay shared (btrfs
rewrites only the inode's metadata).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def reown(path: Path, ids: Mapping[int, int]) -> int:
    """Change every uid and gid found in `ids` (old → new) under `path`,
    `path` included, without following links; the number of entries changed."""
    changed = _reown_one(str(path), os.lstat(path), ids)
    stack = [str(path)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                changed += _reown_one(entry.path, st, ids)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
    return changed


def _reown_one(path: str, st: os.stat_result, ids: Mapping[int, int]) -> int:
    uid, gid = ids.get(st.st_uid, st.st_uid), ids.get(st.st_gid, st.st_gid)
    if (uid, gid) == (st.st_uid, st.st_gid):
        return 0
    os.lchown(path, uid, gid)  # clears set-id bits, as it should for files of another user
    return 1
