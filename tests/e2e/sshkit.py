"""Real OpenSSH clients for the SSH tests (A2, A4): keys, users and `ssh` argv."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import Shipway


@dataclass(frozen=True)
class Key:
    private: Path
    port: int
    user: str = "shipway"

    @property
    def public(self) -> Path:
        return self.private.with_suffix(".pub")

    def ssh(self, *options: str) -> list[str]:
        return ["ssh", "-i", str(self.private), "-p", str(self.port), "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", *options]

    def run(self, command: str, *options: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.ssh(*options), self.login, command],
                              capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL)

    @property
    def login(self) -> str:
        return f"{self.user}@127.0.0.1"

    def remote(self, project: str) -> str:
        return f"ssh://{self.login}:{self.port}/{project}.git"

    def git_env(self) -> dict[str, str]:
        return {**os.environ, "GIT_SSH_COMMAND": " ".join(self.ssh())}


def keygen(directory: Path, name: str, port: int, user: str = "shipway") -> Key:
    directory.mkdir(parents=True, exist_ok=True)
    key = Key(directory / name, port, user)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@laptop",
                    "-f", str(key.private)], check=True)
    return key


def ssh_port(sw: Shipway) -> int:
    return int(sw.env["SHIPWAY_SSH_PORT"])


def add_user(sw: Shipway, email: str, project: str, roles: list[str], directory: Path) -> Key:
    """A user of `project` with `roles`, holding a fresh key."""
    sw.cli("user:add", email, "-p", project, *[a for r in roles for a in ("--role", r)])
    key = keygen(directory, email.split("@")[0], ssh_port(sw),
                 sw.env.get("SHIPWAY_SSH_USER", "shipway"))
    sw.cli("ssh-key:add", "--user", email, str(key.public))
    return key


def run_in_pty(argv: list[str], env: dict[str, str], typed: bytes, rows: int = 33, cols: int = 97,
               timeout: float = 60) -> tuple[int, str]:
    """Run `argv` on a fresh pty of `rows` x `cols`, type `typed` once it prompts; (status, output)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True,
                            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    out, sent, started = b"", False, time.monotonic()
    while time.monotonic() - started < timeout:
        ready, _, _ = select.select([master], [], [], 0.2)
        chunk = b""
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            out += chunk
        if not sent and (b"$ " in out or time.monotonic() - started > 5):
            os.write(master, typed)
            sent = True
        if proc.poll() is not None and not chunk:
            break
    proc.wait(10)
    os.close(master)
    return proc.returncode, out.decode(errors="replace")


class Terminal:
    """A program on a fresh pty, driven line by line (pexpect-free)."""

    def __init__(self, argv: list[str], env: dict[str, str], rows: int, cols: int) -> None:
        self.master, slave = os.openpty()
        self.resize(rows, cols, fd=slave)
        self.proc = subprocess.Popen(argv, env=env, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True,
                                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.out = b""

    def resize(self, rows: int, cols: int, fd: int | None = None) -> None:
        """Like a terminal window resized: the client gets SIGWINCH and tells the server."""
        fcntl.ioctl(self.master if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, cols, 0, 0))

    def expect(self, text: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.out:
            assert time.monotonic() < deadline, self.out.decode(errors="replace")
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                assert chunk, self.out.decode(errors="replace")
                self.out += chunk

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def close(self) -> int:
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        os.close(self.master)
        return code
