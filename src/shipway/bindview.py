"""Bind-mount views of a directory with other mount flags (ro, nosymfollow).

The same technique as the artifact store's views (artifacts/store.py): a
bind mount, then a remount that sets the flags on the view alone, so the
source keeps its own. Views do not survive a reboot: `ensure` mounts again.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from shipway.errors import PlatformError


def ensure(source: Path, view: Path, flags: str) -> None:
    """Mount `source` at `view` with `flags` unless something is mounted there already."""
    view.mkdir(parents=True, exist_ok=True)
    if not is_mount(view):
        _run("mount", "--bind", str(source), str(view))
        _run("mount", "-o", f"remount,bind,{flags}", str(view))


def release(view: Path) -> None:
    while is_mount(view):
        _run("umount", "-l", str(view))


def is_mount(path: Path) -> bool:
    # Not os.path.ismount: a bind mount of a directory of the same file
    # system has the same st_dev as its parent, so ismount says no.
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        return any(_unescape(line.split()[4]) == target for line in f)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PlatformError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


# mount(2) flags (linux/mount.h); MS_NOSYMFOLLOW needs Linux 5.10.
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_NOSYMFOLLOW = 32, 4096, 256
SERVED_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOSYMFOLLOW


def ensure_fd(fd: int, view: Path, flags: int = SERVED_FLAGS) -> None:
    """Mount the directory open as `fd` at `view` with `flags`, unless mounted already.

    By the fd, not a path: the directory may lie in a tree an app writes,
    where a path could be swapped for a symlink between check and mount.
    The kernel resolves /proc/self/fd/N to that very directory.
    """
    view.mkdir(parents=True, exist_ok=True)
    if is_mount(view):
        return
    _mount(f"/proc/self/fd/{fd}", view, MS_BIND)
    _mount(None, view, MS_REMOUNT | MS_BIND | flags)


def _mount(source: str | None, target: Path, flags: int) -> None:
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    src = None if source is None else source.encode()
    if libc.mount(src, str(target).encode(), None, ctypes.c_ulong(flags), None) != 0:
        err = ctypes.get_errno()
        raise PlatformError(f"mount {source} on {target} failed: {os.strerror(err)}")
