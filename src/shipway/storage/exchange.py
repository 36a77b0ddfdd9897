"""Swap two directories in one step: renameat2(RENAME_EXCHANGE).

Used by restore so that, even if shipway dies halfway, a volume's path holds
either its old content or the snapshot's — never nothing. Python has no
binding for renameat2, hence ctypes; where the call is missing or the
filesystem refuses it, the caller falls back to two renames.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

AT_FDCWD = -100
RENAME_EXCHANGE = 1 << 1
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}


def exchange(a: Path, b: Path) -> bool:
    """Swap `a` and `b` atomically; False if this host cannot (nothing changed)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError:  # a C library older than glibc 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))
