"""Volumes as btrfs subvolumes: copies are snapshots, atomic and copy-on-write.

Traps this module works around:
- A subvolume holding another cannot be deleted ("Directory not empty"), so
  `remove` deletes nested ones first — deepest first.
- A quota group belongs to a subvolume id, not a path: a subvolume put in
  a volume's place (a restore) starts without the old one's limit, so the
  pool carries it over with `get_limit`/`limit`.
- Quota figures are updated at transaction commit: `usage` syncs first.
- A deleted subvolume's space is freed later by a kernel thread (not even
  `sync` waits for it): `settle` does, before space is counted on.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from shipway.storage.backend import Usage
from shipway.storage.commands import CommandFailed, run

# BTRFS_FIRST_FREE_OBJECTID: the inode number of every subvolume's root directory.
SUBVOLUME_ROOT_INO = 256
QUOTAS_DISABLED = "not enabled"  # "quota not enabled" (limit), "quotas not enabled" (show)
QUOTAS_OFF = ("btrfs quotas are off on this filesystem, so no size limit is enforced; "
              "`btrfs quota enable {root}` would allow limits (it slows down snapshot deletion)")


@dataclass
class BtrfsBackend:
    root: Path
    quotas: bool

    @property
    def atomic(self) -> bool:
        return True

    def is_volume(self, path: Path) -> bool:
        try:
            st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return stat.S_ISDIR(st.st_mode) and st.st_ino == SUBVOLUME_ROOT_INO

    def make(self, path: Path) -> None:
        run("btrfs", "subvolume", "create", str(path))

    def copy(self, src: Path, dst: Path, *, readonly: bool) -> None:
        run("btrfs", "subvolume", "snapshot", *(["-r"] if readonly else []), str(src), str(dst))

    def place(self, staging: Path, dst: Path) -> None:
        os.rename(staging, dst)

    def evict(self, path: Path, to: Path) -> None:
        os.rename(path, to)

    def remove(self, path: Path) -> None:
        if self.is_volume(path):
            _delete_subvolume(path)
        elif path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # e.g. a snapshot's folder; rmdir(2) removes empty subvolumes
        elif path.exists() or path.is_symlink():
            path.unlink()

    def get_limit(self, path: Path) -> int | None:
        found = self._qgroup(path)
        return found.limit if found else None

    def limit(self, path: Path, size_bytes: int | None) -> str | None:
        if self.quotas:
            size = "none" if size_bytes is None else str(size_bytes)
            try:
                run("btrfs", "qgroup", "limit", "-e", size, str(path))  # why -e: quota.py
                return None
            except CommandFailed as exc:
                self._quotas_gone(exc)
        return QUOTAS_OFF.format(root=self.root)

    def usage(self, path: Path) -> Usage | None:
        if self.quotas:
            run("btrfs", "filesystem", "sync", str(path))
        return self._qgroup(path)

    def _qgroup(self, path: Path) -> Usage | None:
        if not self.quotas:
            return None
        try:
            return parse_qgroup_show(run("btrfs", "qgroup", "show", "-re", "--raw", "-f", str(path)))
        except CommandFailed as exc:
            self._quotas_gone(exc)
            return None

    def _quotas_gone(self, exc: CommandFailed) -> None:
        """Someone ran `btrfs quota disable`: carry on, without limits."""
        if QUOTAS_DISABLED not in exc.stderr:
            raise exc
        self.quotas = False

    def flush(self) -> None:
        run("btrfs", "filesystem", "sync", str(self.root))

    def settle(self) -> None:
        # The cleaner thread wakes at the next commit (up to 30 s away: 21 s
        # seen); BTRFS_IOC_SYNC commits and pokes it, so this takes ~1 s.
        self.flush()
        run("btrfs", "subvolume", "sync", str(self.root))


def parse_qgroup_show(text: str) -> Usage:
    """The level-0 line of `btrfs qgroup show -re --raw -f PATH`; the limit
    is the one on exclusive use (the fifth column)."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0].startswith("0/") and len(fields) >= 5:
            limit = None if fields[4] == "none" else int(fields[4])
            return Usage(int(fields[1]), int(fields[2]), limit)
    raise ValueError(f"no subvolume quota group in: {text!r}")


def _delete_subvolume(path: Path) -> None:
    try:
        run("btrfs", "subvolume", "delete", str(path))
    except CommandFailed as exc:
        if "Directory not empty" not in exc.stderr:
            raise
        for nested in nested_subvolumes(path):
            _delete_subvolume(nested)
        run("btrfs", "subvolume", "delete", str(path))


def nested_subvolumes(path: Path) -> list[Path]:
    """Subvolumes directly inside the subvolume at `path` (not below them).
    Only directories are stat'ed, so this costs one call per directory."""
    found = []
    for dirpath, dirnames, _ in os.walk(path):
        for d in list(dirnames):
            full = Path(dirpath) / d
            st = os.stat(full, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and st.st_ino == SUBVOLUME_ROOT_INO:
                found.append(full)
                dirnames.remove(d)
    return found
