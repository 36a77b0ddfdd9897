"""A4 attack found in review (session 18): root's own `shipway ssh` hands the operator's
terminal to the app's sandbox, whose code (the pushed repository's, running as the app's
uid) can push keystrokes into it with TIOCSTI; root's shell reads them after the session."""

from __future__ import annotations

import base64
import os
import select
import subprocess
import termios
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import SHIPWAY, STDLIB, Shipway, make_repo, push

pytestmark = pytest.mark.e2e

PAYLOAD = (b"import fcntl, termios\n"
           b"for c in b'touch /tmp/pwned-by-app; echo INJECTED\\n':\n"
           b"    fcntl.ioctl(2, termios.TIOCSTI, bytes([c]))\n")
# What the app's own code could run in a session (a .profile, a wrapper, a cron'd tool).
INJECT = f"echo {base64.b64encode(PAYLOAD).decode()} | base64 -d | python3; echo sent"


@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipway]:
    repo = make_repo(tmp_path_factory.mktemp("tiocsti") / "repo", STDLIB)
    out = push(repo, shipway.create_project("shop"))
    assert out.returncode == 0, out.stdout + out.stderr
    yield shipway


def _drain(fd: int, seconds: float) -> bytes:
    got, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            got += chunk
    return got


def test_a4_the_app_cannot_type_into_roots_terminal(site: Shipway) -> None:
    master, slave = os.openpty()  # the operator's terminal; the test plays their shell
    attrs = termios.tcgetattr(slave)
    attrs[3] &= ~termios.ICANON  # read what is queued, line or not
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    proc = subprocess.Popen([*SHIPWAY, "ssh", "-p", "shop", "-e", "main", "--", INJECT],
                            env=site.env, stdin=slave, stdout=slave, stderr=slave)
    output = b""
    while proc.poll() is None:
        output += _drain(master, 0.2)
    output += _drain(master, 0.5)
    assert b"sent" in output, output.decode(errors="replace")
    os.set_blocking(slave, False)
    try:
        queued = os.read(slave, 4096)
    except BlockingIOError:
        queued = b""
    os.close(slave)
    os.close(master)
    assert b"INJECTED" not in queued, f"the app typed into root's terminal: {queued!r}"
