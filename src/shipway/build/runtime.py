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
from shipway.runtimes.binding import binding
from shipway.runtimes.discover import discover
from shipway.runtimes.model import Install
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


def runtime_binds(type_: str, home: Path, nearest: bool = False) -> SandboxRuntime:
    """Find the install for `type_` on this host and write its shim directory."""
    install = resolve(_installs(home), type_, nearest=nearest)
    wanted = parse_type(type_).version
    warning = None
    if not version_matches(install.version, wanted):
        warning = (f"{type_} is not installed; using {install.label} instead "
                   "(version policy: nearest)")
    bound = binding(install, wanted)
    shim_dir = write_shims(home / "shims" / re.sub(r"[^a-z0-9.]+", "-", type_.lower()), bound)
    binds = [Bind(host, dest, writable=False) for host, dest in bound.ro_binds]
    binds.append(Bind(shim_dir, bound.shim_dir, writable=False))
    return SandboxRuntime(tuple(binds), bound.path_dirs, dict(bound.env), warning)


def ensure_runtime(type_: str, home: Path, nearest: bool, log: Callable[[str], None]) -> SandboxRuntime:
    """`runtime_binds`, installing a missing Node.js or Python into the store first.

    An install of the version asked for beats the nearest policy: the
    policy only applies when the version cannot be had at all.
    """
    try:
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


def app_runtime_types(app: AppConfig) -> tuple[str, ...]:
    """Every runtime an app needs: its `type`, or each runtime of its Upsun `stack` (C8)."""
    return (app.type,)


def inventory(home: Path) -> list[Install]:
    """Every runtime found on this host (`runtime:list`)."""
    return list(_installs(home))
