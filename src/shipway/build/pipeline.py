"""Build one app (B1–B9): reuse, or run its steps in the sandbox and freeze.

The app's source is exported onto the build's own size-limited disk
(space.py, disk.py), owned by the build uid and bound at /app; the disk's
cache/ (the project's cache, carried from its last build) is bound at
PLATFORM_CACHE_DIR and its tmp/ at /tmp. Nothing else is writable, no
runtime-only variable is set, every process runs in the build's memory
cgroup, and the firewall keeps the build uid away from every local address
(services, the host's loopback) while the outside network stays reachable
with the host's proxy and CA settings. One deadline covers the whole build;
a cancel or the deadline stops the running step's whole process tree.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipway.artifacts.links import served_links
from shipway.artifacts.store import ArtifactStore
from shipway.build.key import BuildInputs, rebuild_reasons
from shipway.build.limits import STOP_GRACE, Deadline
from shipway.build.runtime import app_runtime
from shipway.build.space import BuildSpace, build_space
from shipway.build.steps import (
    CACHE_DIR,
    GLOBAL_PATH_DIRS,
    Step,
    cache_environment,
    dependency_steps,
    flavor_steps,
    hook_step,
)
from shipway.config.model import AppConfig
from shipway.encoding import b64json, env_value
from shipway.errors import BuildFailed, Cancelled
from shipway.git.repos import GitObjects
from shipway.sandbox import beneath
from shipway.sandbox.pids import DEFAULT_BUILD as DEFAULT_BUILD_PIDS
from shipway.sandbox.run import run_argv
from shipway.sandbox.spec import Bind, SandboxSpec, bwrap_command, passthrough_env


@dataclass(frozen=True)
class BuildRequest:
    project_id: str
    project_entropy: str
    app: AppConfig
    commit: str
    tree_id: str
    build_variables: Mapping[str, str]  # name as the user wrote it → value


@dataclass(frozen=True)
class BuildResult:
    key: str
    reused: bool


@dataclass(frozen=True)
class BuildHost:
    """Where and as whom builds run; the platform's side of a build."""

    store: ArtifactStore
    work_root: Path
    cache_root: Path
    uid: int
    timeout: float  # seconds for the whole build, every step included (B8)
    extra_passthrough: tuple[str, ...]
    home: Path
    disk_mb: int = 4096  # app + cache + /tmp (B6)
    memory_mb: int = 2048  # all the build's processes together (B6)
    pids_max: int = DEFAULT_BUILD_PIDS  # processes and threads at once, all steps' trees (S5)
    nearest_runtime: bool = False  # the version policy: another version if this one cannot be had


def build_inputs(req: BuildRequest) -> BuildInputs:
    return BuildInputs(req.app.name, req.tree_id, req.app.build_relevant(), req.build_variables)


def build_app(
    req: BuildRequest,
    objects: GitObjects,
    host: BuildHost,
    log: Callable[[str], None],
    previous_key: str | None,
    cancel: threading.Event | None = None,
) -> BuildResult:
    """Reuse the artifact of an identical build, or build and freeze one.
    Raises BuildFailed (a step failed, or the disk or memory limit was hit)
    or Cancelled (`cancel` was set, or the time limit passed)."""
    inputs = build_inputs(req)
    app = req.app
    log(f"Building application '{app.name}' (runtime type: {app.type}, tree: {req.tree_id[:7]})")
    if host.store.has(inputs.key):
        log("  Reusing existing build for this tree ID")
        # Checked again: the locations (not part of the build key) may have changed.
        _check_served_links(app, host.store.path(inputs.key), log)
        return BuildResult(inputs.key, reused=True)
    previous = host.store.inputs(previous_key) if previous_key else None
    log(f"  Rebuilding: {', '.join(rebuild_reasons(previous, inputs))}")
    clock = Deadline(host.timeout, cancel)
    name = f"{app.name}-{inputs.key[:12]}-{os.getpid()}-{threading.get_ident()}"
    with build_space(host, req.project_id, name, log) as space:
        _export(objects, req, space)
        steps = plan_steps(app, {p.name for p in space.disk.app.iterdir()})
        spec_for = _spec_factory(space, req, host)
        for step in steps:
            clock.check()
            _run_step(step, spec_for, space, log, clock)
        _check_served_links(app, space.disk.app, log)
        log("  Freezing application.")
        host.store.freeze(space.disk.app, inputs.key, inputs.as_json(), app.mounts.keys(), log,
                          abort=clock.check)
        space.succeeded = True
    return BuildResult(inputs.key, reused=False)


def _check_served_links(app: AppConfig, built: Path, log: Callable[[str], None]) -> None:
    """S2: refuse a symlink under a location's root that leads out of it (links.py)."""
    roots = [loc.root for loc in app.web.locations.values() if loc.root is not None]
    links = served_links(built, roots)
    for link in links:
        if not link.escapes:
            log(f"  W: {link.path} is a symlink: the router follows no symlink, so it is not served")
    escaping = [f"{link.path} -> {link.target}" for link in links if link.escapes]
    if escaping:
        raise BuildFailed(
            "symlinks under a web location's root lead out of it, so the router would publish "
            f"what they point to: {', '.join(escaping)}; remove them or point them inside the root"
        )


def plan_steps(app: AppConfig, files: set[str]) -> list[Step]:
    """B1's order: dependencies, flavor, hook."""
    return [
        *dependency_steps(app.dependencies, lambda tool: shutil.which(tool) is not None),
        *flavor_steps(app.runtime, app.build_flavor, files),
        *hook_step(app.hooks.build),
    ]


def _export(objects: GitObjects, req: BuildRequest, space: BuildSpace) -> None:
    try:
        objects.export(req.tree_id, space.disk.app)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BuildFailed(space.disk_full_message("source tree")) from exc
        raise
    beneath.chown_tree(space.disk.app, space.uid, space.uid)


def _spec_factory(space: BuildSpace, req: BuildRequest, host: BuildHost) -> Callable[[Step], SandboxSpec]:
    runtime = app_runtime(req.app, host.home, host.nearest_runtime)
    env = {
        **passthrough_env(os.environ, host.extra_passthrough),
        **runtime.env,
        **cache_environment(CACHE_DIR),
        **build_environment(req),
        "PATH": ":".join([*GLOBAL_PATH_DIRS, *runtime.path_dirs, "/app/.local/bin",
                          "/usr/local/bin", "/usr/bin", "/bin"]),
    }
    binds = (Bind(space.disk.cache, CACHE_DIR, writable=True), *runtime.binds)

    def spec_for(step: Step) -> SandboxSpec:
        return SandboxSpec(
            command=step.command, app_dir=space.disk.app, app_writable=True,
            uid=host.uid, gid=host.uid, env={**env, **step.env}, tmp_dir=space.disk.tmp, binds=binds,
        )

    return spec_for


def ci_variable(app: AppConfig) -> dict[str, str]:
    """`CI` in a build (reference §3.1: Platform.sh sets it during builds, its
    value undocumented). Upsun's builds do not make tools act as on a CI
    server: its own demo app (gregqualls/upsun-demo-app) runs a
    create-react-app `npm run build` that fails there on lint warnings when
    CI is set to anything but "false". So `.upsun/` apps get none."""
    return {} if app.config_file.startswith(".upsun/") else {"CI": "true"}


def build_environment(req: BuildRequest) -> dict[str, str]:
    """Build-time variables (B4): never PLATFORM_BRANCH, PLATFORM_ENVIRONMENT & co."""
    app = req.app
    env_vars = {k.removeprefix("env:"): v for k, v in req.build_variables.items() if k.startswith("env:")}
    platform_vars = {k: v for k, v in req.build_variables.items() if not k.startswith("env:")}
    return {
        **{k: env_value(v) for k, v in _app_env_variables(app).items()},
        **env_vars,
        "HOME": "/app",
        **ci_variable(app),
        "PLATFORM_APP_DIR": "/app",
        "PLATFORM_OUTPUT_DIR": "/app",
        "PLATFORM_CACHE_DIR": CACHE_DIR,
        "PLATFORM_APPLICATION_NAME": app.name,
        "PLATFORM_APPLICATION": b64json(app.platform_application(build_time=True)),
        "PLATFORM_PROJECT": req.project_id,
        "PLATFORM_PROJECT_ENTROPY": req.project_entropy,
        "PLATFORM_TREE_ID": req.tree_id,
        "PLATFORM_VARIABLES": b64json({**_app_platform_variables(app), **platform_vars}),
    }


def _app_env_variables(app: AppConfig) -> dict[str, object]:
    return dict(app.variables.get("env", {}))


def _app_platform_variables(app: AppConfig) -> dict[str, object]:
    return {
        f"{prefix}:{name}": value
        for prefix, names in app.variables.items() if prefix != "env"
        for name, value in names.items()
    }




def _run_step(
    step: Step,
    spec_for: Callable[[Step], SandboxSpec],
    space: BuildSpace,
    log: Callable[[str], None],
    clock: Deadline,
) -> None:
    if step.title:
        log(f"  {step.title}")
    no_space = False

    def on_line(line: str, is_stderr: bool) -> None:
        nonlocal no_space
        no_space = no_space or "No space left on device" in line
        log(f"    W: {line}" if is_stderr else f"    {line}")

    ooms, refused = space.oom_kills(), space.pids_hits()

    def stop() -> str | None:
        # A bomb is killed at its first refused fork, not at the deadline, and
        # without the TERM grace: 500 spinning processes would slow the stop.
        if space.pids_hits() > refused:
            space.kill_processes()
            return "process limit"
        return clock.reason()

    try:
        command = bwrap_command(spec_for(step))
        code = run_argv(space.wrap(list(command.argv)), env=command.env, on_line=on_line, stop=stop,
                        grace=STOP_GRACE)
    except Cancelled:
        if space.pids_hits() > refused:
            raise BuildFailed(space.too_many_processes_message(step.what)) from None
        raise
    if space.pids_hits() > refused:
        raise BuildFailed(space.too_many_processes_message(step.what))
    if code != 0:
        if space.oom_kills() > ooms:
            raise BuildFailed(space.out_of_memory_message(step.what))
        if no_space or space.disk.full():
            raise BuildFailed(space.disk_full_message(step.what))
        raise BuildFailed(f"the {step.what} failed with exit status {code}; nothing was deployed")
