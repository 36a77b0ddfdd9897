"""The forced command of every shipway SSH key (A2): hand the session to the control plane.

Theory of operation. sshd runs this, as the SSH user, for every session of
a key shipway wrote (`command="… gate.py --socket S --key FP",restrict`),
whatever the client asked; the client's command line is in
SSH_ORIGINAL_COMMAND. This script decides nothing: it connects to the
control plane's session socket and sends one JSON request — the key's
fingerprint, the command line, whether stdin is a terminal (and TERM) — with
its own stdin, stdout and stderr (SCM_RIGHTS), then waits. The control
plane checks the key, the command and the role, runs git or the sandboxed
shell on those very descriptors, and answers `{"exit": N}` or
`{"error": "one line"}`.

It runs from a root-owned copy outside SHIPWAY_HOME with `python3 -I`, and
imports only the standard library, so the SSH user needs no access to
shipway's code, virtualenv or state.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

STOPPED = ("E: the shipway control plane stopped during this session; nothing was changed — "
           "try again when it is back")
UNREACHABLE = "E: the shipway control plane is not running; try again when it is back"
MAX_ANSWER = 65536


def _request(key: str, command: str) -> bytes:
    # The window size needs no field: sshd sets it on the pty itself, which travels as fd 0.
    tty = os.isatty(0)
    return json.dumps({"key": key, "command": command, "tty": tty,
                       "term": os.environ.get("TERM", "") if tty else ""}).encode()


def _answer(sock: socket.socket) -> dict[str, object] | None:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(MAX_ANSWER)
        if not chunk:
            return None
        data += chunk
    answer = json.loads(data)
    return answer if isinstance(answer, dict) else None


def run(socket_path: str, key: str, command: str) -> int:
    """Hand this process's stdin/stdout/stderr and `command` to the control plane; its answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path)
    except OSError:
        print(UNREACHABLE, file=sys.stderr, flush=True)
        return 1
    with sock:
        payload = _request(key, command)
        socket.send_fds(sock, [struct.pack("!I", len(payload)) + payload], [0, 1, 2])
        try:
            answer = _answer(sock)
        except (OSError, ValueError):
            answer = None
    if answer is None:
        print(STOPPED, file=sys.stderr, flush=True)
        return 1
    if "error" in answer:
        print(f"E: {answer['error']}", file=sys.stderr, flush=True)
        return 1
    code = answer.get("exit")
    return code if isinstance(code, int) and 0 <= code < 256 else 1


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "--socket" or argv[2] != "--key":
        print("E: usage: gate.py --socket PATH --key FINGERPRINT", file=sys.stderr)
        return 2
    return run(argv[1], argv[3], os.environ.get("SSH_ORIGINAL_COMMAND", ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
