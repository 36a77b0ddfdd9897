"""The runtime an app's `type` asks for, as sandbox binds (C3, B1a).

The same binding is used to build and to run, so the absolute interpreter
paths that a build writes (script shebangs, virtualenvs) resolve at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shipway.runtimes.binding import binding
from shipway.runtimes.discover import discover
from shipway.runtimes.resolve import parse_type, resolve
from shipway.runtimes.shims import write_shims
from shipway.sandbox.spec import Bind


@dataclass(frozen=True)
class SandboxRuntime:
    binds: tuple[Bind, ...]
    path_dirs: tuple[str, ...]
    env: dict[str, str]


def runtime_binds(type_: str, home: Path) -> SandboxRuntime:
    """Find the install for `type_` on this host and write its shim directory."""
    install = resolve(discover(shipway_home=home), type_)
    bound = binding(install, parse_type(type_).version)
    shim_dir = write_shims(home / "shims" / re.sub(r"[^a-z0-9.]+", "-", type_.lower()), bound)
    binds = [Bind(host, dest, writable=False) for host, dest in bound.ro_binds]
    binds.append(Bind(shim_dir, bound.shim_dir, writable=False))
    return SandboxRuntime(tuple(binds), bound.path_dirs, dict(bound.env))
