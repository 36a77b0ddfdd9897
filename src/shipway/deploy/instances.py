"""One app of one environment on this host: its directories, processes and hooks.

Each app process runs under its own small supervisor (so a `kill -9` of the
control plane leaves it serving), in a sandbox where the artifact is bound
read-only at /app, declared mounts are bound writable over it, and /tmp is
the instance's own directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from shipway.config.model import AppConfig, Mount
from shipway.config.nesting import Where, nested_problem, outer_of
from shipway.deploy import mountviews
from shipway.deploy.runenv import with_dot_environment
from shipway.deploy.starting import Start, start_verdict
from shipway.environments.data import volume_path
from shipway.environments.masking import hider
from shipway.errors import AppError, Cancelled, UserError
from shipway.homeperms import make_traversable
from shipway.php import fpm
from shipway.php import setup as php_setup
from shipway.sandbox import beneath, pids
from shipway.sandbox.processes import (
    exits_since_start,
    is_state_dir,
    start_supervised,
    stop_supervised,
    supervised_pid,
)
from shipway.sandbox.run import OnLine, run_argv
from shipway.sandbox.spec import Bind, SandboxCommand, SandboxSpec, bwrap_command
from shipway.webkind import WebKind, web_kind

SOCK_DIR = "/run/shipway/sock"
# The processes' state directories under run_dir: `web` and `worker-<name>` (paths.py).
_STATE_DIR = re.compile(r"web|worker-[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


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
    # The router's own group: with it, the socket directory admits the app
    # and the router only (every app shares `gid`, so it cannot do that).
    router_gid: int | None = None
    pids_max: int = pids.DEFAULT_APP  # per process tree: web, each worker, each hook run (S5)

    @property
    def start_command(self) -> str | None:
        if self.process != "web":
            return self.command
        web = self.app.web
        if web_kind(self.app) is WebKind.STATIC:
            return None  # the router serves the files; a `sleep` serves nothing (C7)
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
    # The app owns what is inside them: nothing there is followed (S1).
    for path in (_tmp_dir(launch), _tmp_mounts(launch)):
        beneath.remove_tree(inst.run_dir, str(path.relative_to(inst.run_dir)))
    for path in (inst.socket_dir, _tmp_dir(launch)):
        beneath.make_dirs(inst.run_dir, path.name, owner=(launch.uid, launch.gid))
    # The router dials the socket inside. S4: with the router's group, another
    # environment's app (same group as this one, its own uid) gets no search right.
    group, mode = (launch.gid, 0o711) if launch.router_gid is None else (launch.router_gid, 0o710)
    beneath.make_dirs(inst.run_dir, inst.socket_dir.name, owner=(launch.uid, group), mode=mode)


def _tmp_dir(launch: Launch) -> Path:
    return launch.instance.run_dir / ("tmp" if launch.process == "web" else f"tmp-{launch.process}")


def _tmp_mounts(launch: Launch) -> Path:
    return launch.instance.run_dir / "tmp-mounts" / launch.process


def mount_base(launch: Launch, source: str) -> Path:
    """The directory (ours) a mount of `source` kind lives in; the mount is `source_path` below."""
    return _mount_base(launch, source)


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
        base = _mount_base(launch, mount.source)
        base.mkdir(parents=True, exist_ok=True)  # ours alone: the app sees only what is inside
        source = mount.source_path or rel
        nested = _nested(launch, rel)
        try:
            # A mount's directory may lie inside another mount, where the
            # app may have swapped it for a symlink since the last push (S1).
            beneath.make_dirs(base, source, owner=(launch.uid, launch.gid))
        except ValueError as exc:
            raise UserError(f"mount '{rel}': {exc}") from None
        except beneath.PathEscape:
            if not nested:  # a nested one's directory is the app's own business: not bound
                raise
        if not nested:  # a nested one is the outer's own directory: already there
            binds.append(Bind(base / source, f"/app/{rel}", writable=True, beneath=base))
    return tuple(binds)


def _nested(launch: Launch, rel: str) -> bool:
    """Whether mount `rel` lies inside another mount; refused unless it is the
    same directory, because its bind destination would be in a tree the app
    writes, which root's bwrap resolves following the app's symlinks (S1)."""
    mounts = launch.app.mounts
    outer = outer_of(rel, mounts)
    if outer is None:
        return False
    problem = nested_problem(rel, _where(rel, mounts[rel]), outer, _where(outer, mounts[outer]))
    if problem:
        raise UserError(f"mount '{rel}': {problem}")
    return True


def _where(rel: str, mount: Mount) -> Where:
    return Where(mount.source, mount.service, mount.source_path or rel)  # as mount_binds joins it


def check_mounts(launch: Launch) -> None:
    """Refuse, before anything is stopped, a mount directory the app swapped for a symlink.

    mount_binds refuses it too, but only once the previous release is down;
    this way it keeps serving (its sandbox still holds the real directory).
    """
    for rel, mount in sorted(launch.app.mounts.items()):
        base = _mount_base(launch, mount.source)
        if _nested(launch, rel) or mount.source == "tmp" or not base.is_dir():
            continue  # made afresh at every start
        try:
            os.close(beneath.opened_fd(base, mount.source_path or rel))
        except FileNotFoundError:
            pass  # a new mount: made beneath its base, later
        except ValueError as exc:
            raise UserError(f"mount '{rel}': {exc}") from None


def fpm_dir(launch: Launch) -> Path:
    """The app's PHP-FPM config on the host (root's), at fpm.CONF_DIR in the sandbox."""
    return launch.instance.run_dir / "fpm"


def runs_fpm(launch: Launch) -> bool:
    return launch.process == "web" and web_kind(launch.app) is WebKind.FPM


def sandbox_spec(launch: Launch, command: tuple[str, ...]) -> SandboxSpec:
    fpm_binds = (Bind(fpm_dir(launch), fpm.CONF_DIR),) \
        if runs_fpm(launch) and fpm_dir(launch).is_dir() else ()
    return SandboxSpec(
        command=command, app_dir=launch.artifact, app_writable=False,
        uid=launch.uid, gid=launch.gid, env=launch.env,
        tmp_dir=_tmp_dir(launch),
        binds=(*launch.runtime_binds, Bind(launch.instance.socket_dir, SOCK_DIR, writable=True),
               *fpm_binds, *mount_binds(launch)),
    )


def _web_command(launch: Launch) -> str | None:
    if not runs_fpm(launch):
        return launch.start_command
    port = launch.env.get("PORT") if launch.app.web.socket_family == "tcp" else None
    command = php_setup.write(fpm_dir(launch), launch.app, port=port)
    pre_start = launch.app.web.pre_start
    if pre_start:
        return f"{{\n{pre_start}\n}} || echo \"pre_start failed with status $?\" >&2\n{command}"
    return command


def start_process(launch: Launch) -> None:
    command = _web_command(launch)
    if not command:
        return
    inst = launch.instance
    if launch.process == "web" and inst.new_socket.exists():
        inst.new_socket.unlink()
    sandboxed = bwrap_command(sandbox_spec(launch, with_dot_environment(command)))
    state_dir = inst.run_dir / launch.process
    limit = pids.Limit(pids.app_group_name(inst.home, state_dir), launch.pids_max)
    start_supervised(state_dir, list(sandboxed.argv), env=sandboxed.env, log=inst.log(launch.log_name),
                     limit=limit)


def stop_all(inst: Instance) -> None:
    """Stop the web process and every worker of the app (D9: TERM, then KILL after a grace).

    The router's views of its mounts go too (C6a): they would pin the data a
    restore replaces or a delete drops; serving the release makes them again.
    """
    mountviews.release(mountviews.views_dir(inst.home, inst.upstream_socket.stem))
    if not inst.run_dir.is_dir():
        return
    # Only the state directories shipway made: `sock` and the `tmp*` ones are
    # the app's, and a spec.json it wrote there would name what root kills (S1).
    for state_dir in sorted(inst.run_dir.iterdir()):
        if _STATE_DIR.fullmatch(state_dir.name) and is_state_dir(state_dir) \
                and (state_dir / "spec.json").exists():
            stop_supervised(state_dir)


def running(launch: Launch) -> bool:
    return supervised_pid(launch.instance.run_dir / launch.process) is not None


def run_hook(launch: Launch, hook: str, log: Callable[[str], None]) -> int:
    """Run the deploy, post_deploy or post_start hook; output to the activity and its log file."""
    script = launch.app.web.post_start if hook == "post_start" else getattr(launch.app.hooks, hook)
    return run_script(launch, script or "", log, launch.instance.log(f"{hook.replace('_', '-')}.log"))


def run_script(launch: Launch, script: str, log: Callable[[str], None], log_file: Path,
               cancel: threading.Event | None = None) -> int:
    """Run a script of the user's with dash in the app's run-time sandbox (hooks,
    crons), in a pids cgroup of its own: a script that reaches the app's
    process limit is stopped at once, and the log says so (status 1)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    hide = hider(log)
    with log_file.open("a", encoding="utf-8") as out:
        out.write(f"[{stamp}] Launching hook '{script.strip()}'.\n\n")

        def on_line(line: str, is_stderr: bool) -> None:
            out.write(hide(line) + "\n")  # masked as the activity's log is (S3)
            out.flush()
            log(f"    W: {line}" if is_stderr else f"    {line}")

        command = bwrap_command(sandbox_spec(launch, with_dot_environment(script)))
        who = "the cron" if log_file.stem == "cron" else f"the {log_file.stem} hook"
        name = pids.transient_name(launch.instance.home, "hook")
        return _run_limited(command, pids.Limit(name, launch.pids_max), who, on_line, log, cancel)


def _run_limited(command: SandboxCommand, limit: pids.Limit, who: str, on_line: OnLine,
                 log: Callable[[str], None], cancel: threading.Event | None) -> int:
    argv, env = list(command.argv), command.env
    group, why = pids.create(limit.max, limit.name, "apps")
    if group is None:
        log(f"    W: process limit not enforced: {why}")
        return run_argv(argv, env=env, on_line=on_line, stop=lambda: _cancelled(cancel))

    def stop() -> str | None:
        if group.hits():  # killed at once, as a build is (pipeline.py)
            group.kill_all()
            return "process limit"
        return _cancelled(cancel)

    try:
        return run_argv(group.wrap(argv), env=env, on_line=on_line, stop=stop)
    except Cancelled:
        if not group.hits():
            raise
        message = pids.limit_message(who, limit.max, pids.APP_SETTING)
        on_line(message, True)
        return 1
    finally:
        group.remove()


def _cancelled(cancel: threading.Event | None) -> str | None:
    return "cancelled" if cancel is not None and cancel.is_set() else None


def wait_listening(launch: Launch, port: int | None, timeout: float) -> None:
    """Wait until the new process accepts connections on its socket or port;
    raise at once if it crash-loops (deploy/starting.py)."""
    started = time.monotonic()
    state_dir = launch.instance.run_dir / launch.process
    while True:
        verdict = start_verdict(_accepts(launch, port), exits_since_start(state_dir),
                                time.monotonic() - started, timeout)
        if verdict is Start.UP:
            return
        if verdict is not Start.WAITING:
            break
        time.sleep(0.05)
    where = "$SOCKET" if launch.app.web.socket_family == "unix" else f"$PORT ({port})"
    seen = (f"exited {exits_since_start(state_dir)} times at start" if verdict is Start.CRASHED
            else f"did not listen on {where} within {timeout:.0f} s")
    raise AppError(
        f"app '{launch.app.name}' {seen}; "
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
