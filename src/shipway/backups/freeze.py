"""Pausing an environment's writes for the instant of a non-live backup (BK1).

Platform.sh's default backup pauses the environment so nothing writes while
its disks are snapshotted. Here every process of the environment (apps,
workers, crons, services) is stopped with SIGSTOP and continued with SIGCONT
right after the btrfs snapshot: a stopped process writes nothing, and a
request arriving meanwhile is neither refused nor answered with an error —
its connection waits in the app's listen queue (the kernel accepts it) and
is answered once the app runs again. The pause is the snapshot's duration
plus the signalling, typically milliseconds (bench/backup.py measures it).

Processes are found by uid, the environment's app and service uids; a
process may fork while we stop the others, so the scan repeats until it
finds nothing new running.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
ROUNDS = 5


def stop(uids: Iterable[int]) -> list[int]:
    """SIGSTOP every process whose real uid is in `uids`; the pids stopped."""
    wanted = {str(u) for u in uids}
    stopped: list[int] = []
    for _ in range(ROUNDS):
        fresh = [pid for pid in _pids_of(wanted) if pid not in stopped]
        if not fresh:
            break
        for pid in fresh:
            try:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            except ProcessLookupError:
                pass
    return stopped


def resume(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def resume_all(uids: Iterable[int]) -> list[int]:
    """SIGCONT every stopped process of `uids`; the pids continued."""
    stopped = [pid for pid in _pids_of({str(u) for u in uids}) if _state(pid) == "T"]
    resume(stopped)
    return stopped


def _state(pid: int) -> str:
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _pids_of(uids: set[str]) -> list[int]:
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        real_uid = fields.get("Uid", "").split()[:1]
        if real_uid and real_uid[0] in uids and not fields.get("State", "").strip().startswith("Z"):
            found.append(int(entry.name))
    return found
