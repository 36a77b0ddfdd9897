"""Supervised sandboxed processes (D9): real supervisor, real bwrap."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shipway.errors import PlatformError
from shipway.sandbox.groups import alive, members, wait_until
from shipway.sandbox.processes import start_supervised, stop_supervised, supervised_pid
from shipway.sandbox.spec import SandboxCommand, SandboxSpec, bwrap_command

from .conftest import holds_throughout

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bwrap"
    ),
]

UID = 61530
LOOP = "while :; do sleep 0.1; done"

Start = Callable[..., tuple[Path, Path]]


def sandboxed(tmp_path: Path, script: str) -> SandboxCommand:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    spec = SandboxSpec(
        command=("/bin/sh", "-c", script),
        app_dir=app,
        app_writable=False,
        uid=UID,
        gid=UID,
        env={"PATH": "/usr/bin:/bin"},
    )
    return bwrap_command(spec)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    """start(script, **kwargs) -> (state_dir, log); stops everything afterwards."""
    started: list[Path] = []

    def run(script: str, **kwargs: object) -> tuple[Path, Path]:
        state, log = tmp_path / f"state{len(started)}", tmp_path / f"app{len(started)}.log"
        started.append(state)
        command = sandboxed(tmp_path, script)
        start_supervised(state, list(command.argv), env=command.env, log=log, **kwargs)  # type: ignore[arg-type]
        return state, log

    yield run
    for state in started:
        stop_supervised(state, timeout=5)


def child_pid(state: Path) -> int:
    return int((state / "child.pid").read_text())


def wait_for_log(log: Path, text: str, count: int = 1, timeout: float = 10) -> float:
    started = time.monotonic()
    assert wait_until(lambda: log.read_text().count(text) >= count, timeout), log.read_text()
    return time.monotonic() - started


def test_a_crashing_child_is_restarted_with_backoff(start: Start) -> None:
    state, log = start("echo run; exit 3")
    wait_for_log(log, "restarting in 2s")
    assert log.read_text().count("run\n") == 2
    assert wait_for_log(log, "run\n", count=3, timeout=5) > 1.5  # it waited 2 s, not 1
    text = log.read_text()
    assert "[shipway] process exited with status 3; restarting in 1s\n" in text
    assert "[shipway] process exited with status 3; restarting in 2s\n" in text
    assert supervised_pid(state) is not None


def test_stop_ends_a_cooperating_child_gracefully(start: Start) -> None:
    state, log = start(f"trap 'echo bye; exit 0' TERM; echo ready; {LOOP}", grace=10)
    wait_for_log(log, "ready")
    child = child_pid(state)
    started = time.monotonic()
    stop_supervised(state)
    assert time.monotonic() - started < 2
    assert "bye\n[shipway] process stopped with status 0\n" in log.read_text()
    assert not alive(child)
    assert members(child) == []


def test_stop_kills_a_child_that_ignores_term_after_the_grace_period(start: Start) -> None:
    state, log = start(f"trap 'echo got TERM' TERM; echo ready; {LOOP}", grace=1)
    wait_for_log(log, "ready")
    child = child_pid(state)
    started = time.monotonic()
    stop_supervised(state)
    assert 1 <= time.monotonic() - started < 4
    text = log.read_text()
    assert "got TERM" in text
    assert text.endswith("[shipway] process did not stop within 1s; sent SIGKILL\n")
    assert members(child) == []
    assert supervised_pid(state) is None
    assert sorted(os.listdir(state)) == ["spec.json"]


def test_a_stop_during_backoff_is_immediate(start: Start) -> None:
    state, log = start("exit 1")
    wait_for_log(log, "restarting in 2s")
    started = time.monotonic()
    stop_supervised(state)
    assert time.monotonic() - started < 1


def test_the_supervisor_outlives_whoever_started_it(tmp_path: Path, start: Start) -> None:
    state, log = tmp_path / "detached", tmp_path / "detached.log"
    command = sandboxed(tmp_path, f"echo tick; {LOOP}")
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, json\n"
            "from pathlib import Path\n"
            "from shipway.sandbox.processes import start_supervised\n"
            "argv, env = json.loads(sys.argv[3])\n"
            "print(start_supervised(Path(sys.argv[1]), argv, env=env, log=Path(sys.argv[2])),"
            " flush=True)\n"
            "time.sleep(100)\n",
            str(state),
            str(log),
            json.dumps([list(command.argv), dict(command.env)]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert starter.stdout is not None
        pid = int(starter.stdout.readline())
        assert _ppid(pid) not in (starter.pid, os.getpid())
        starter.kill()  # the control plane dies
        starter.wait()
        # A parent-death signal would arrive at once; nothing can end this
        # window early, so watch that both stay for it.
        assert holds_throughout(lambda: supervised_pid(state) == pid and alive(child_pid(state)),
                                0.5)
    finally:
        starter.kill()
        starter.wait()
        if starter.stdout is not None:
            starter.stdout.close()
        stop_supervised(state, timeout=5)
    assert supervised_pid(state) is None


def test_killing_the_supervisor_takes_its_child_along(start: Start) -> None:
    state, log = start(f"echo ready; {LOOP}")
    wait_for_log(log, "ready")
    pid, child = supervised_pid(state), child_pid(state)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: members(child) == [], 2)
    stop_supervised(state)  # tidies the stale pid files
    assert sorted(os.listdir(state)) == ["spec.json"]


def test_supervised_pid_believes_only_our_supervisor(tmp_path: Path, start: Start) -> None:
    state = tmp_path / "state"
    state.mkdir()
    assert supervised_pid(state) is None
    for stale in (os.getpid(), 4_000_000):  # a live unrelated process; a dead pid
        (state / "supervisor.pid").write_text(f"{stale}\n")
        assert supervised_pid(state) is None
    other, _ = start(f"{LOOP}")
    (state / "supervisor.pid").write_text((other / "supervisor.pid").read_text())
    assert supervised_pid(state) is None  # a supervisor, but for another directory


def test_starting_twice_is_refused(start: Start) -> None:
    state, log = start(LOOP)
    with pytest.raises(PlatformError, match="already running"):
        start_supervised(state, ["true"], log=log)


def test_a_missing_program_is_logged_and_retried(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "app.log"
    start_supervised(state, ["/nonexistent/program"], log=log)
    try:
        wait_for_log(log, "restarting in 1s")
        assert (
            "[shipway] cannot start /nonexistent/program: No such file or directory"
            in log.read_text()
        )
    finally:
        stop_supervised(state)


def _ppid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("PPid:")[1].split()[0])


def test_the_spec_file_is_private(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "app.log"
    state.mkdir()
    (state / "spec.json").write_text("{}")
    (state / "spec.json").chmod(0o644)  # as an older shipway left it
    try:
        start_supervised(state, [*sandboxed(tmp_path, LOOP).argv], env={"SECRET": "s3cret"}, log=log)
        assert (state / "spec.json").stat().st_mode & 0o777 == 0o600
    finally:
        stop_supervised(state)
