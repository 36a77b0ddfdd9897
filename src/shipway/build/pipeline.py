"""Build one app (B1–B5, B7, B9): reuse, or run its steps in the sandbox and freeze.

The app's source is exported into a fresh directory owned by the build uid,
which is bound at /app; the project's cache directory is bound at
PLATFORM_CACHE_DIR and a fresh directory at /tmp. Nothing else is writable,
no runtime-only variable is set, and the firewall keeps the build uid away
from every local address (services, the host's loopback) while the outside
network stays reachable with the host's proxy and CA settings.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipway.artifacts.store import ArtifactStore
from shipway.build.key import BuildInputs, rebuild_reasons
from shipway.build.runtime import runtime_binds
from shipway.build.steps import Step, dependency_steps, flavor_steps, hook_step
from shipway.config.model import AppConfig
from shipway.encoding import b64json, env_value
from shipway.errors import BuildFailed
from shipway.git.repos import GitObjects
from shipway.sandbox.run import run_oneshot
from shipway.sandbox.spec import Bind, SandboxSpec, passthrough_env

CACHE_DIR = "/run/shipway/cache"


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
    timeout: float
    extra_passthrough: tuple[str, ...]
    home: Path


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
    inputs = build_inputs(req)
    app = req.app
    log(f"Building application '{app.name}' (runtime type: {app.type}, tree: {req.tree_id[:7]})")
    if host.store.has(inputs.key):
        log("  Reusing existing build for this tree ID")
        return BuildResult(inputs.key, reused=True)
    previous = host.store.inputs(previous_key) if previous_key else None
    log(f"  Rebuilding: {', '.join(rebuild_reasons(previous, inputs))}")
    work = host.work_root / f"{app.name}-{inputs.key[:12]}-{os.getpid()}-{threading.get_ident()}"
    try:
        _prepare(work, objects, req, host)
        spec_for = _spec_factory(work, req, host)
        files = {p.name for p in (work / "app").iterdir()}
        steps = [
            *dependency_steps(app.dependencies),
            *flavor_steps(app.runtime, app.build_flavor, files),
            *hook_step(app.hooks.build),
        ]
        for step in steps:
            _run_step(step, spec_for, host, log, cancel)
        log("  Freezing application.")
        host.store.freeze(work / "app", inputs.key, inputs.as_json(), app.mounts.keys(), log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BuildResult(inputs.key, reused=False)


def _prepare(work: Path, objects: GitObjects, req: BuildRequest, host: BuildHost) -> None:
    shutil.rmtree(work, ignore_errors=True)
    for sub in ("app", "tmp"):
        (work / sub).mkdir(parents=True)
    objects.export(req.tree_id, work / "app")
    cache = host.cache_root / req.project_id
    cache.mkdir(parents=True, exist_ok=True)
    for path in (work / "app", work / "tmp", cache):
        _chown_tree(path, host.uid)


def _chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, uid)


def _spec_factory(work: Path, req: BuildRequest, host: BuildHost) -> Callable[[Step], SandboxSpec]:
    runtime = runtime_binds(req.app.type, host.home)
    env = {
        **passthrough_env(os.environ, host.extra_passthrough),
        **runtime.env,
        **build_environment(req),
        "PATH": ":".join(["/app/.global/bin", *runtime.path_dirs, "/app/.local/bin",
                          "/usr/local/bin", "/usr/bin", "/bin"]),
    }
    binds = (
        Bind(host.cache_root / req.project_id, CACHE_DIR, writable=True),
        *runtime.binds,
    )

    def spec_for(step: Step) -> SandboxSpec:
        return SandboxSpec(
            command=step.command, app_dir=work / "app", app_writable=True,
            uid=host.uid, gid=host.uid, env=env, tmp_dir=work / "tmp", binds=binds,
        )

    return spec_for


def build_environment(req: BuildRequest) -> dict[str, str]:
    """Build-time variables (B4): never PLATFORM_BRANCH, PLATFORM_ENVIRONMENT & co."""
    app = req.app
    env_vars = {k.removeprefix("env:"): v for k, v in req.build_variables.items() if k.startswith("env:")}
    platform_vars = {k: v for k, v in req.build_variables.items() if not k.startswith("env:")}
    return {
        **{k: env_value(v) for k, v in _app_env_variables(app).items()},
        **env_vars,
        "HOME": "/app",
        "CI": "true",
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
    host: BuildHost,
    log: Callable[[str], None],
    cancel: threading.Event | None,
) -> None:
    log(f"  {step.title}")

    def on_line(line: str, is_stderr: bool) -> None:
        log(f"    W: {line}" if is_stderr else f"    {line}")

    code = run_oneshot(spec_for(step), on_line=on_line, timeout=host.timeout, cancel=cancel)
    if code != 0:
        raise BuildFailed(f"the {step.what} failed with exit status {code}; nothing was deployed")
