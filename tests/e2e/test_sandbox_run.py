"""run_oneshot with real bwrap: live streaming, exit status, cancel, time limit."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from shipway.errors import Cancelled, PlatformError
from shipway.sandbox.layout import HostLayout
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import SandboxSpec

from .conftest import processes_of

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bwrap"
    ),
]



class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[float, str, bool]] = []

    def __call__(self, line: str, is_stderr: bool) -> None:
        self.lines.append((time.monotonic(), line, is_stderr))

    def stream(self, is_stderr: bool) -> list[str]:
        return [line for _, line, err in self.lines if err == is_stderr]


def sandboxed(tmp_path: Path, script: str, uid: int) -> SandboxSpec:
    app = tmp_path / "app"
    app.mkdir(exist_ok=True)
    os.chown(app, uid, uid)
    return SandboxSpec(
        command=("/bin/sh", "-c", script),
        app_dir=app,
        app_writable=True,
        uid=uid,
        gid=uid,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_lines_arrive_while_the_command_runs(tmp_path: Path) -> None:
    record = Recorder()
    script = "echo first; echo oops >&2; sleep 1; echo second"
    assert run_oneshot(sandboxed(tmp_path, script, 61510), on_line=record) == 0
    ended = time.monotonic()
    assert record.stream(False) == ["first", "second"]
    assert record.stream(True) == ["oops"]
    first_at = record.lines[0][0]
    assert ended - first_at >= 0.8


def test_order_is_kept_per_stream_and_partial_lines_are_delivered(tmp_path: Path) -> None:
    record = Recorder()
    script = (
        "i=0; while [ $i -lt 300 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; "
        "printf 'no newline'; printf 'é' >&2"
    )
    assert run_oneshot(sandboxed(tmp_path, script, 61511), on_line=record) == 0
    assert record.stream(False) == [f"out{i}" for i in range(300)] + ["no newline"]
    assert record.stream(True) == [f"err{i}" for i in range(300)] + ["é"]


@pytest.mark.parametrize(
    ("script", "status"), [("exit 7", 7), ("kill -9 $$", 137), ("/no/such/thing", 127)]
)
def test_exit_status_is_returned(tmp_path: Path, script: str, status: int) -> None:
    assert run_oneshot(sandboxed(tmp_path, script, 61512), on_line=Recorder()) == status


def test_background_jobs_do_not_outlive_the_command(tmp_path: Path) -> None:
    started = time.monotonic()
    spec = sandboxed(tmp_path, "sleep 100 & echo done", 61513)
    assert run_oneshot(spec, on_line=Recorder()) == 0
    assert time.monotonic() - started < 5
    assert processes_of(61513) == []


def test_nothing_of_the_command_is_left_when_it_returns(tmp_path: Path) -> None:
    # S9: the pipes close before a background job has finished exiting; a
    # count taken right after the call once saw it. Many short runs, each
    # counted at once: run_oneshot must return only after the whole tree.
    for _ in range(15):
        spec = sandboxed(tmp_path, "sleep 100 & sleep 100 & setsid sleep 100 & echo done", 61519)
        assert run_oneshot(spec, on_line=Recorder()) == 0
        assert processes_of(61519) == []


def test_cancel_kills_the_whole_tree(tmp_path: Path) -> None:
    cancel = threading.Event()
    record = Recorder()
    cancelled_at: list[float] = []

    def on_line(line: str, is_stderr: bool) -> None:
        record(line, is_stderr)
        if line == "go":  # cancel once the tree runs, however late it started
            cancelled_at.append(time.monotonic())
            cancel.set()

    spec = sandboxed(tmp_path, "echo go; sleep 100 & sleep 100", 61514)
    with pytest.raises(Cancelled, match="^cancelled$"):
        run_oneshot(spec, on_line=on_line, cancel=cancel)
    assert time.monotonic() - cancelled_at[0] < 2.0
    assert record.stream(False) == ["go"]
    assert processes_of(61514) == []


def test_a_command_ignoring_term_is_killed_after_two_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    spec = sandboxed(tmp_path, "trap '' TERM; sleep 100 & sleep 100", 61515)
    with pytest.raises(Cancelled, match="exceeded its time limit of 0.5 s"):
        run_oneshot(spec, on_line=Recorder(), timeout=0.5)
    assert 2.4 <= time.monotonic() - started < 4.5
    assert processes_of(61515) == []


def test_time_limit_message(tmp_path: Path) -> None:
    with pytest.raises(Cancelled, match="^exceeded its time limit of 1 s$"):
        run_oneshot(sandboxed(tmp_path, "sleep 100", 61516), on_line=Recorder(), timeout=1)
    assert processes_of(61516) == []


def test_a_failing_callback_stops_the_command(tmp_path: Path) -> None:
    def explode(line: str, is_stderr: bool) -> None:
        raise RuntimeError("reader gone")

    with pytest.raises(RuntimeError, match="reader gone"):
        run_oneshot(sandboxed(tmp_path, "echo hi; sleep 100", 61517), on_line=explode)
    assert processes_of(61517) == []


def test_missing_bwrap_is_a_platform_error(tmp_path: Path) -> None:
    layout = HostLayout(("/usr", "/etc"), bwrap="/nonexistent/bwrap")
    with pytest.raises(PlatformError, match="apt-get install bubblewrap"):
        run_oneshot(sandboxed(tmp_path, "true", 61518), on_line=Recorder(), host_layout=layout)
