"""BK1's write pause on a real process: stopped by uid, continued, and continued again at
start-up if a crash left it stopped."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from shipway.backups import freeze

UID = 64999  # no user; nothing else runs as it

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="running a process as another uid needs root")


def state(pid: int) -> str:
    return freeze._state(pid)


def wait_state(pid: int, wanted: str) -> None:
    deadline = time.monotonic() + 5
    while state(pid) != wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state(pid) == wanted


@pytest.fixture
def proc() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen(["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups",
                              "sleep", "30"])
    deadline = time.monotonic() + 5
    while not freeze._pids_of({str(UID)}) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield child
    child.kill()
    child.wait()


def test_stop_and_resume_by_uid(proc: subprocess.Popen[bytes]) -> None:
    stopped = freeze.stop([UID])
    assert stopped == [proc.pid]
    wait_state(proc.pid, "T")
    freeze.resume(stopped)
    wait_state(proc.pid, "S")


def test_resume_all_continues_what_a_crash_left_stopped(proc: subprocess.Popen[bytes]) -> None:
    freeze.stop([UID])
    wait_state(proc.pid, "T")
    assert freeze.resume_all([UID]) == [proc.pid]
    wait_state(proc.pid, "S")
    assert freeze.resume_all([UID]) == []


def test_other_uids_are_left_alone(proc: subprocess.Popen[bytes]) -> None:
    assert freeze.stop([UID + 1]) == []
    assert state(proc.pid) == "S"
