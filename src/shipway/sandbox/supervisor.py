"""Keep one sandboxed process running (D9): `python -m shipway.sandbox.supervisor
[--detach] STATE_DIR`.

Theory of operation. The control plane may die at any moment, and bwrap's
`--die-with-parent` kills an app whose parent dies, so each app gets this
small program as its parent instead. It depends on nothing of its caller:
its own session, no pipes (the child's output is appended to a log file),
its settings read from STATE_DIR/spec.json. `--detach` forks once more so
that the caller is not even its parent.

Loop: start the child in its own process group; when it exits, log it and
restart it after a back-off (1 s doubling to 30 s, reset once a run lasted
30 s); each exit is counted in STATE_DIR/exits, so a deploy sees an app
that crash-loops at start at once instead of waiting for it to listen.
On SIGTERM: TERM the child's group, KILL it after the grace period,
remove the pid files, exit 0. It waits on a pidfd and on the signal wake-up
fd together, so a stop is seen at once, even during a back-off.

Process limit (S5): with `pids` in the spec, the child runs in that pids
cgroup (sandbox/pids.py), made again before each start (a sweep may have
removed it while empty, during a back-off). The app is not
stopped when it hits the limit (its forks fail, it keeps serving); the log
says so once per burst of refused forks, checked every few seconds. Between
runs and at the end, whatever is left in the cgroup is killed, so a fork
bomb cannot outlive its app; the cgroup is removed when the supervisor exits.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.sandbox import envfd, pids
from shipway.sandbox.groups import reap_group, stop_group

SPEC_FILE = "spec.json"
SUPERVISOR_PID = "supervisor.pid"
CHILD_PID = "child.pid"
LIMIT_CHECK = 2.0  # seconds between looks at the pids cgroup's refused forks
EXITS = "exits"  # how many times the child exited since the supervisor started


@dataclass(frozen=True)
class Backoff:
    """Restart delays: `initial` doubling to `maximum`; back to `initial`
    after a run of at least `reset_after` seconds."""

    initial: float = 1.0
    maximum: float = 30.0
    reset_after: float = 30.0

    def next(self, previous: float | None, ran_for: float) -> float:
        if previous is None or ran_for >= self.reset_after:
            return self.initial
        return min(previous * 2, self.maximum)


@dataclass(frozen=True)
class Settings:
    argv: list[str]
    env: dict[str, str] | None
    log: Path
    grace: float
    backoff: Backoff
    limit: pids.Limit | None = None

    @classmethod
    def load(cls, state_dir: Path) -> Settings:
        raw: dict[str, Any] = json.loads((state_dir / SPEC_FILE).read_text())
        return cls(
            raw["argv"],
            raw.get("env"),
            Path(raw["log"]),
            float(raw["grace"]),
            Backoff(**raw.get("backoff", {})),
            pids.Limit(**raw["pids"]) if raw.get("pids") else None,
        )


class Supervisor:
    def __init__(self, state_dir: Path, settings: Settings) -> None:
        self.state_dir = state_dir
        self.settings = settings
        self.stopping = False
        self.exits = 0
        self.child: subprocess.Popen[bytes] | None = None
        self.log_fd = os.open(settings.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.group: pids.PidsCgroup | None = None
        self.refused = 0
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop)

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        _write_pid(self.state_dir / SUPERVISOR_PID, os.getpid())
        try:
            self._loop()
        finally:
            # Even on a bug of ours: never leave an unsupervised app behind.
            if self.child is not None and self.child.poll() is None:
                os.killpg(self.child.pid, signal.SIGKILL)
                self.child.wait()
            if self.group is not None:
                self.group.remove()
            for name in (CHILD_PID, SUPERVISOR_PID):
                (self.state_dir / name).unlink(missing_ok=True)
        return 0

    def _limit_processes(self) -> None:
        limit = self.settings.limit
        if limit is None:
            return
        self.group, why = pids.create(limit.max, limit.name, "apps")
        if self.group is None:
            self.log(f"W: process limit not enforced: {why}")
        else:
            self.refused = self.group.hits()

    def _check_limit(self) -> None:
        """Say so in the log when the app's forks were refused since the last look."""
        if self.group is None:
            return
        hits = self.group.hits()
        if hits > self.refused:
            self.log(f"W: the {self.state_dir.name} process reached its limit of "
                     f"{self.group.limit} processes ({pids.APP_SETTING}): {hits - self.refused} "
                     f"fork(s) refused; set {pids.APP_SETTING} to raise the limit")
            self.refused = hits

    def _loop(self) -> None:
        delay: float | None = None
        while not self.stopping:
            started = time.monotonic()
            status = self._run_child()
            if status is None:
                return
            if self.stopping:
                self.log(f"process exited with status {status}")
                return
            self.exits += 1
            _write_pid(self.state_dir / EXITS, self.exits)
            delay = self.settings.backoff.next(delay, time.monotonic() - started)
            self.log(f"process exited with status {status}; restarting in {delay:g}s")
            self._wait(None, delay)

    def _run_child(self) -> int | None:
        """The child's exit status, or None once it was stopped on request."""
        try:
            self.child = child = self._start()
        except OSError as exc:
            self.log(f"cannot start {self.settings.argv[0]}: {exc.strerror}")
            return 127
        _write_pid(self.state_dir / CHILD_PID, child.pid)
        pidfd = os.pidfd_open(child.pid)
        try:
            if not self._wait(pidfd, None):
                self._stop(child, pidfd)
                return None
        finally:
            os.close(pidfd)
        status = child.wait()
        reap_group(child.pid)  # so the old process's port is free before a restart
        self._end_leftovers()
        return status

    def _end_leftovers(self) -> None:
        """Kill whatever of the child's tree escaped its process group."""
        self._check_limit()
        if self.group is not None:
            self.group.kill_all()

    def _start(self) -> subprocess.Popen[bytes]:
        self._limit_processes()
        argv = self.settings.argv if self.group is None else self.group.wrap(self.settings.argv)
        return envfd.popen(argv, self.settings.env, stdin=subprocess.DEVNULL,
                           stdout=self.log_fd, stderr=self.log_fd)

    def _stop(self, child: subprocess.Popen[bytes], pidfd: int) -> None:
        grace = self.settings.grace
        self.log(f"stopping: sending SIGTERM, SIGKILL after {grace:g}s")
        if stop_group(child.pid, lambda timeout: self._exited(child, pidfd, timeout), grace):
            self.log(f"process stopped with status {child.returncode}")
        else:
            self.log(f"process did not stop within {grace:g}s; sent SIGKILL")
        self._end_leftovers()

    def _exited(self, child: subprocess.Popen[bytes], pidfd: int, timeout: float) -> bool:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if ready:
            child.wait()
        return bool(ready)

    def _wait(self, pidfd: int | None, timeout: float | None) -> bool:
        """Wait for the child (if `pidfd`) to exit or `timeout` to pass: True;
        or for a stop request: False."""
        fds = [self.wake_r] if pidfd is None else [self.wake_r, pidfd]
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stopping:
            left = LIMIT_CHECK if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select(fds, [], [], min(left, LIMIT_CHECK))
            self._check_limit()
            if pidfd in ready or (deadline is not None and time.monotonic() >= deadline):
                return True
            if self.wake_r in ready:
                _drain(self.wake_r)
        return False

    def log(self, message: str) -> None:
        os.write(self.log_fd, f"[shipway] {message}\n".encode())


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _write_pid(path: Path, pid: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(path)


def main(args: list[str]) -> int:
    detach = args[:1] == ["--detach"]
    if len(args) != 1 + detach:
        print("usage: python -m shipway.sandbox.supervisor [--detach] STATE_DIR", file=sys.stderr)
        return 2
    if detach and os.fork() > 0:
        os._exit(0)  # the caller reaps us; the supervisor is re-parented to init
    state_dir = Path(args[-1])
    return Supervisor(state_dir, Settings.load(state_dir)).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
