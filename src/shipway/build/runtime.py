"""The runtime an app's `type` asks for, as sandbox binds (C3, B1a).

The same binding is used to build and to run, so the absolute interpreter
paths that a build writes (script shebangs, virtualenvs) resolve at run time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipway.config.model import AppConfig
from shipway.errors import RuntimeUnavailable
from shipway.runtimes import provision
from shipway.runtimes.binding import SHIM_DIR, binding
from shipway.runtimes.discover import discover
from shipway.runtimes.model import Install, Origin
from shipway.runtimes.resolve import parse_type, resolve, version_matches
from shipway.runtimes.shims import write_shims
from shipway.sandbox.spec import Bind


@dataclass(frozen=True)
class SandboxRuntime:
    binds: tuple[Bind, ...]
    path_dirs: tuple[str, ...]
    env: dict[str, str]
    warning: str | None = None  # set when the nearest-version policy chose another version


INVENTORY_SECONDS = 60.0
_inventory: dict[Path, tuple[float, list[Install]]] = {}


def _installs(home: Path) -> list[Install]:
    # Probing every interpreter costs ~0.4 s and is needed by every build and
    # deploy; installs change rarely, so a minute-old inventory is good enough.
    cached = _inventory.get(home)
    if cached is None or time.monotonic() - cached[0] > INVENTORY_SECONDS:
        cached = _inventory[home] = (time.monotonic(), discover(shipway_home=home))
    return cached[1]


def runtime_binds(type_: str, home: Path, nearest: bool = False, index: int = 0) -> SandboxRuntime:
    """Find the install for `type_` on this host and write its shim directory
    (the `index`-th runtime of a stack gets a shim directory of its own)."""
    install = resolve(_installs(home), type_, nearest=nearest)
    wanted = parse_type(type_).version
    warning = None
    if not version_matches(install.version, wanted):
        warning = (f"{type_} is not installed; using {install.label} instead "
                   "(version policy: nearest)")
    name = re.sub(r"[^a-z0-9.]+", "-", type_.lower())
    if index:
        bound = binding(install, wanted, shim_dir=f"{SHIM_DIR}-{index}")
        shim_dir = write_shims(home / "shims" / f"stack-{index}-{name}", bound)
    else:
        bound = binding(install, wanted)
        shim_dir = write_shims(home / "shims" / name, bound)
    binds = [Bind(host, dest, writable=False) for host, dest in bound.ro_binds]
    binds.append(Bind(shim_dir, bound.shim_dir, writable=False))
    return SandboxRuntime(tuple(binds), bound.path_dirs, dict(bound.env), warning)


def ensure_runtime(type_: str, home: Path, nearest: bool, log: Callable[[str], None]) -> SandboxRuntime:
    """`runtime_binds`, installing a missing Node.js or Python into the store first.

    An install of the version asked for beats the nearest policy: the
    policy only applies when the version cannot be had at all.
    """
    try:
        _whole_node(type_, home, log)
        return runtime_binds(type_, home)
    except RuntimeUnavailable as missing:
        wanted = parse_type(type_)
        if not provision.can_provision(wanted):
            if nearest:
                return runtime_binds(type_, home, nearest=True)
            raise
        try:
            provision.provision(wanted, home, log)
        except RuntimeUnavailable as failed:
            if nearest:
                log(f"W: {failed}")
                return runtime_binds(type_, home, nearest=True)
            raise RuntimeUnavailable(f"{missing} Installing it failed: {failed}") from failed
        _inventory.pop(home, None)
        return runtime_binds(type_, home)


def _whole_node(type_: str, home: Path, log: Callable[[str], None]) -> None:
    """A store Node.js provisioned before it came with its own npm gets it now (C9)."""
    install = resolve(_installs(home), type_)
    if install.language != "nodejs" or install.origin is not Origin.STORE:
        return
    if not (install.prefix / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js").is_file():
        try:
            provision.npm_for_node(install.prefix, install.version, log)
        except RuntimeUnavailable as exc:
            log(f"W: nodejs {install.version} keeps the host's npm: {exc}")
        _inventory.pop(home, None)


def app_runtime_types(app: AppConfig) -> tuple[str, ...]:
    """Every runtime an app needs: its `type`, or each runtime of its Upsun `stack` (C8)."""
    return app.stack or (app.type,)


def app_runtime(app: AppConfig, home: Path, nearest: bool = False) -> SandboxRuntime:
    """The sandbox binds of every runtime of the app: one, or a stack's,
    the primary's names first on PATH (its `python3` wins over another's)."""
    parts = [runtime_binds(t, home, nearest, i) for i, t in enumerate(app_runtime_types(app))]
    return merge(parts) if len(parts) > 1 else parts[0]


def merge(parts: list[SandboxRuntime]) -> SandboxRuntime:
    """One runtime of several (pure): binds once per destination, PATH in order,
    environment with the earlier runtime's value winning."""
    binds: dict[str, Bind] = {}
    path: list[str] = []
    env: dict[str, str] = {}
    for part in parts:
        for bind in part.binds:
            binds.setdefault(bind.dest, bind)
        path += [d for d in part.path_dirs if d not in path]
        env = {**part.env, **env}
    warnings = [p.warning for p in parts if p.warning]
    return SandboxRuntime(tuple(binds.values()), tuple(path), env, "; ".join(warnings) or None)


def inventory(home: Path) -> list[Install]:
    """Every runtime found on this host (`runtime:list`)."""
    return list(_installs(home))
