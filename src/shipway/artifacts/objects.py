"""Content-addressed objects (B7): every artifact file is a hard link to one.

Theory of operation. A regular file's object is named by the SHA-256 of its
content and whether it is executable (hard links share one inode, so they
share a mode). Writing an object goes through `tmp/` and a rename, so a
reader never links half an object. A file is read once: hashed, and written
only when no object holds that content yet, so a build that differs from an
earlier one by one file adds about that one file.

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
WORKERS = 4  # I/O and hashing release the GIL; 4 keeps 2 cores busy
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

    def path(self, digest: str, executable: bool) -> str:
        return os.path.join(self.root, digest[:2], f"{digest[2:]}-{'x' if executable else 'r'}")

    def link(self, data: bytes | None, src: str, dst: str, st: os.stat_result) -> None:
        """Make `dst` a hard link to the object holding `src`'s content
        (`data` when given, already read)."""
        executable = bool(st.st_mode & 0o111)
        digest = _digest(data, src)
        obj = self.path(digest, executable)
        for _ in range(3):
            if not os.path.exists(obj):
                self._write(data, src, obj, st, executable)
            try:
                os.link(obj, dst)
                return
            except FileNotFoundError:  # collected between our check and the link
                continue
            except OSError as exc:
                if exc.errno != errno.EMLINK:
                    raise
                # The inode's link limit (65000 on ext4): start a fresh object
                # under the same name; existing links keep the old inode.
                self._write(data, src, obj, st, executable)
        raise OSError(f"could not store {src}")

    def _write(self, data: bytes | None, src: str, obj: str, st: os.stat_result, executable: bool) -> None:
        tmp = os.path.join(self.tmp, uuid.uuid4().hex)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if data is None:
                with open(src, "rb") as f:
                    while chunk := f.read(CHUNK):
                        os.write(fd, chunk)
            else:
                _write_all(fd, data)
            os.fchmod(fd, 0o777 if executable else 0o666)
            os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fd)
        os.makedirs(os.path.dirname(obj), exist_ok=True)
        os.rename(tmp, obj)

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
        rel = os.path.relpath(dirpath, src)
        out = os.path.normpath(os.path.join(dst, rel))
        for name in dirnames:
            _copy_dir_entry(os.path.join(dirpath, name), os.path.join(out, name))
        for name in filenames:
            _collect(os.path.join(dirpath, name), os.path.join(out, name), files, pycs, warn)
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
        for _ in pool.map(one, files, chunksize=64):
            pass


def _small(f: _File) -> bytes | None:
    """The content of a file small enough to hold in memory; None for big ones."""
    if f.st.st_size > 16 * CHUNK:
        return None
    with open(f.src, "rb") as fh:
        return fh.read()


def _restamped_pyc(f: _File, src_root: Path, dst_root: Path) -> bytes:
    data = _small(f) or Path(f.src).read_bytes()
    source = _pyc_source(f.src)
    if source is None or len(data) < PYC_HEADER.size:
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


def _pyc_source(pyc: str) -> str | None:
    """The .py a .pyc was compiled from: `d/__pycache__/m.cpython-311.pyc` or `d/m.pyc`."""
    folder, name = os.path.split(pyc)
    if os.path.basename(folder) == "__pycache__":
        module = name.split(".", 1)[0]
        return os.path.join(os.path.dirname(folder), module + ".py")
    return pyc[:-1]


def _digest(data: bytes | None, src: str) -> str:
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    with open(src, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
