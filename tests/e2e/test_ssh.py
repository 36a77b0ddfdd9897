"""A2 and A4 end to end: git push and shells over a real sshd with real keys.

One platform with SHIPWAY_SSH_PORT; root deploys `main` by the local path,
alice (development contributor) pushes a branch over SSH and opens shells.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    SHIPWAY,
    STDLIB,
    Shipway,
    commit,
    free_port,
    git,
    make_repo,
    push,
    wait_for,
)
from tests.e2e.sshkit import Key, Terminal, add_user, run_in_pty

pytestmark = pytest.mark.e2e

SHIPWAY_EXTRA_ENV = {"SHIPWAY_SSH_PORT": str(free_port())}
PROJECT = "shop"


@pytest.fixture(scope="module")
def site(shipway: Shipway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Key]]:
    local = shipway.create_project(PROJECT)
    repo = make_repo(tmp_path_factory.mktemp("ssh") / "repo", STDLIB)
    out = push(repo, local)
    assert out.returncode == 0, out.stdout + out.stderr
    alice = add_user(shipway, "alice@example.com", PROJECT,
                     ["viewer", "development:contributor"], tmp_path_factory.mktemp("keys"))
    yield repo, alice


def _ssh(sw: Shipway, env: str, command: str) -> subprocess.CompletedProcess[str]:
    """`shipway ssh` as root on the server."""
    return subprocess.run([*SHIPWAY, "ssh", "-p", PROJECT, "-e", env, "--", command], env=sw.env,
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def _ref(sw: Shipway, branch: str) -> str:
    out = git(sw.home / "git" / f"{PROJECT}.git", "rev-parse", "--verify", "-q", branch, check=False)
    return out.stdout.strip()


def test_a2_a_contributor_pushes_a_branch_over_ssh_and_sees_the_live_log(
        shipway: Shipway, site: tuple[Path, Key]) -> None:
    repo, alice = site
    shipway.cli("environment:branch", "feature-x", "main", "-p", PROJECT)  # active, development
    git(repo, "checkout", "-q", "-b", "feature-x")
    (repo / "feature.txt").write_text("x")
    commit(repo, "a feature")
    out = subprocess.run(["git", "-C", str(repo), "push", alice.remote(PROJECT), "feature-x"],
                         capture_output=True, text=True, env=alice.git_env(), timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "remote: " in log and "Running hook (app: deploy)" in log and "Deploy timeline" in log
    assert _ref(shipway, "feature-x") == git(repo, "rev-parse", "HEAD").stdout.strip()
    who = shipway.cli("activity:list", "-p", PROJECT, "-e", "feature-x", "--format", "json").stdout
    assert "alice@example.com" in who  # A1: the activity records who pushed


def test_a2_pushing_main_as_a_development_contributor_is_refused(
        shipway: Shipway, site: tuple[Path, Key]) -> None:
    repo, alice = site
    before = _ref(shipway, "main")
    (repo / "refused.txt").write_text("x")
    commit(repo, "must not reach main")
    out = subprocess.run(["git", "-C", str(repo), "push", alice.remote(PROJECT), "HEAD:main"],
                         capture_output=True, text=True, env=alice.git_env(), timeout=600)
    log = out.stdout + out.stderr
    assert out.returncode != 0
    assert "alice@example.com may not" in log and "production:" in log, log
    assert "Building" not in log
    assert _ref(shipway, "main") == before
    git(repo, "reset", "-q", "--hard", "HEAD~1")


def test_a4_root_reads_the_deploy_log_in_the_environment(shipway: Shipway,
                                                         site: tuple[Path, Key]) -> None:
    out = _ssh(shipway, "main", "cat /var/log/deploy.log; ls /var/log")
    assert out.returncode == 0, out.stderr
    assert "Launching hook" in out.stdout and "deploy hook ran as" in out.stdout
    assert "post-deploy.log" in out.stdout and "app.log" in out.stdout


def test_a4_the_logs_are_the_live_files_readable_by_the_app_only(shipway: Shipway,
                                                                 site: tuple[Path, Key]) -> None:
    """Bound, not copied (the same inode: `tail -f` follows), and still closed to other uids."""
    logs = shipway.home / "logs" / PROJECT / "main" / "app"
    out = _ssh(shipway, "main", "stat -c %i /var/log/deploy.log /var/log/app.log; "
               "echo x >> /var/log/app.log || echo READ-ONLY")
    inodes = [str(os.stat(logs / name).st_ino) for name in ("deploy.log", "app.log")]
    assert out.stdout.split()[:2] == inodes and "READ-ONLY" in out.stdout, out.stderr
    nobody = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                             "cat", str(logs / "deploy.log")], capture_output=True)
    assert nobody.returncode != 0
    assert stat.S_IMODE(os.stat(logs).st_mode) == 0o700


def test_a4_app_is_read_only_and_mounts_are_writable(shipway: Shipway,
                                                     site: tuple[Path, Key]) -> None:
    out = _ssh(shipway, "main", "touch /app/x")
    assert out.returncode != 0 and "Read-only file system" in out.stderr
    out = _ssh(shipway, "main", "echo from-ssh > /app/data/ssh.txt && id -u")
    assert out.returncode == 0, out.stderr
    written = shipway.app_data(PROJECT) / "mounts" / "data" / "ssh.txt"
    assert written.read_text() == "from-ssh\n"
    assert os.stat(written).st_uid == int(out.stdout.strip()) != 0  # the app's own uid


def test_a4_the_shell_reaches_what_the_app_reaches(shipway: Shipway, site: tuple[Path, Key]) -> None:
    """The app's own listener, as its web process binds it, answers from the shell."""
    probe = ("python3 -c \"import os, socket; a = os.environ.get('SOCKET'); "
             "s = socket.socket(socket.AF_UNIX if a else socket.AF_INET); "
             "s.connect(a or ('127.0.0.1', int(os.environ['PORT']))); "
             "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(12).decode())\"")
    out = _ssh(shipway, "main", probe)
    assert out.returncode == 0 and out.stdout.startswith("HTTP/1.0 200"), out.stderr


def test_a4_exit_status_and_environment_come_back(shipway: Shipway, site: tuple[Path, Key]) -> None:
    assert _ssh(shipway, "main", "exit 3").returncode == 3
    out = _ssh(shipway, "main", "env")
    assert "PLATFORM_RELATIONSHIPS=" in out.stdout and "PLATFORM_BRANCH=main" in out.stdout
    assert "ROLE=web" in out.stdout  # the app's own variables


def test_a4_a_contributor_opens_a_shell_over_ssh_where_their_role_allows(
        shipway: Shipway, site: tuple[Path, Key]) -> None:
    _repo, alice = site
    out = alice.run("ssh -p shop -e feature-x -- 'echo $PLATFORM_BRANCH; exit 4'")
    assert (out.returncode, out.stdout) == (4, "feature-x\n"), out.stderr
    out = alice.run("ssh -p shop -e main -- id")
    assert out.returncode == 1 and "uid=" not in out.stdout
    assert "alice@example.com may not" in out.stderr and len(out.stderr.splitlines()) == 1


def test_a4_an_interactive_shell_gets_a_terminal_of_the_clients_size(
        shipway: Shipway, site: tuple[Path, Key]) -> None:
    _repo, alice = site
    typed = b"tty && echo TTY-OK; stty size; exit 5\n"
    code, out = run_in_pty([*alice.ssh("-tt"), alice.login, "ssh -p shop -e feature-x"],
                           alice.git_env(), typed, rows=33, cols=97)
    assert code == 5, out
    assert "TTY-OK" in out and "33 97" in out and "not a tty" not in out
    code, out = run_in_pty([*SHIPWAY, "ssh", "-p", PROJECT, "-e", "main"], shipway.env,
                           b"stty size; exit 6\n", rows=21, cols=55)
    assert code == 6 and "21 55" in out, out


def _sshd_pids(sw: Shipway) -> list[int]:
    config = str(sw.home / "ssh" / "sshd_config").encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # sshd retitles its listener: "sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ..."
        if cmdline.startswith(b"sshd: /usr/sbin/sshd -D") and config in cmdline:
            found.append(int(entry.name))
    return found


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_a2_sshd_is_started_again_if_it_dies(shipway: Shipway, site: tuple[Path, Key]) -> None:
    _repo, alice = site
    (pid,) = _sshd_pids(shipway)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _sshd_pids(shipway) and _sshd_pids(shipway) != [pid], 15, "a new sshd")
    wait_for(lambda: _port_open(alice.port), 15, "sshd listening again")
    assert alice.run("ssh -p shop -e feature-x -- true").returncode == 0
    assert "sshd (port" in shipway.serve_log.read_text()  # said, not silent


def test_a4_a_resized_window_reaches_the_shell(shipway: Shipway, site: tuple[Path, Key]) -> None:
    _repo, alice = site
    term = Terminal([*alice.ssh("-tt"), alice.login, "ssh -p shop -e feature-x"], alice.git_env(),
                    24, 80)
    try:
        term.type(b"stty size\n")
        term.expect(b"24 80\r\n")
        term.resize(40, 132)
        time.sleep(0.5)  # ssh's SIGWINCH -> window-change -> sshd sets the pty's size
        term.type(b"echo SIZE $(stty size) END; exit 7\n")
        term.expect(b" END\r\n")  # the output, not the echoed command line
    finally:
        code = term.close()
    assert code == 7 and b"SIZE 40 132 END" in term.out, term.out


def test_s6_kill9_of_the_control_plane_during_an_ssh_push(
        shipway: Shipway, site: tuple[Path, Key]) -> None:
    """Must hold 5: the push fails with one clear line; the ref stays; no quarantine is left."""
    repo, alice = site
    git(repo, "checkout", "-q", "feature-x")
    before = _ref(shipway, "feature-x")
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace('echo "building stdlib app"',
                                           'echo "building stdlib app"; echo SLOW-BUILD; sleep 60'))
    commit(repo, "a slow build")
    with subprocess.Popen(["git", "-C", str(repo), "push", alice.remote(PROJECT), "feature-x"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=alice.git_env()) as proc:
        assert proc.stdout is not None
        seen = b""
        while b"SLOW-BUILD" not in seen:
            chunk = proc.stdout.read1(4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk
        shipway.kill9()
        wait_for(lambda: not _sshd_pids(shipway), 10, "sshd gone with its control plane")
        seen += proc.stdout.read()
        assert proc.wait(60) != 0
    assert "E: the shipway control plane stopped during this session; nothing was changed" \
        in seen.decode(errors="replace")
    objects = shipway.home / "git" / f"{PROJECT}.git" / "objects"
    assert list(objects.glob("tmp_objdir-incoming-*"))  # what the killed push left...
    shipway.start()
    assert not list(objects.glob("tmp_objdir-incoming-*"))  # ...is gone after the restart
    assert _ref(shipway, "feature-x") == before
    out = alice.run("ssh -p shop -e feature-x -- 'test -f /app/feature.txt && echo served'")
    assert out.stdout == "served\n", out.stderr  # the previous release, reached over SSH again
