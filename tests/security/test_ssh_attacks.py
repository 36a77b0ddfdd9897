"""A2 attacks on the SSH entry: only git of a known project and `ssh -p -e` ever run (S7).

Each refusal is one line; nothing runs a shell on the host, forwards a port
or an agent, or lets a key outlive its user."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipway.access.gate import UNREACHABLE
from shipway.access.sshd import GATE_SOURCE, ssh_settings
from tests.e2e.conftest import SHIPWAY, STDLIB, Shipway, free_port, make_repo, push
from tests.e2e.sshkit import Key, add_user, keygen, ssh_port

pytestmark = pytest.mark.e2e

# Not the default user: `serve` creates this one (a system user with `*` as password).
SSH_USER = "shipway-sec"
SHIPWAY_EXTRA_ENV = {"SHIPWAY_SSH_PORT": str(free_port()), "SHIPWAY_SSH_USER": SSH_USER}
PROJECT = "shop"


@pytest.fixture(scope="module")
def admin(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Key]:
    local = shipway.create_project(PROJECT)
    out = push(make_repo(tmp_path_factory.mktemp("attack") / "repo", STDLIB), local)
    assert out.returncode == 0, out.stdout + out.stderr
    yield add_user(shipway, "boss@example.com", PROJECT, ["admin"], tmp_path_factory.mktemp("k"))


def _one_line_refusal(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("E: "), out.stderr
    return lines[0]


def test_a2_serve_made_the_ssh_user_with_an_unlocked_password(admin: Key) -> None:
    import pwd

    from shipway.access.sshd import locked_password

    entry = pwd.getpwnam(SSH_USER)
    assert entry.pw_shell == "/bin/sh" and entry.pw_dir == f"/var/lib/{SSH_USER}-ssh"
    assert not locked_password(SSH_USER)


def test_a2_the_admin_key_works(admin: Key) -> None:
    """The control case: what the refusals below refuse is not refused for everything."""
    out = admin.run("ssh -p shop -e main -- echo in-the-app")
    assert (out.returncode, out.stdout) == (0, "in-the-app\n"), out.stderr
    ls = subprocess.run(["git", "ls-remote", admin.remote(PROJECT)], capture_output=True, text=True,
                        env=admin.git_env(), timeout=60)
    assert ls.returncode == 0 and "refs/heads/main" in ls.stdout, ls.stderr


@pytest.mark.parametrize("command", [
    "bash -c id", "id", "sh -c 'id'", "bash", "/bin/sh -i",
    "git-upload-pack '/etc'", "git-upload-pack '/etc/.git'", "git-upload-pack '../x.git'",
    "git-receive-pack '/srv/../shop.git'", "git-upload-pack 'shop.git'; id",
    "git-upload-pack 'shop.git' | id", "git-upload-pack $(id)", "scp -t /tmp",
    "ssh -p shop -e main; id", "ssh -p ../shop", "rsync --server -e.Lsfx . /tmp",
])
def test_a2_nothing_else_runs(admin: Key, command: str) -> None:
    out = admin.run(command)
    line = _one_line_refusal(out)
    assert "uid=" not in out.stdout and out.stdout == ""
    assert "allowed" in line or "not a valid" in line


def test_a2_an_unknown_project_is_refused_in_one_line(admin: Key) -> None:
    line = _one_line_refusal(admin.run("git-upload-pack '/nothere.git'"))
    assert "nothere" in line


def test_a2_a_user_of_another_project_learns_nothing_of_this_one(shipway: Shipway, admin: Key,
                                                                 tmp_path: Path) -> None:
    shipway.create_project("other")
    dave = add_user(shipway, "dave@example.com", "other", ["admin"], tmp_path)
    for command in ("git-upload-pack '/shop.git'", "git-upload-pack '/nothere.git'",
                    "ssh -p shop -e main -- id", "ssh -p nothere -e main -- id"):
        line = _one_line_refusal(dave.run(command))
        assert "dave@example.com may not" in line and "no role on this project" in line, line


def test_a2_an_unknown_key_is_refused_by_sshd(admin: Key, tmp_path: Path) -> None:
    stranger = keygen(tmp_path, "stranger", admin.port, SSH_USER)
    out = stranger.run("git-upload-pack '/shop.git'")
    assert out.returncode == 255 and "Permission denied (publickey)" in out.stderr


def test_a2_a_removed_users_key_stops_working_at_once(shipway: Shipway, admin: Key,
                                                     tmp_path: Path) -> None:
    carol = add_user(shipway, "carol@example.com", PROJECT, ["viewer"], tmp_path)
    assert carol.run("ssh -p shop -e main -- true").returncode == 1  # a viewer: no ssh on main...
    ls = ["git", "ls-remote", carol.remote(PROJECT)]
    assert subprocess.run(ls, env=carol.git_env(), capture_output=True, timeout=60).returncode == 0
    shipway.cli("user:delete", "carol@example.com", "-p", PROJECT)
    out = subprocess.run(ls, env=carol.git_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Permission denied (publickey)" in out.stderr


def test_a2_local_port_forwarding_carries_nothing(shipway: Shipway, admin: Key) -> None:
    target = int(shipway.env["SHIPWAY_HTTP_PORT"])
    with socket.create_connection(("127.0.0.1", target), timeout=5) as direct:  # control case
        direct.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        assert direct.recv(100).startswith(b"HTTP/")
    local = free_port()
    with subprocess.Popen([*admin.ssh("-N", "-L", f"{local}:127.0.0.1:{target}"),
                           admin.login], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as tunnel:
        try:
            _wait_listening(local)
            with socket.create_connection(("127.0.0.1", local), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                conn.settimeout(5)
                try:
                    got = conn.recv(100)
                except ConnectionResetError:
                    got = b""
            assert got == b""  # sshd refused the channel: nothing reached the target
        finally:
            tunnel.terminate()
            tunnel.communicate(timeout=10)


def test_a2_remote_port_forwarding_is_refused(admin: Key) -> None:
    remote = free_port()
    out = subprocess.run([*admin.ssh("-N", "-o", "ExitOnForwardFailure=yes", "-R",
                                     f"{remote}:127.0.0.1:22"), admin.login],
                         capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode != 0 and "forwarding failed" in out.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", remote), timeout=2).close()


def test_a2_agent_forwarding_is_refused(admin: Key, tmp_path: Path) -> None:
    agent_sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(agent_sock)], stdout=subprocess.DEVNULL)
    try:
        _wait_for(agent_sock.exists)
        env = {**admin.git_env(), "SSH_AUTH_SOCK": str(agent_sock)}
        subprocess.run(["ssh-add", str(admin.private)], env=env, check=True, capture_output=True)
        out = subprocess.run([*admin.ssh("-A", "-v"), admin.login,
                              "ssh -p shop -e main -- 'echo A=$SSH_AUTH_SOCK'"], env=env,
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        agent.terminate()
        agent.wait(10)
    assert out.returncode == 0 and out.stdout == "A=\n", out.stderr
    # sshd tells a -v client the options in force for the key: the command and a pty, no
    # agent, port or X11 forwarding (and DisableForwarding covers them server-wide).
    options = [line for line in out.stderr.splitlines() if "key options:" in line]
    assert options and all(line.rstrip().endswith("key options: command pty") for line in options)


def test_a2_sftp_and_shells_without_a_command_are_refused(admin: Key) -> None:
    sftp = subprocess.run(["sftp", "-P", str(admin.port), "-i", str(admin.private), "-o",
                           "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "BatchMode=yes", admin.login], input="ls\n",
                          capture_output=True, text=True, timeout=30)
    assert sftp.returncode != 0
    line = _one_line_refusal(admin.run(""))
    assert "no command given" in line


def test_a2_the_session_socket_is_closed_to_other_host_users(shipway: Shipway) -> None:
    """A host user other than root and the SSH user can neither read the gate nor reach the
    socket (a copy of the gate, run by `nobody`, cannot connect)."""
    s = ssh_settings(shipway.home, "127.0.0.1", {"SHIPWAY_SSH_PORT": str(ssh_port(shipway)),
                                                 "SHIPWAY_SSH_USER": SSH_USER})
    nobody = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
    assert subprocess.run([*nobody, "cat", str(s.gate)], capture_output=True).returncode != 0
    out = subprocess.run([*nobody, "/usr/bin/python3", "-I", "-", "--socket", str(s.socket),
                          "--key", "SHA256:x"], input=GATE_SOURCE.read_text(),
                         capture_output=True, text=True, timeout=30,
                         env={"SSH_ORIGINAL_COMMAND": "ssh -p shop -e main -- id"})
    assert (out.returncode, out.stdout, out.stderr.strip()) == (1, "", UNREACHABLE)


def test_a2_the_app_cannot_see_the_session_socket(shipway: Shipway, admin: Key) -> None:
    s = ssh_settings(shipway.home, "127.0.0.1", {})
    out = subprocess.run([*SHIPWAY, "ssh", "-p", PROJECT, "-e", "main", "--",
                          f"ls {s.runtime_dir} {s.socket}; echo done"], env=shipway.env,
                         capture_output=True, text=True, timeout=60)
    assert "done" in out.stdout and "sessions.sock" not in out.stdout


def _wait_listening(port: int) -> None:
    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False
    _wait_for(up)


def _wait_for(condition: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.05)
