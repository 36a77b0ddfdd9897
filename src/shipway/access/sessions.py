"""The control plane's side of SSH sessions (A2, A4): the session socket.

Theory of operation. The forced command (gate.py, as the SSH user) and root's
`shipway ssh` connect here and send one request — a 4-byte length, then JSON
{key, command, tty, term} — with their stdin, stdout and stderr attached
(SCM_RIGHTS). Who is asking is decided here, never taken from the request:
SO_PEERCRED's uid 0 is the operator; the SSH user's uid is whoever owns the
key sshd authenticated (`Access.actor_for_key`; sshd put the fingerprint in
the forced command, the client cannot choose it); any other uid is refused.
The command is parsed (commands.py), the role checked (`Access.require`),
and git or the app's shell runs as a child of this process on the passed
descriptors. The answer is one JSON line: {"exit": N} or {"error": "…"}.

If the caller's connection closes first (the SSH client went away), the
session's processes are stopped. If this process dies, they die with it
(PR_SET_PDEATHSIG), and the gate tells the client so in one line.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.access import commands
from shipway.errors import ShipwayError

MAX_REQUEST = 65536
_CRED = struct.Struct("3i")  # pid, uid, gid


@dataclass(frozen=True)
class Session:
    """One accepted request: who (the peer's uid), what, and the descriptors to run it on."""

    uid: int
    key: str
    command: str
    tty: bool
    term: str | None
    fds: tuple[int, int, int]
    conn: socket.socket

    def wait(self, proc: subprocess.Popen[bytes]) -> int:
        """Wait for `proc`; stop its group if the caller hangs up first."""
        while True:
            try:
                return proc.wait(0.2)
            except subprocess.TimeoutExpired:
                pass
            readable, _, _ = select.select([self.conn], [], [], 0)
            if readable and not self.conn.recv(1, socket.MSG_PEEK):
                _kill_group(proc)
                return proc.wait()


Handler = Callable[[Session], int]


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """The request and the descriptors that came with it (closed here if it is malformed)."""
    data, fds, _flags, _addr = socket.recv_fds(conn, MAX_REQUEST, 3)
    try:
        while len(data) < 4 or len(data) < 4 + struct.unpack("!I", data[:4])[0]:
            if len(data) > MAX_REQUEST:
                raise ValueError("request too long")
            chunk = conn.recv(MAX_REQUEST)
            if not chunk:
                raise ValueError("truncated request")
            data += chunk
        request = json.loads(data[4:4 + struct.unpack("!I", data[:4])[0]])
        if not isinstance(request, dict) or len(fds) != 3:
            raise ValueError("malformed request")
    except ValueError:
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


def peer_uid(conn: socket.socket) -> int:
    _pid, uid, _gid = _CRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                   _CRED.size))
    return int(uid)


def _text(request: dict[str, Any], name: str) -> str:
    value = request.get(name) or ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


def serve_one(conn: socket.socket, handler: Handler) -> None:
    with conn:
        try:
            request, fds = read_request(conn)
        except (OSError, ValueError):
            return
        try:
            session = Session(peer_uid(conn), _text(request, "key"), _text(request, "command"),
                              request.get("tty") is True, _text(request, "term") or None,
                              (fds[0], fds[1], fds[2]), conn)
            answer: dict[str, Any] = {"exit": handler(session)}
        except commands.Refused as exc:
            answer = {"error": str(exc)}
        except ShipwayError as exc:
            answer = {"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        except ValueError as exc:
            answer = {"error": f"malformed session request: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        try:
            conn.sendall(json.dumps(answer).encode() + b"\n")
        except OSError:
            pass  # the caller is gone; nothing to tell


class SessionServer:
    """Accepts sessions on a unix socket, each in its own thread."""

    def __init__(self, path: Path, handler: Handler, group: int | None) -> None:
        self.path = path
        self.handler = handler
        self.group = group
        self._sock: socket.socket | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        # Root and the SSH user's group only; who they are is decided per request.
        os.chown(self.path, 0, self.group if self.group is not None else 0)
        os.chmod(self.path, 0o660)
        sock.listen(64)
        self._sock = sock
        threading.Thread(target=self._accept, daemon=True, name="ssh-sessions").start()

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn, self.handler), daemon=True,
                             name="ssh-session").start()

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self.path.unlink(missing_ok=True)
