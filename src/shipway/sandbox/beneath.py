"""Act as root on a tree an app can write, without a symlink redirecting us (S1).

Theory of operation. Root creates, chowns, empties and binds directories
inside trees the app owns (its mounts, its /tmp). Between two pushes the app
may replace any directory there with a symlink to a host path (`data/inner`
-> `/etc/cron.d`): anything that then walks the path by name (Path.mkdir,
shutil.chown, bwrap's --bind SRC) acts on the symlink's target as root.

So every such path is given as (base, rel): `base` is a directory only root
controls, `rel` a relative path inside it, opened beneath `base` with no
symlink followed (openat2.py). Directories are made one component at a time
with mkdirat() under an fd of their parent, each then opened the same way,
so a swap between the two calls is refused too. What we act on is the fd we
opened (fchown, bwrap's --bind-fd), never the name again.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shipway.errors import AppError
from shipway.sandbox.openat2 import open_beneath, parts

__all__ = ["PathEscape", "chown_tree", "for_each_entry", "make_dirs", "make_dirs_fd",
           "open_beneath", "opened", "opened_fd", "parts", "remove_tree"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class PathEscape(AppError):
    """A path under an app-writable tree is (or passes through) a symlink or
    leaves its base: most likely the app planted it. Nothing was done to it."""


@contextmanager
def opened(base: Path, rel: str = "") -> Iterator[int]:
    """`base/rel` opened as a directory (see open_beneath); `base` itself is trusted."""
    base_fd = os.open(base, _DIR)
    try:
        if not rel:
            yield base_fd
            return
        fd = _refusing(lambda: open_beneath(base_fd, rel), rel)
        try:
            yield fd
        finally:
            os.close(fd)
    finally:
        os.close(base_fd)


def opened_fd(base: Path, rel: str) -> int:
    """`base/rel` opened as a directory (see open_beneath); the caller closes the fd."""
    base_fd = os.open(base, _DIR)
    try:
        return _refusing(lambda: open_beneath(base_fd, rel), rel)
    finally:
        os.close(base_fd)


def make_dirs(base: Path, rel: str, owner: tuple[int, int] | None = None,
              mode: int | None = None) -> None:
    """mkdir -p `base/rel` beneath `base`; then give the last one to `owner` (uid, gid)."""
    fd = make_dirs_fd(base, rel)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        if mode is not None:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def make_dirs_fd(base: Path, rel: str) -> int:
    """As make_dirs, returning an fd of the last directory (the caller closes it)."""
    names = parts(rel)
    fd = os.open(base, _DIR)
    try:
        for i, name in enumerate(names):
            try:
                os.mkdir(name, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            so_far = "/".join(names[: i + 1])
            nxt = _refusing(lambda name=name, d=fd: open_beneath(d, name), so_far)
            os.close(fd)
            fd = nxt
        result, fd = fd, -1
        return result
    finally:
        if fd >= 0:
            os.close(fd)


def remove_tree(base: Path, rel: str) -> None:
    """rm -rf `base/rel` without following any symlink in or under it."""
    # shutil.rmtree walks by fds (O_NOFOLLOW, compared with lstat) on Linux;
    # the path to the tree's parent is ours to resolve.
    assert shutil.rmtree.avoids_symlink_attacks
    names = parts(rel)
    parent_rel = "/".join(names[:-1])
    try:
        with opened(base, parent_rel) as parent:
            try:
                st = os.lstat(names[-1], dir_fd=parent)
            except FileNotFoundError:
                return
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(names[-1], dir_fd=parent)
            else:
                os.unlink(names[-1], dir_fd=parent)
    except FileNotFoundError:
        return


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """chown -R `root` (itself included) without following any symlink in it.

    os.fwalk descends by directory fds, never by name, and each entry is
    changed by name under its directory's fd without following it: a
    directory swapped for a symlink meanwhile is never entered.
    """
    for_each_entry(root, lambda name, dir_fd, st: os.chown(name, uid, gid, dir_fd=dir_fd,
                                                           follow_symlinks=False))


def for_each_entry(root: Path, act: Callable[[str, int, os.stat_result], object]) -> None:
    """`act(name, dir_fd, lstat)` for `root` and every entry under it, following no symlink."""
    parent = os.open(root.parent, _DIR)
    try:
        act(root.name, parent, os.lstat(root.name, dir_fd=parent))
    finally:
        os.close(parent)
    for _, dirs, files, dir_fd in os.fwalk(root, follow_symlinks=False):
        for name in (*dirs, *files):
            try:
                st = os.lstat(name, dir_fd=dir_fd)
            except FileNotFoundError:
                continue
            act(name, dir_fd, st)


def _refusing(open_: Callable[[], int], rel: str) -> int:
    try:
        return open_()
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
            # The app-relative path only: the push output is no place for host paths.
            raise PathEscape(
                f"{rel} is a symlink or not a directory (made by the app?); shipway will not "
                "follow it as root: remove it from inside the app and push again"
            ) from None
        raise
