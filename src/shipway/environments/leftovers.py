"""Processes an environment's uids still run once it stops (S5).

An environment's app uid and service uid are its own while it holds its
slot, and the next environment to run gets the same slot, so the same uids:
the firewall lets those uids reach that environment's services (Redis has no
password) and app ports. So no process of them may outlive the environment:
a cron still running, or a process that left its supervisor (`setsid`, a
double fork out of a hook). `kill_all` SIGKILLs every process whose real,
effective, saved or file-system uid is one of them, in rounds until none is
left (a child forked between two rounds is found in the next one); through
a pidfd, so a pid reused meanwhile by another process is never signalled.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Collection
from pathlib import Path

from shipway.errors import PlatformError

PROC = Path("/proc")


def status_uids(status: str) -> tuple[set[int], bool]:
    """The uids of one /proc/<pid>/status text, and whether it is a zombie (pure)."""
    uids: set[int] = set()
    zombie = False
    for line in status.splitlines():
        if line.startswith("Uid:"):
            uids = {int(field) for field in line.split()[1:]}
        elif line.startswith("State:"):
            zombie = line.split()[1:2] == ["Z"]
    return uids, zombie


def processes_of(uids: Collection[int], proc: Path = PROC) -> list[int]:
    """Live (not zombie) processes with any of `uids`."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            owners, zombie = status_uids((entry / "status").read_text())
        except OSError:
            continue  # gone
        if owners & set(uids) and not zombie:
            found.append(int(entry.name))
    return sorted(found)


def kill_all(uids: Collection[int], timeout: float = 10.0) -> list[int]:
    """SIGKILL every process of `uids`; the pids killed. Raises if some outlive `timeout`."""
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while left := processes_of(uids):
        if time.monotonic() > deadline:
            raise PlatformError(
                f"processes {', '.join(map(str, left))} of uid(s) {', '.join(map(str, sorted(uids)))} "
                f"survived SIGKILL for {timeout:.0f} s; their environment's uids cannot be reused")
        for pid in left:
            if _kill(pid, uids):
                killed.append(pid)
        time.sleep(0.05)
    return sorted(set(killed))


def _kill(pid: int, uids: Collection[int]) -> bool:
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return False  # gone
    try:
        owners, _ = status_uids((PROC / str(pid) / "status").read_text())
        if not owners & set(uids):
            return False  # the pid is another process's now
        signal.pidfd_send_signal(fd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
