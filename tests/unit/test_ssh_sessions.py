"""A2: the gate <-> session socket protocol, over a real unix socket with real descriptors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.access import gate
from shipway.access.commands import Refused
from shipway.access.sessions import Session, SessionServer

GATE = Path(gate.__file__)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Path, list[Session]]]:
    seen: list[Session] = []

    def handler(session: Session) -> int:
        seen.append(session)
        if session.command == "refuse":
            raise Refused("no, and one line")
        if session.command == "vanish":
            session.conn.close()
            return 0
        if session.command == "sleep":
            proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
            return session.wait(proc)
        os.write(session.fds[1], f"hello {session.command}\n".encode())
        return 7

    path = tmp_path / "s.sock"
    srv = SessionServer(path, handler, group=None)
    srv.start()
    try:
        yield path, seen
    finally:
        srv.stop()


def _gate(path: Path, command: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-I", str(GATE), "--socket", str(path), "--key", "K"],
                            env={"SSH_ORIGINAL_COMMAND": command}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_a2_the_session_runs_on_the_gates_own_descriptors(server: tuple[Path, list[Session]]) -> None:
    path, seen = server
    proc = _gate(path, "x")
    out, err = proc.communicate(timeout=10)
    assert (proc.returncode, out, err) == (7, "hello x\n", "")
    assert seen[0].uid == os.geteuid() and seen[0].key == "K" and seen[0].tty is False


def test_a2_a_refusal_is_one_line_and_status_1(server: tuple[Path, list[Session]]) -> None:
    proc = _gate(server[0], "refuse")
    out, err = proc.communicate(timeout=10)
    assert (proc.returncode, out, err) == (1, "", "E: no, and one line\n")


def test_a2_a_control_plane_gone_mid_session_is_said_in_one_line(
        server: tuple[Path, list[Session]]) -> None:
    proc = _gate(server[0], "vanish")
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1 and err == gate.STOPPED + "\n"


def test_a2_no_control_plane_is_said_in_one_line(tmp_path: Path) -> None:
    proc = _gate(tmp_path / "none.sock", "x")
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 1 and err == gate.UNREACHABLE + "\n"


def test_a2_a_client_that_hangs_up_stops_its_session(server: tuple[Path, list[Session]]) -> None:
    proc = _gate(server[0], "sleep")
    deadline = time.monotonic() + 10
    while not _children_sleeping() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children_sleeping()
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 5
    while _children_sleeping() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _children_sleeping()


def _children_sleeping() -> list[int]:
    mine = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().split()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[3] == mine and cmd == b"sleep\x0030\x00" and stat[2] != "Z":
            found.append(int(entry.name))
    return found


def test_a2_a_malformed_request_gets_no_session(server: tuple[Path, list[Session]]) -> None:
    import socket

    path, seen = server
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(b"\x00\x00\x00\x05nojso")
        sock.settimeout(5)
        assert sock.recv(100) == b""  # no fds, no JSON: closed without running anything
    assert not seen
