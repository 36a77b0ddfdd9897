"""One app of one environment on this host: its directories, processes and hooks.

Each app process runs under its own small supervisor (so a `kill -9` of the
control plane leaves it serving), in a sandbox where the artifact is bound
read-only at /app, declared mounts are bound writable over it, and /tmp is
the instance's own directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from shipway.config.model import AppConfig
from shipway.deploy.runenv import with_dot_environment
from shipway.environments.data import volume_path
from shipway.environments.masking import hider
from shipway.errors import AppError
from shipway.homeperms import make_traversable
from shipway.sandbox.processes import start_supervised, stop_supervised, supervised_pid
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import Bind, SandboxSpec, bwrap_command

SOCK_DIR = "/run/shipway/sock"


@dataclass(frozen=True)
class Instance:
    """Paths of one app in one environment; derived from names, never stored."""

    home: Path
    project: str
    environment: str
    app: str

    @property
    def _rel(self) -> Path:
        return Path(self.project) / self.environment / self.app

    @property
    def run_dir(self) -> Path:
        return self.home / "run" / self._rel

    @property
    def log_dir(self) -> Path:
        return self.home / "logs" / self._rel

    @property
    def data_dir(self) -> Path:
        # Inside the environment's volume, so one snapshot holds mounts and services (E2).
        return volume_path(self.home, self.project, self.environment) / "apps" / self.app

    @property
    def socket_dir(self) -> Path:
        return self.run_dir / "sock"

    @property
    def new_socket(self) -> Path:
        return self.socket_dir / "app.sock"

    @property
    def upstream_socket(self) -> Path:
        # Kept short: a unix socket path must fit in 108 bytes.
        digest = hashlib.sha256(str(self._rel).encode()).hexdigest()[:16]
        return self.home / "u" / f"{digest}.sock"

    def log(self, name: str) -> Path:
        return self.log_dir / name


@dataclass(frozen=True)
class Launch:
    """Everything needed to run one process of one release of one app.

    `process` is "web" or "worker-<name>"; for a worker, `app` is the app as
    that worker sees it (its own mounts, relationships and variables) and
    `command` its start command.
    """

    instance: Instance
    app: AppConfig
    artifact: Path
    uid: int
    gid: int
    env: dict[str, str]
    runtime_binds: tuple[Bind, ...]
    process: str = "web"
    command: str | None = None

    @property
    def start_command(self) -> str | None:
        if self.process != "web":
            return self.command
        web = self.app.web
        if web.start and web.pre_start:
            # Run again at every start, as on Upsun; its failure is reported, not fatal.
            return (f"{{\n{web.pre_start}\n}} || echo \"pre_start failed with status $?\" >&2\n"
                    f"{web.start}")
        return web.start

    @property
    def log_name(self) -> str:
        return "app.log" if self.process == "web" else f"{self.process}.log"


def worker_view(app: AppConfig, name: str) -> AppConfig:
    """The app as worker `name` runs it: Platform.sh lets a worker override these keys."""
    worker = app.workers[name]
    return replace(app, mounts=worker.mounts, relationships=worker.relationships,
                   variables=worker.variables)


def prepare_dirs(launch: Launch) -> None:
    inst = launch.instance
    # The router dials the app's socket through run/…/sock: search-only on the way.
    make_traversable(inst.home, inst.run_dir)
    for path in (inst.log_dir, inst.upstream_socket.parent):
        path.mkdir(parents=True, exist_ok=True)
    # `tmp` mounts and /tmp start empty at every (re)start of the process (D3).
    for path in (_tmp_dir(launch), _tmp_mounts(launch)):
        shutil.rmtree(path, ignore_errors=True)
    for path in (inst.socket_dir, _tmp_dir(launch)):
        path.mkdir(parents=True, exist_ok=True)
        shutil.chown(path, launch.uid, launch.gid)
    os.chmod(inst.socket_dir, 0o711)


def _tmp_dir(launch: Launch) -> Path:
    return launch.instance.run_dir / ("tmp" if launch.process == "web" else f"tmp-{launch.process}")


def _tmp_mounts(launch: Launch) -> Path:
    return launch.instance.run_dir / "tmp-mounts" / launch.process


def _mount_base(launch: Launch, source: str) -> Path:
    if source == "tmp":
        return _tmp_mounts(launch)
    if source in ("storage", "service"):  # shared by the app's web and worker instances
        return launch.instance.data_dir / "shared"
    if launch.process == "web":
        return launch.instance.data_dir / "mounts"
    return launch.instance.data_dir / launch.process / "mounts"  # each worker its own (local)


def mount_binds(launch: Launch) -> tuple[Bind, ...]:
    """Persistent (and tmp) directories for the app's declared mounts (D3)."""
    binds = []
    for rel, mount in sorted(launch.app.mounts.items()):
        host = _mount_base(launch, mount.source) / (mount.source_path or rel)
        host.mkdir(parents=True, exist_ok=True)
        shutil.chown(host, launch.uid, launch.gid)
        binds.append(Bind(host, f"/app/{rel}", writable=True))
    return tuple(binds)


def sandbox_spec(launch: Launch, command: tuple[str, ...]) -> SandboxSpec:
    return SandboxSpec(
        command=command, app_dir=launch.artifact, app_writable=False,
        uid=launch.uid, gid=launch.gid, env=launch.env,
        tmp_dir=_tmp_dir(launch),
        binds=(*launch.runtime_binds, Bind(launch.instance.socket_dir, SOCK_DIR, writable=True),
               *mount_binds(launch)),
    )


def start_process(launch: Launch) -> None:
    command = launch.start_command
    if not command:
        return
    inst = launch.instance
    if launch.process == "web" and inst.new_socket.exists():
        inst.new_socket.unlink()
    sandboxed = bwrap_command(sandbox_spec(launch, with_dot_environment(command)))
    start_supervised(inst.run_dir / launch.process, list(sandboxed.argv), env=sandboxed.env,
                     log=inst.log(launch.log_name))


def stop_all(inst: Instance) -> None:
    """Stop the web process and every worker of the app (D9: TERM, then KILL after a grace)."""
    if not inst.run_dir.is_dir():
        return
    for state_dir in sorted(inst.run_dir.iterdir()):
        if (state_dir / "spec.json").exists():
            stop_supervised(state_dir)


def running(launch: Launch) -> bool:
    return supervised_pid(launch.instance.run_dir / launch.process) is not None


def run_hook(launch: Launch, hook: str, log: Callable[[str], None]) -> int:
    """Run the deploy, post_deploy or post_start hook; output to the activity and its log file."""
    script = launch.app.web.post_start if hook == "post_start" else getattr(launch.app.hooks, hook)
    return run_script(launch, script or "", log, launch.instance.log(f"{hook.replace('_', '-')}.log"))


def run_script(launch: Launch, script: str, log: Callable[[str], None], log_file: Path,
               cancel: threading.Event | None = None) -> int:
    """Run a script of the user's with dash in the app's run-time sandbox (hooks, crons)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    hide = hider(log)
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"[{stamp}] Launching hook '{script.strip()}'.\n\n")

        def on_line(line: str, is_stderr: bool) -> None:
            out.write(hide(line) + "\n")  # masked as the activity's log is (S3)
            out.flush()
            log(f"    W: {line}" if is_stderr else f"    {line}")

        spec = sandbox_spec(launch, with_dot_environment(script))
        return run_oneshot(spec, on_line=on_line, timeout=None, cancel=cancel)


def wait_listening(launch: Launch, port: int | None, timeout: float) -> None:
    """Wait until the new process accepts connections on its socket or port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _accepts(launch, port):
            return
        time.sleep(0.05)
    where = "$SOCKET" if launch.app.web.socket_family == "unix" else f"$PORT ({port})"
    raise AppError(
        f"app '{launch.app.name}' did not listen on {where} within {timeout:.0f} s; "
        f"see `shipway log app` ({launch.instance.log('app.log')})"
    )


def _accepts(launch: Launch, port: int | None) -> bool:
    if launch.app.web.socket_family == "unix":
        family, address = socket.AF_UNIX, str(launch.instance.new_socket)
    else:
        family, address = socket.AF_INET, ("127.0.0.1", port or 0)
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(address)
        except OSError:
            return False
    return True
