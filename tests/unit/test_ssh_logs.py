"""A4: the app's uid, and only it, is let read a log file by one ACL entry (real files)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from shipway.access.shell import grant_read

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch uids")


def _cat_as(uid: int, path: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["setpriv", "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
                           "cat", str(path)], capture_output=True, check=False)


def test_a4_grant_read_lets_one_uid_read_and_no_one_else() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as base:
        os.chmod(base, 0o755)
        log = Path(base) / "deploy.log"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"Launching hook\n")
        os.close(fd)
        assert _cat_as(65534, log).returncode != 0
        assert grant_read(log, 65534)
        assert _cat_as(65534, log).stdout == b"Launching hook\n"
        assert _cat_as(65533, log).returncode != 0  # another uid: still refused
        assert os.stat(log).st_uid == 0


def test_a4_grant_read_makes_a_missing_log_and_follows_no_symlink() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as base:
        missing = Path(base) / "post-deploy.log"
        assert grant_read(missing, 65534) and missing.read_bytes() == b""
        link = Path(base) / "app.log"
        link.symlink_to("/etc/shadow")
        assert not grant_read(link, 65534)
