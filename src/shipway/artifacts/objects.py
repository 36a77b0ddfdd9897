"""Content-addressed objects (B7): every artifact file is a hard link to one.

Theory of operation. A regular file's object is named by the SHA-256 of its
content and whether it is executable (hard links share one inode, so they
share a mode). A file is read (once, unless it is big), hashed, and written
only when no object holds that content yet — as the artifact's own file,
which then gets the object's name as a second link, so a reader never links
half an object. So a build that differs from an earlier one by one file adds
about that one file (and the new artifact's directories). Files are linked
by a few threads: hashing and system calls release the GIL, and the cost of
creating files on a busy disk is latency, which threads overlap.

Hard links also share an mtime: a file whose content an older build already
stored gets that build's mtime. Python's timestamp .pyc files record their
source's mtime, so `copy_tree` rewrites those stamps to match (else every
import would recompile, in memory, at each start: the code is read-only).

An object is orphaned when its link count is 1 (only its own name is left).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import struct
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
WORKERS = 4
PYC_HEADER = struct.Struct("<4sIII")  # magic, flags, source mtime, source size

Warn = Callable[[str], None]
Abort = Callable[[], None]


@dataclass(frozen=True)
class _File:
    src: str
    dst: str
    st: os.stat_result


class Objects:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        for i in range(256):
            (root / f"{i:02x}").mkdir(exist_ok=True)

    def path(self, digest: str, executable: bool) -> str:
        return f"{self.root}/{digest[:2]}/{digest[2:]}-{'x' if executable else 'r'}"

    def link(self, data: bytes | None, src: str, dst: str, st: os.stat_result) -> None:
        """Make `dst` a hard link to the object holding `src`'s content
        (`data` when given, already read)."""
        executable = bool(st.st_mode & 0o111)
        obj = self.path(_digest(data, src), executable)
        try:
            os.link(obj, dst)
            return
        except FileNotFoundError:
            pass  # new content (or collected meanwhile)
        except OSError as exc:
            if exc.errno != errno.EMLINK:
                raise
            # The inode's link limit (65000 on ext4): a fresh object takes over
            # the name; the artifacts linked so far keep the old inode.
            _write(data, src, dst, st, executable)
            tmp = os.path.join(self.tmp, uuid.uuid4().hex)
            os.link(dst, tmp)
            os.replace(tmp, obj)
            return
        # Written in place, then named: an object's name never shows a partial
        # file. A concurrent freeze may name the same content first: keep ours.
        _write(data, src, dst, st, executable)
        try:
            os.link(dst, obj)
        except FileExistsError:
            pass

    def orphans(self) -> list[Path]:
        """Objects no artifact links to any more."""
        found = []
        for sub in self.root.iterdir():
            if sub.name == "tmp" or not sub.is_dir():
                continue
            for obj in sub.iterdir():
                if obj.lstat().st_nlink == 1:
                    found.append(obj)
        return found


def copy_tree(src: Path, dst: Path, objects: Objects, warn: Warn, abort: Abort | None = None) -> None:
    """Copy the tree `src` to `dst` (which must not exist), every file as a
    hard link to its object. Directories are 0777 and files 0666 (0777 if
    executable): the read-only mount, not permissions, refuses writes."""
    files: list[_File] = []
    pycs: list[_File] = []
    dst.mkdir(mode=0o777)
    os.chmod(dst, 0o777)
    for dirpath, dirnames, filenames in os.walk(src):
        out = os.path.normpath(os.path.join(dst, os.path.relpath(dirpath, src)))
        for name in dirnames:
            _copy_dir_entry(f"{dirpath}/{name}", f"{out}/{name}")
        for name in filenames:
            _collect(f"{dirpath}/{name}", f"{out}/{name}", files, pycs, warn)
        if abort is not None:
            abort()
    _link_all(objects, files, _small)
    # After the sources: a .pyc's stamp follows its linked source's mtime.
    _link_all(objects, pycs, lambda f: _restamped_pyc(f, src, dst))


def _copy_dir_entry(src: str, dst: str) -> None:
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)  # os.walk lists symlinks to dirs as dirs
    else:
        os.mkdir(dst)
        os.chmod(dst, 0o777)


def _collect(src: str, dst: str, files: list[_File], pycs: list[_File], warn: Warn) -> None:
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif not stat.S_ISREG(st.st_mode):
        warn(f"W: {os.path.basename(src)}: not a regular file, directory or symlink; left out")
    elif st.st_size == 0:
        # Empty files are everywhere (__init__.py): an own inode each costs no
        # data block and spares one object tens of thousands of links.
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.fchmod(fd, 0o777 if st.st_mode & 0o111 else 0o666)
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.close(fd)
    elif src.endswith(".pyc"):
        pycs.append(_File(src, dst, st))
    else:
        files.append(_File(src, dst, st))


def _link_all(objects: Objects, files: list[_File], load: Callable[[_File], bytes | None]) -> None:
    def one(f: _File) -> None:
        objects.link(load(f), f.src, f.dst, f.st)

    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(one, files):
            pass


def _small(f: _File) -> bytes | None:
    """The content of a file small enough to hold in memory; None for big ones."""
    if f.st.st_size > 16 * CHUNK:
        return None
    # os.read, not open(): no buffered reader per file (a tenth of the freeze's CPU).
    fd = os.open(f.src, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        parts = [os.read(fd, f.st.st_size + 1)]
        while parts[-1]:  # grown since the walk saw it
            parts.append(os.read(fd, CHUNK))
    finally:
        os.close(fd)
    return b"".join(parts) if len(parts) > 2 else parts[0]


def _restamped_pyc(f: _File, src_root: Path, dst_root: Path) -> bytes:
    data = _small(f) or _read_all(f.src)
    source = _pyc_source(f.src)
    if len(data) < PYC_HEADER.size:
        return data
    magic, flags, stamp, size = PYC_HEADER.unpack_from(data)
    try:
        before = os.stat(source)
        after = os.stat(os.path.join(dst_root, os.path.relpath(source, src_root)))
    except OSError:
        return data
    fresh = flags == 0 and stamp == int(before.st_mtime) & 0xFFFFFFFF and size == before.st_size & 0xFFFFFFFF
    if not fresh or int(after.st_mtime) == int(before.st_mtime):
        return data
    return PYC_HEADER.pack(magic, flags, int(after.st_mtime) & 0xFFFFFFFF, size) + data[PYC_HEADER.size:]


def _pyc_source(pyc: str) -> str:
    """The .py a .pyc was compiled from: `d/__pycache__/m.cpython-311.pyc` or `d/m.pyc`."""
    folder, name = os.path.split(pyc)
    if os.path.basename(folder) == "__pycache__":
        module = name.split(".", 1)[0]
        return os.path.join(os.path.dirname(folder), module + ".py")
    return pyc[:-1]


def _write(data: bytes | None, src: str, dst: str, st: os.stat_result, executable: bool) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if data is None:
            with open(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                while chunk := f.read(CHUNK):
                    _write_all(fd, chunk)
        else:
            _write_all(fd, data)
        os.fchmod(fd, 0o777 if executable else 0o666)
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
    finally:
        os.close(fd)


def _digest(data: bytes | None, src: str) -> str:
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    # Root reads what the build wrote: a file swapped for a symlink since the
    # walk (by a build process still alive) must not pull a host file in.
    with open(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_all(src: str) -> bytes:
    with open(os.open(src, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
        return f.read()
