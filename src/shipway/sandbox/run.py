"""Run one sandboxed command to completion, streaming its output (builds, hooks).

Both pipes are read from this thread with a selector, so `on_line` is never
called concurrently and needs no locking. The pipes reach EOF only once every
process in the sandbox is gone: bwrap's pid namespace dies with the command,
so a hook's forgotten background job cannot keep a build open; and the
call returns only once every process of the command has gone (S9: a test
counting the sandbox uid's processes right after saw one still exiting).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import threading
import time
from collections.abc import Callable, Mapping

from shipway.errors import Cancelled, PlatformError
from shipway.sandbox import envfd
from shipway.sandbox.groups import reap_group, stop_group
from shipway.sandbox.layout import HostLayout
from shipway.sandbox.spec import SandboxSpec, bwrap_command

KILL_AFTER = 2.0
MAX_LINE = 65536  # a line without a newline (a progress bar) is cut here
POLL = 0.1

OnLine = Callable[[str, bool], None]


def run_oneshot(
    spec: SandboxSpec,
    *,
    on_line: OnLine,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    host_layout: HostLayout | None = None,
) -> int:
    """Run `spec`, call `on_line(line, is_stderr)` for each output line as it
    comes, return the exit status. Raises Cancelled when `cancel` is set or
    `timeout` seconds pass; the whole process group is stopped first."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def reason() -> str | None:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        if deadline is not None and time.monotonic() >= deadline:
            return f"exceeded its time limit of {timeout:g} s"
        return None

    command = bwrap_command(spec, host_layout)
    return run_argv(list(command.argv), env=command.env, on_line=on_line, stop=reason)


def _spawn(argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    try:
        return envfd.popen(argv, env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise PlatformError(f"{argv[0]} not found: apt-get install bubblewrap") from exc


def _pump(
    proc: subprocess.Popen[bytes], on_line: OnLine, reason: Callable[[], str | None]
) -> str | None:
    """Deliver lines until both pipes close; a stop reason if one came first."""
    assert proc.stdout is not None and proc.stderr is not None
    splitters = {proc.stdout.fileno(): _Lines(False), proc.stderr.fileno(): _Lines(True)}
    with selectors.DefaultSelector() as selector:
        for fd in splitters:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            why = reason()
            if why is not None:
                return why
            for key, _ in selector.select(POLL):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                splitters[key.fd].feed(chunk, on_line)
    return None


def _wait(proc: subprocess.Popen[bytes], reason: Callable[[], str | None]) -> str | None:
    while True:
        try:
            proc.wait(POLL)
            return None
        except subprocess.TimeoutExpired:
            why = reason()
            if why is not None:
                return why


class _Lines:
    """Splits one stream's bytes into lines; an empty chunk means EOF."""

    def __init__(self, is_stderr: bool) -> None:
        self.is_stderr = is_stderr
        self.pending = b""

    def feed(self, chunk: bytes, on_line: OnLine) -> None:
        data = self.pending + chunk
        *lines, self.pending = data.split(b"\n")
        if not chunk and self.pending:
            lines, self.pending = [*lines, self.pending], b""
        elif len(self.pending) >= MAX_LINE:
            lines, self.pending = [*lines, self.pending], b""
        for line in lines:
            on_line(line.decode("utf-8", "replace"), self.is_stderr)


def run_argv(
    argv: list[str],
    *,
    env: Mapping[str, str],
    on_line: OnLine,
    stop: Callable[[], str | None],
    grace: float = KILL_AFTER,
) -> int:
    """Run a prepared sandbox `argv` (e.g. `bwrap_command`'s, wrapped to enter
    a cgroup) with exactly `env` (the command's `env`: the sandbox's
    environment travels in bwrap's own, never on the argv) like
    `run_oneshot`, the stop decision left to the caller: when
    `stop()` returns a reason, the process group gets TERM, then KILL after
    `grace` seconds, and Cancelled(reason) is raised. Lets a build apply one
    time limit to all its steps and stop within a bound it chooses."""
    with _spawn(argv, env) as proc:
        try:
            why = _pump(proc, on_line, stop) or _wait(proc, stop)
        except BaseException:
            _stop_within(proc, grace)
            raise
        if why is not None:
            _stop_within(proc, grace)
            raise Cancelled(why)
        # The pipes close as the last process drops its files, before it is
        # gone; the kernel ends the sandbox's pid namespace after bwrap
        # exits. Return only once nothing of the command is left.
        reap_group(proc.pid)
    return proc.returncode


def _stop_within(proc: subprocess.Popen[bytes], grace: float) -> None:
    """TERM the process group, KILL it after `grace` seconds (bwrap itself excepted: groups.py)."""
    def exited(timeout: float) -> bool:
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    if proc.poll() is None:
        stop_group(proc.pid, exited, grace)
