"""What a sandbox needs so that an app's `python3`, `pip`, `node` or `php` runs
the install chosen for it. Pure: the result is a value; `shims.write_shims`
and the sandbox builder act on it.

Every install keeps its host path inside the sandbox (a pyenv install under
/root/.pyenv/versions/3.10.13 is bound read-only at that same path), because
virtualenvs, shebangs and pyenv's own rpath refer to it by absolute path and
those files end up in the frozen artifact. Installs from shipway's own store
are the exception: they appear at `/run/shipway/runtimes/<language>-<version>` whatever
$SHIPWAY_HOME is, so an artifact does not depend on where the platform keeps
its state (and a home under /tmp is not hidden by the sandbox's own /tmp).

The interpreter names are symlinks, so `python3 -m venv` run in a build
records the shim directory as the venv's home: the run sandbox must carry
the same binding (it does: build and run share it), and in exchange the
artifact keeps working if the host's 3.11 install is replaced by another
3.11. pip names are small scripts instead (see `_python`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path, PurePath, PurePosixPath

from shipway.runtimes.model import Install, Origin, RuntimeBinding, version_key

SHIM_DIR = "/run/shipway/runtime/bin"
STORE_MOUNT = PurePosixPath("/run/shipway/runtimes")

# Trees every shipway sandbox already binds read-only at their own path.
SANDBOX_TREES = (PurePosixPath("/usr"), PurePosixPath("/etc"), PurePosixPath("/opt"))

# Directories a sandbox's base PATH already has.
_BASE_PATH_DIRS = frozenset({"/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin"})


def binding(
    install: Install, runtime_version: str | None = None, *, shim_dir: str = SHIM_DIR
) -> RuntimeBinding:
    """The binding for `install`, chosen for an app that asked for `runtime_version`.

    `runtime_version` is the version written in the app's `type` ("3.11");
    when it differs from the install's own (a nearest-version policy chose
    it), python also gets `python3.11`/`pip3.11` names, since the app's
    scripts may call them.
    """
    shims: dict[str, str] = {}
    scripts: dict[str, str] = {}
    env: dict[str, str] = {}
    if install.language == "python":
        _python(install, runtime_version, shims, scripts, env)
    elif install.language == "php":
        _versioned(install, "php", shims)
    else:
        shims.update({name: inside(install, path) for name, path in install.executables.items()})
    if (install.language == "nodejs" and install.origin is Origin.STORE
            and (install.prefix / "include" / "node" / "node.h").is_file()):
        # Native modules (node-gyp) build against the provisioned runtime's own
        # headers instead of downloading them from nodejs.org (C9).
        env["npm_config_nodedir"] = inside(install, install.prefix)
    if install.language == "golang":
        # Go 1.21+ would download the toolchain a go.mod names; a sandbox
        # runs the install it was given (older Go ignores the variable).
        env["GOTOOLCHAIN"] = "local"
    return RuntimeBinding(
        ro_binds=ro_binds(install),
        path_dirs=(shim_dir, *_extra_path(install)),
        env=env,
        shims=shims,
        scripts=scripts,
        shim_dir=shim_dir,
    )


def inside(install: Install, path: Path) -> str:
    """Where a host path of the install is seen in the sandbox."""
    if install.origin is Origin.STORE and path.is_relative_to(install.prefix):
        name = f"{install.language}-{install.version}"  # one store install per version is used
        return str(STORE_MOUNT / name / path.relative_to(install.prefix))
    return str(path)


def ro_binds(install: Install) -> tuple[tuple[Path, str], ...]:
    """Host directories outside the sandbox's standard trees that the install needs."""
    needed: list[Path] = []
    for path in (install.prefix, install.bin_dir, *install.executables.values()):
        directory = path if path in (install.prefix, install.bin_dir) else path.parent
        if not _covered(directory, [*SANDBOX_TREES, *needed]):
            needed.append(directory)
    return tuple((path, inside(install, path)) for path in needed)


def _covered(path: PurePath, roots: Iterable[PurePath]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _extra_path(install: Install) -> tuple[str, ...]:
    """The install's own bin directory (pydoc, 2to3, corepack…) after the shims."""
    bin_dir = inside(install, install.bin_dir)
    return () if bin_dir in _BASE_PATH_DIRS else (bin_dir,)


def _python(
    install: Install,
    runtime_version: str | None,
    shims: dict[str, str],
    scripts: dict[str, str],
    env: dict[str, str],
) -> None:
    interpreter = inside(install, install.executables["python"])
    for suffix in _python_suffixes(install, runtime_version):
        shims[f"python{suffix}"] = interpreter
        # Never link to the install's own pip: its shebang may name another
        # interpreter (Debian's /usr/bin/pip3 runs whatever python3 is).
        scripts[f"pip{suffix}"] = _exec_script(interpreter, "-m", "pip")
    if install.externally_managed:
        # The sandbox's /usr is read-only, so pip falls back to a user install
        # under $HOME/.local — but only once PEP 668's refusal is lifted.
        env["PIP_BREAK_SYSTEM_PACKAGES"] = "1"


def _python_suffixes(install: Install, runtime_version: str | None) -> list[str]:
    major = str(version_key(install.version)[0])
    suffixes = ["", major, install.major_minor]
    if runtime_version and re.fullmatch(rf"{major}\.\d+", runtime_version):
        suffixes.append(runtime_version)
    return list(dict.fromkeys(suffixes))


def _versioned(install: Install, name: str, shims: dict[str, str]) -> None:
    target = inside(install, install.executables[name])
    shims[name] = target
    shims[f"{name}{install.major_minor}"] = target
    for other, path in install.executables.items():
        shims.setdefault(other, inside(install, path))


def _exec_script(*argv: str) -> str:
    return f'#!/bin/sh\nexec {" ".join(shlex.quote(a) for a in argv)} "$@"\n'
