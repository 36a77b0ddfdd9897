"""Has a new process started? Decided from what was seen, not by waiting it out (S6). Pure.

The supervisor counts each exit of its child. An app that exits at start is
restarted after a back-off (1 s); if it exits again before it ever listened
it is crash-looping, and waiting for the listen timeout would only keep the
previous release stopped and the held requests waiting longer.
"""

from __future__ import annotations

from enum import Enum

CRASH_EXITS = 2  # one restart is allowed: a dependency may not have been ready


class Start(Enum):
    UP = "up"
    WAITING = "waiting"
    CRASHED = "crashed"
    TIMED_OUT = "timed out"


def start_verdict(listening: bool, exits: int, waited: float, timeout: float) -> Start:
    if listening:
        return Start.UP
    if exits >= CRASH_EXITS:
        return Start.CRASHED
    if waited >= timeout:
        return Start.TIMED_OUT
    return Start.WAITING
