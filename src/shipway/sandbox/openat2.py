"""Open a path beneath a directory fd, following no symlink (S1). Small on
purpose: bindexec.py imports it at every sandbox start.

openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
(Linux 5.6, called through ctypes: Python has no binding): the kernel
refuses any symlink anywhere in the path (ELOOP) and any step out of the
directory (EXDEV), atomically. Where openat2 is missing (ENOSYS: an older
kernel; EPERM: a seccomp filter) each component is opened with O_NOFOLLOW
under its parent's fd: the path holds no "..", "." or empty component
(checked first), so with one component per call there is no other symlink
to follow and no way up.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}.get(os.uname().machine)
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


_openat2_works = _SYS_OPENAT2 is not None
_Openat2 = Callable[[int, bytes, int], tuple[int, int]]
_openat2: _Openat2 | None = None  # loaded on first use: ctypes costs a sandbox start ~10 ms


def _load_openat2() -> _Openat2:
    import ctypes  # noqa: PLC0415 - see _openat2

    class OpenHow(ctypes.Structure):
        _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                    ("resolve", ctypes.c_uint64)]

    libc = ctypes.CDLL(None, use_errno=True)

    def call(dir_fd: int, path: bytes, flags: int) -> tuple[int, int]:
        how = OpenHow(flags, 0, _RESOLVE)
        fd = libc.syscall(_SYS_OPENAT2, dir_fd, path, ctypes.byref(how), ctypes.sizeof(how))
        return int(fd), ctypes.get_errno()

    return call


def parts(rel: str) -> list[str]:
    """The components of `rel`; ValueError if it is absolute or holds ., .. or //."""
    if rel.startswith("/") or not rel:
        raise ValueError(f"not a relative path: {rel!r}")
    names = rel.rstrip("/").split("/")
    if any(name in ("", ".", "..") or "\0" in name for name in names):
        raise ValueError(f"path {rel!r} must not hold empty, '.' or '..' components")
    return names


def open_beneath(dir_fd: int, rel: str, flags: int = _DIR) -> int:
    """An fd for `rel` under the directory `dir_fd`, no symlink followed, never above it."""
    global _openat2_works, _openat2
    names = parts(rel)
    if _openat2_works:
        if _openat2 is None:
            _openat2 = _load_openat2()
        fd, err = _openat2(dir_fd, os.fsencode(rel), flags | os.O_CLOEXEC)
        if fd >= 0:
            return fd
        if err not in (errno.ENOSYS, errno.EPERM):  # EPERM: a seccomp filter said no
            raise OSError(err, os.strerror(err), rel)
        _openat2_works = False
    return _walk(dir_fd, names, flags)


def _walk(dir_fd: int, names: list[str], flags: int) -> int:
    fd = os.dup(dir_fd)
    try:
        for name in names[:-1]:
            nxt = os.open(name, _DIR | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return os.open(names[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)
