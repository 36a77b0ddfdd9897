"""The backup repository's password: generated on first use, kept root-only (BK2).

Losing it loses every backup (restic cannot decrypt without it), so the
activity that creates it says where it is and that it must be copied off
the machine; a file anyone else can read is refused rather than used.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from shipway.errors import UserError


def ensure_password(path: Path) -> bool:
    """Make sure `path` holds a password only its owner reads; True if generated now."""
    try:
        st = path.stat()
    except FileNotFoundError:
        _generate(path)
        return True
    if st.st_mode & 0o077 or not stat.S_ISREG(st.st_mode):
        raise UserError(f"the backup password file {path} must be a file only its owner can read "
                        f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 {path}")
    if st.st_uid != os.geteuid():
        raise UserError(f"the backup password file {path} belongs to uid {st.st_uid}, "
                        f"not to {os.geteuid()}; chown it")
    return False


def _generate(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
