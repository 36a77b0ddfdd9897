"""The build's time limit and cancel (B8), as one stop decision.

One deadline covers the whole build, every step included (not one limit per
step, which a build of many steps could multiply). Checked while a step runs
(the runner polls it) and between steps, so a cancelled build stops whatever
phase it is in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shipway.errors import Cancelled

# TERM, then KILL after this: the whole tree is gone well within the 2 s
# that `activity:cancel` promises, even when a hook ignores TERM.
STOP_GRACE = 1.0


class Deadline:
    def __init__(
        self,
        seconds: float,
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.cancel = cancel
        self.clock = clock
        self.ends = clock() + seconds

    def reason(self) -> str | None:
        """Why the build must stop now, or None."""
        if self.cancel is not None and self.cancel.is_set():
            return "build cancelled"
        if self.clock() >= self.ends:
            return (f"build exceeded its time limit of {self.seconds:g} s "
                    "(SHIPWAY_BUILD_TIMEOUT, in seconds, raises it)")
        return None

    def check(self) -> None:
        why = self.reason()
        if why is not None:
            raise Cancelled(why)
