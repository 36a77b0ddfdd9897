"""Start, find and stop supervised processes (D9) from the control plane.

The control plane only writes a state directory and launches the supervisor
(supervisor.py) detached; afterwards the pid files in that directory are
the whole link between them, so a restarted control plane finds its apps
again with `supervised_pid`.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from shipway.errors import PlatformError
from shipway.sandbox import bindexec, pids
from shipway.sandbox.groups import PROC, alive, reap_group, wait_until
from shipway.sandbox.supervisor import CHILD_PID, EXITS, SPEC_FILE, SUPERVISOR_PID, Backoff

MODULE = "shipway.sandbox.supervisor"
START_TIMEOUT = 10.0


def start_supervised(
    state_dir: Path,
    argv: list[str],
    *,
    log: Path,
    grace: float = 15.0,
    env: Mapping[str, str] | None = None,
    backoff: Backoff | None = None,
    limit: pids.Limit | None = None,
) -> int:
    """Launch a detached supervisor keeping `argv` running (output appended
    to `log`, `env` for argv itself: None inherits ours; a sandbox passes
    its `SandboxCommand.env`, kept in the root-only spec.json; in the pids
    cgroup `limit`: supervisor.py); its pid."""
    state_dir.mkdir(parents=True, exist_ok=True)
    check_state_dir(state_dir)
    state_dir, log = state_dir.resolve(), log.resolve()
    if supervised_pid(state_dir) is not None:
        raise PlatformError(f"a supervisor is already running for {state_dir}")
    for name in (SUPERVISOR_PID, CHILD_PID, EXITS):
        (state_dir / name).unlink(missing_ok=True)
    spec = {
        "argv": list(argv),
        "env": None if env is None else dict(env),
        "log": str(log),
        "grace": grace,
        "backoff": asdict(backoff or Backoff()),
        "pids": None if limit is None else asdict(limit),
    }
    # The environment carries the app's secrets (S3): readable by root only,
    # also where an older shipway left the file with a looser mode.
    fd = os.open(state_dir / SPEC_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "w") as out:
        json.dump(spec, out, indent=1)
    _launch(state_dir, log)
    pid = _await_supervisor(state_dir)
    if pid is None:
        raise PlatformError(f"the supervisor for {state_dir} did not start; see {log}")
    return pid


def stop_supervised(state_dir: Path, timeout: float | None = None) -> None:
    """Stop the supervisor and its child (TERM, then KILL after the grace
    period); return once both are gone. `timeout` bounds the wait for the
    supervisor (default: grace + 5 s) before it is killed outright. A
    directory not of our own is left alone: its files would name the victims."""
    if not is_state_dir(state_dir):
        return
    state_dir = state_dir.resolve()
    pid = supervised_pid(state_dir)
    if pid is not None:
        _end(pid, _grace(state_dir) + 5.0 if timeout is None else timeout)
    _reap_orphaned_child(state_dir)
    _remove_cgroup(state_dir)
    for name in (SUPERVISOR_PID, CHILD_PID):
        (state_dir / name).unlink(missing_ok=True)


def check_state_dir(state_dir: Path) -> None:
    """A state directory is ours alone: a real directory (not a symlink) that
    we own and nobody else may write, since its spec and pid files say what
    root kills and whose cgroup it removes; else PlatformError."""
    if not is_state_dir(state_dir):
        raise PlatformError(f"{state_dir} is not a directory of shipway's own (a symlink, or "
                            "made by someone else); not used as a supervisor's state")
    mode = stat.S_IMODE(state_dir.lstat().st_mode)
    if mode & 0o022:
        os.chmod(state_dir, mode & ~0o022)


def is_state_dir(state_dir: Path) -> bool:
    """Whether `state_dir` is a real directory (not a symlink) that we own."""
    try:
        st = state_dir.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def supervised_pid(state_dir: Path) -> int | None:
    """The running supervisor's pid, or None. A pid is only believed if that
    process is our supervisor for this very directory (pids get reused)."""
    state_dir = state_dir.resolve()
    pid = _read_pid(state_dir / SUPERVISOR_PID)
    if pid is None or not alive(pid):
        return None
    command = _cmdline(pid)
    return pid if MODULE in command and command[-1] == str(state_dir) else None


def exits_since_start(state_dir: Path) -> int:
    """How many times the supervised process exited since `start_supervised`."""
    return _read_pid(state_dir.resolve() / EXITS) or 0


def _launch(state_dir: Path, log: Path) -> None:
    with open(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640), "ab") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--detach", str(state_dir)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            close_fds=True,
            start_new_session=True,
            cwd="/",
        )
    # The launcher forks the supervisor and exits at once; reap it.
    if launcher.wait(START_TIMEOUT) != 0:
        raise PlatformError(f"the supervisor for {state_dir} failed to start; see {log}")


def _await_supervisor(state_dir: Path) -> int | None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        pid = supervised_pid(state_dir)
        if pid is not None:
            return pid
        time.sleep(0.02)
    return None


def _end(pid: int, timeout: float) -> None:
    """TERM, then KILL if it is still there after `timeout`; wait until gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_until(lambda: not alive(pid), wait):
            return


def _reap_orphaned_child(state_dir: Path) -> None:
    """A supervisor killed outright takes its child along (die-with-parent);
    make sure, but only for a process that still runs our argv."""
    pgid = _read_pid(state_dir / CHILD_PID)
    if pgid is None or not alive(pgid):
        return
    argv = json.loads((state_dir / SPEC_FILE).read_text())["argv"]
    if bindexec.runs(_cmdline(pgid), argv):
        os.killpg(pgid, signal.SIGKILL)
        reap_group(pgid)


def _remove_cgroup(state_dir: Path) -> None:
    """The supervisor removes its cgroup as it exits; one killed outright cannot."""
    try:
        limit = json.loads((state_dir / SPEC_FILE).read_text()).get("pids")
        group = pids.existing(limit["name"], "apps") if limit else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return  # not a spec of ours: touch no cgroup by its say
    if group is not None:
        group.remove()


def _grace(state_dir: Path) -> float:
    try:
        return float(json.loads((state_dir / SPEC_FILE).read_text())["grace"])
    except (OSError, ValueError, KeyError):
        return 15.0


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]]
