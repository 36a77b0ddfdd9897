"""Values shared by runtime discovery, resolution and sandbox binding.

An `Install` is one interpreter found on this host; a `RuntimeBinding` is what
a sandbox needs so that the app's plain `python3` or `node` runs that
interpreter. Both are frozen and checked when built.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

# The language of each Platform.sh `type` we can find on a host, and the
# executable name every install of it must provide.
PRIMARY_EXECUTABLE: Mapping[str, str] = MappingProxyType(
    {"python": "python", "nodejs": "node", "php": "php", "bun": "bun", "deno": "deno",
     "golang": "go"})

_VERSION = re.compile(r"^\d+(\.\d+)*([a-z+~-][\w.+~-]*)?$")


class Origin(enum.Enum):
    """Where an install came from. Declaration order is preference order."""

    SYSTEM = "system"  # the distribution's packages, under /usr/bin
    LOCAL = "local"  # the administrator's /usr/local
    STORE = "store"  # shipway's own runtime store ($SHIPWAY_HOME/runtimes)
    PYENV = "pyenv"
    UV = "uv"
    PATH = "path"  # anything else found on PATH

    @property
    def rank(self) -> int:
        return list(Origin).index(self)


def version_key(version: str) -> tuple[int, ...]:
    """Numeric components of a version, for ordering: "3.13.0rc1" -> (3, 13, 0)."""
    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() != len(piece):
            break
    return tuple(parts)


def _frozen_paths(values: Mapping[str, Path]) -> Mapping[str, Path]:
    return MappingProxyType({name: Path(path) for name, path in sorted(values.items())})


@dataclass(frozen=True)
class Install:
    """One interpreter on this host.

    `executables` maps a canonical name ("python", "pip", "node", "npm", "npx",
    "php") to an absolute path that is valid both on the host and inside a
    sandbox that carries this install's binding.
    """

    language: str
    version: str
    bin_dir: Path
    prefix: Path
    executables: Mapping[str, Path] = field(hash=False)
    origin: Origin = Origin.PATH
    # The interpreter refuses plain `pip install` (PEP 668), as Debian's does.
    externally_managed: bool = False

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]*", self.language):
            raise ValueError(f"bad runtime language {self.language!r}")
        if not _VERSION.match(self.version):
            raise ValueError(f"bad {self.language} version {self.version!r}")
        object.__setattr__(self, "bin_dir", Path(self.bin_dir))
        object.__setattr__(self, "prefix", Path(self.prefix))
        object.__setattr__(self, "executables", _frozen_paths(self.executables))
        self._check_paths()

    def _check_paths(self) -> None:
        paths = [self.bin_dir, self.prefix, *self.executables.values()]
        relative = [str(p) for p in paths if not p.is_absolute()]
        if relative:
            raise ValueError(f"install paths must be absolute: {', '.join(relative)}")
        primary = PRIMARY_EXECUTABLE.get(self.language)
        if primary is not None and primary not in self.executables:
            raise ValueError(f"a {self.language} install needs a {primary!r} executable")

    @property
    def major_minor(self) -> str:
        return ".".join(str(n) for n in version_key(self.version)[:2])

    @property
    def label(self) -> str:
        """Short human description, e.g. "python 3.11.2 (system, /usr/bin)"."""
        return f"{self.language} {self.version} ({self.origin.value}, {self.bin_dir})"


@dataclass(frozen=True)
class RuntimeBinding:
    """What a sandbox needs so that an install's commands run inside it.

    - `ro_binds`: (host path, sandbox path) pairs to bind read-only, in order.
    - `path_dirs`: sandbox directories to put FIRST on PATH, in order; the
      first is `shim_dir`.
    - `env`: extra environment variables.
    - `shims`: name -> absolute sandbox path, made as symlinks in `shim_dir`.
    - `scripts`: name -> text of a small executable script in `shim_dir`.
    """

    ro_binds: tuple[tuple[Path, str], ...]
    path_dirs: tuple[str, ...]
    env: Mapping[str, str] = field(hash=False)
    shims: Mapping[str, str] = field(hash=False)
    scripts: Mapping[str, str] = field(default_factory=dict, hash=False)
    shim_dir: str = "/run/shipway/runtime/bin"

    def __post_init__(self) -> None:
        for name in (*self.shims, *self.scripts):
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"bad shim name {name!r}")
        clash = set(self.shims) & set(self.scripts)
        if clash:
            raise ValueError(f"shims and scripts share names: {sorted(clash)}")
        for target in self.shims.values():
            if not PurePosixPath(target).is_absolute():
                raise ValueError(f"shim target must be absolute: {target!r}")
        if not self.path_dirs or self.path_dirs[0] != self.shim_dir:
            raise ValueError("the shim directory must come first on PATH")
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        object.__setattr__(self, "shims", MappingProxyType(dict(sorted(self.shims.items()))))
        object.__setattr__(self, "scripts", MappingProxyType(dict(sorted(self.scripts.items()))))

    def path(self, rest: str) -> str:
        """PATH for the sandbox: this binding's directories, then `rest`."""
        return ":".join([*self.path_dirs, rest] if rest else self.path_dirs)

    def bwrap_args(self, host_shim_dir: Path) -> list[str]:
        """bwrap arguments binding the install and the shim directory."""
        args: list[str] = []
        for source, target in self.ro_binds:
            args += ["--ro-bind", str(source), target]
        return [*args, "--ro-bind", str(host_shim_dir), self.shim_dir]
