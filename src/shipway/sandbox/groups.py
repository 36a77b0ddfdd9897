"""Stopping a sandboxed process group: TERM to the app, then KILL to all.

Measured with bwrap 0.8: bwrap does not forward signals, and SIGTERM kills
it at once; `--die-with-parent` then SIGKILLs the sandbox, so a plain
`killpg(TERM)` gives the app no time to shut down. So TERM goes to every
member of the group except the outer bwrap (the one the caller started); the
app exits, the sandbox's init follows, bwrap exits with the app's status.
The inner bwrap, pid 1 of the sandbox, ignores the TERM (a namespace's init
gets only the signals it handles).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")


def members(pgid: int) -> list[int]:
    """Live (not zombie) processes in group `pgid`."""
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and _group_of(entry.name) == pgid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    return _stat_fields(str(pid)) is not None


def signal_group(pgid: int, sig: int, spare: int | None = None) -> None:
    """Send `sig` to each member of `pgid` except `spare`."""
    for pid in members(pgid):
        if pid != spare:
            _kill(pid, sig)


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll `condition` until true or `timeout` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True


def stop_group(pgid: int, leader_exited: Callable[[float], bool], grace: float) -> bool:
    """TERM the group (sparing an outer bwrap leader), KILL it after `grace`.
    `leader_exited(timeout)` waits for (and reaps) the leader. True if the
    group ended within the grace period."""
    signal_group(pgid, signal.SIGTERM, spare=pgid if _is_bwrap(pgid) else None)
    graceful = leader_exited(grace)
    if not graceful:
        _killpg(pgid, signal.SIGKILL)
        leader_exited(5.0)
    reap_group(pgid)
    return graceful


def reap_group(pgid: int, timeout: float = 5.0) -> None:
    """Wait until no process is left in `pgid`; KILL stragglers after `timeout`.
    The kernel tears a pid namespace down asynchronously after its init
    dies, so the sandbox may outlive bwrap by a few milliseconds."""
    if not wait_until(lambda: not members(pgid), timeout):
        _killpg(pgid, signal.SIGKILL)


def _is_bwrap(pid: int) -> bool:
    try:
        return (PROC / str(pid) / "comm").read_text().strip() == "bwrap"
    except OSError:
        return False


def _group_of(pid: str) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[2])


def _stat_fields(pid: str) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None
    if the process is gone or a zombie."""
    try:
        stat = (PROC / pid / "stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return None if fields[0] in ("Z", "X") else fields


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
