"""Volumes as plain directories, for hosts where btrfs is impossible.

A copy is `cp -a` (a reflink where the filesystem can, e.g. XFS): it takes
time in proportion to the data and is NOT point-in-time, so the caller must
stop whatever writes the source first (`atomic` is False). A plain directory
looks like any other, so each volume has a marker beside it,
`.<name>.volume`; it is written before the directory appears and removed
after it has gone, so a crash leaves at worst a marker without a volume.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from shipway.storage.backend import Usage
from shipway.storage.commands import run

NO_LIMITS = "copy mode: plain directories have no size limit; {name} can fill the host's disk"


def marker(path: Path) -> Path:
    return path.with_name(f".{path.name}.volume")


class CopyBackend:
    @property
    def atomic(self) -> bool:
        return False

    def is_volume(self, path: Path) -> bool:
        return path.is_dir() and not path.is_symlink() and marker(path).is_file()

    def make(self, path: Path) -> None:
        marker(path).touch()
        path.mkdir()

    def copy(self, src: Path, dst: Path, *, readonly: bool) -> None:
        # `readonly` cannot be had without changing the copied modes; kept as they are.
        run("cp", "-a", "--reflink=auto", "--", str(src), str(dst))

    def place(self, staging: Path, dst: Path) -> None:
        marker(dst).touch()
        os.rename(staging, dst)

    def evict(self, path: Path, to: Path) -> None:
        os.rename(path, to)
        marker(path).unlink(missing_ok=True)

    def remove(self, path: Path) -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        marker(path).unlink(missing_ok=True)

    def get_limit(self, path: Path) -> int | None:
        return None

    def limit(self, path: Path, size_bytes: int | None) -> str | None:
        return NO_LIMITS.format(name=path.name)

    def usage(self, path: Path) -> Usage | None:
        return None  # a walk of every file: not cheap, so not offered

    def flush(self) -> None:
        pass  # a copy reads through the page cache: nothing to wait for

    def settle(self) -> None:
        pass  # rmtree has freed everything by the time it returns
