"""A real shipway for end-to-end tests: `shipway serve` with its own home and ports.

Each test module gets its own control plane, Caddy and uid range, so tests
never touch a shipway the machine already runs.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shipway.build import memory
from shipway.sandbox import pids

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STDLIB = Path(__file__).parent / "apps" / "stdlib"  # a dependency-free app for fast tests
SHIPWAY = [sys.executable, "-m", "shipway.cli.main"]


# Ports handed to tests come from the gap between the platforms' own port blocks
# (ranges.py: 10000-29799) and Linux's ephemeral range (32768-): a port the kernel
# picked (bind to 0) is an ephemeral one, which any outgoing connection made before
# the test binds it may take (seen: the HTTPS API's port "already in use").
_TEST_PORTS = range(29_900, 32_700)
_handed: set[int] = set()


def free_port() -> int:
    """A loopback port free now, never handed out before in this test run."""
    for port in random.sample(_TEST_PORTS, len(_TEST_PORTS)):
        if port in _handed:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed.add(port)
        return port
    raise RuntimeError("no free test port left in 29900-32699")


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until `condition()` is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.02)


def holds_throughout(condition: Callable[[], object], seconds: float) -> bool:
    """True if `condition()` stays true for `seconds`; False at the first look
    where it is not. For what must last (a request held for a window), where
    no condition can end the wait early."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(0.02)
    return bool(condition())


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose uids are all `uid`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        uids = [line.split()[1] for line in status.splitlines() if line.startswith("Uid:")]
        if uids == [str(uid)] and "State:\tZ" not in status:
            pids.append(int(entry.name))
    return pids


@dataclass
class Shipway:
    home: Path
    env: dict[str, str]
    serve_log: Path
    proc: subprocess.Popen[bytes] | None = None
    projects: list[str] = field(default_factory=list)

    def start(self) -> None:
        with self.serve_log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*SHIPWAY, "serve"], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.cli("project:list", check=False).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"shipway serve did not start:\n{self.serve_log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*SHIPWAY, *args], env=self.env, capture_output=True, text=True,
                              check=False, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"shipway {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def create_project(self, name: str) -> str:
        out = self.cli("project:create", name).stdout
        return out.strip().splitlines()[-1]

    def url(self, project: str, env: str = "main") -> str:
        return self.cli("url", "-p", project, "-e", env, "--pipe").stdout.strip()

    def app_data(self, project: str, app: str = "app", env: str = "main") -> Path:
        """Where an app's persistent mounts live: inside the environment's volume."""
        return self.home / "volumes" / "vol" / project / env / "apps" / app

    @property
    def ca(self) -> Path:
        return self.home / "router" / "storage" / "pki" / "authorities" / "local" / "root.crt"

    def fetch(self, url: str, *extra: str, timeout: float = 30) -> tuple[int, str]:
        """GET (or what `extra` says) through the router, resolving any host to loopback."""
        host_port = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        port = port or ("443" if url.startswith("https") else "80")
        proc = subprocess.run(
            ["curl", "-sS", "--max-time", str(timeout), "--cacert", str(self.ca),
             "--resolve", f"{host}:{port}:127.0.0.1", "-o", "-", "-w", "\n%{http_code}",
             *extra, url],
            capture_output=True, text=True, check=False,
        )
        body, _, code = proc.stdout.rpartition("\n")
        return int(code or 0), body


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, check=False, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def make_repo(path: Path, example: str | Path | None = None) -> Path:
    """A git repo with one commit: an example's files (a name under examples/, or a path)."""
    path.mkdir(parents=True, exist_ok=True)
    if example:
        source = example if isinstance(example, Path) else EXAMPLES / example
        shutil.copytree(source, path, dirs_exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial", "--allow-empty")
    return path


# The smallest app config that deploys the stdlib app (the attack tests add to it).
MINIMAL_APP_YAML = """\
name: app
type: "python:3.11"
mounts:
  scratch:
    source: tmp
    source_path: scratch
web:
  commands:
    start: python3 app.py
"""


def unix_socket_app(body: str) -> str:
    """A stdlib HTTP server on $SOCKET answering every GET with `body` (a Python expression)."""
    return f'''\
import http.server, os, socketserver

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

class Handler(http.server.BaseHTTPRequestHandler):
    def address_string(self):
        return "unix"

    def do_GET(self):
        data = {body}
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

Server(os.environ["SOCKET"], Handler).serve_forever()
'''


def stdlib_with_postgres(path: Path, disk_mb: int = 256) -> Path:
    """The stdlib app with a `database` relationship to a PostgreSQL 15 service, committed."""
    repo = make_repo(path, STDLIB)
    cfg = repo / ".platform.app.yaml"
    cfg.write_text(cfg.read_text().replace(
        "mounts:", "relationships:\n  database: \"db:postgresql\"\nmounts:"))
    (repo / ".platform").mkdir()
    (repo / ".platform" / "services.yaml").write_text(
        f"db:\n  type: postgresql:15\n  disk: {disk_mb}\n")
    commit(repo, "app with a database")
    return repo


def push(repo: Path, remote: str, *args: str) -> subprocess.CompletedProcess[str]:
    """git push; its output (the build and deploy log) is in .stdout + .stderr."""
    return git(repo, "push", *args, remote, "HEAD:main", check=False)


def commit(repo: Path, message: str, *args: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, *args)


@contextmanager
def running_shipway(extra_env: dict[str, str] | None = None,
                    home_name: Callable[[Path], str] | None = None, home_mode: int = 0o755
                    ) -> Iterator[Shipway]:
    """A fresh shipway (control plane, router) in a temporary home, removed afterwards.

    Its home is not under pytest's tmp dir: that is 0700 root, and the router
    runs as its own uid, which must reach its home and the app sockets.
    `home_name` picks the home's name in its temporary directory.
    """
    base = Path(tempfile.mkdtemp(prefix="shipway-e2e-"))
    base.chmod(0o755)
    home = base / (home_name(base) if home_name else "home")
    env = {
        **os.environ,
        "SHIPWAY_HOME": str(home),
        "SHIPWAY_HTTP_PORT": str(free_port()),
        "SHIPWAY_HTTPS_PORT": str(free_port()),
        "SHIPWAY_LISTEN": "127.0.0.1",
        "SHIPWAY_HOLD_SECONDS": "60",
        "SHIPWAY_DATA_POOL_MB": "2048",  # sparse: only written blocks use the disk
        "PYTHONPATH": str(ROOT / "src"),
        **(extra_env or {}),
    }
    home.mkdir(parents=True)
    home.chmod(home_mode)
    sw = Shipway(home, env, base / "serve.log")
    try:
        sw.start()
        yield sw
    finally:
        teardown(sw)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def shipway(request: pytest.FixtureRequest) -> Iterator[Shipway]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root (sandboxes, uids, nftables)")
    # A test module may tune its platform, e.g. shorter limits.
    with running_shipway(getattr(request.module, "SHIPWAY_EXTRA_ENV", {})) as sw:
        yield sw


def teardown(sw: Shipway) -> None:
    stop_everything(sw)
    from shipway.settings import load_settings

    table = load_settings(sw.env).firewall_table
    subprocess.run(["nft", "delete", "table", "inet", table], check=False, capture_output=True)


def stop_everything(sw: Shipway) -> None:
    """Stop every process of the instance and unmount its disks; its firewall table stays."""
    if sw.proc and sw.proc.poll() is None:
        sw.proc.terminate()
        sw.proc.wait(timeout=10)
    # Everything shipway started carries its home in its command line or files.
    subprocess.run(["pkill", "-KILL", "-f", str(sw.home)], check=False)
    pid_file = sw.home / "router" / "caddy.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass
    for mount in ("artifacts", "served", "runview", "volumes"):
        subprocess.run(["umount", "-l", str(sw.home / mount)], check=False, capture_output=True)
    # Supervisors killed outright cannot remove their cgroups: this home's go now.
    pids.sweep(sw.home, kill=True)
    memory.sweep(pids.instance_prefix(sw.home))
