"""What each build step runs (B1, B1b, B3). Pure: commands as argument lists.

Order follows Platform.sh's real logs (dependencies, then flavor, then the
build hook); reference/platform-config.md §4.1 marks the conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shipway.errors import NotSupportedYet

GLOBAL = "/app/.global"
CACHE_DIR = "/run/shipway/cache"  # PLATFORM_CACHE_DIR inside the build sandbox
# pip's HTTP cache stores nothing when a proxy strips the registry's caching
# headers (as on our own machines), so the python3 dependencies' files are
# kept as files: `pip download` reuses a file already there, and the
# install then reads only this directory.
PIP_DOWNLOADS = f"{CACHE_DIR}/pip-downloads"
# On PATH before the runtime's own directories, in the build and at run time:
# npm and pip put tools in bin/, Composer in vendor/bin/ (reference §4.3).
GLOBAL_PATH_DIRS = (f"{GLOBAL}/bin", f"{GLOBAL}/vendor/bin")

# Run with PYTHONUSERBASE=/app/.global, so sysconfig names the user site of
# the very interpreter that installed the dependencies; writes a .pth file
# into the default user site ($HOME/.local = /app/.local, at build and at run
# time) that adds /app/.global's. So the tools' packages are importable with
# no extra variable, AFTER the interpreter's own site-packages and never
# inside a virtualenv, where they could shadow the app's own pins.
_PTH = """import os, sysconfig
scheme = os.name + "_user"
dep = sysconfig.get_path("purelib", scheme, vars={"userbase": os.environ["PYTHONUSERBASE"]})
site = sysconfig.get_path("purelib", scheme, vars={"userbase": os.path.expanduser("~/.local")})
os.makedirs(site, exist_ok=True)
with open(os.path.join(site, "shipway-global-dependencies.pth"), "w") as f:
    f.write(dep + "\\n")
"""
_PIP_ENV = {"PYTHONUSERBASE": GLOBAL, "PIP_BREAK_SYSTEM_PACKAGES": "1"}


@dataclass(frozen=True)
class Step:
    title: str  # the log line announcing it, in Platform.sh's words ("" logs none)
    command: tuple[str, ...]
    what: str  # what failed, for the error message
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)


def cache_environment(cache_dir: str) -> dict[str, str]:
    """Package managers' download caches in the build cache (B5), so an
    unchanged dependency set installs without downloading again — and so
    that pip's default ~/.cache (= /app/.cache) does not end up in the artifact."""
    return {
        "PIP_CACHE_DIR": f"{cache_dir}/pip",
        "npm_config_cache": f"{cache_dir}/npm",
        "COMPOSER_CACHE_DIR": f"{cache_dir}/composer",
        # Go's module downloads and compiled packages; GOPATH too, whose
        # default ($HOME/go = /app/go) would end up in the artifact.
        "GOPATH": f"{cache_dir}/go",
        "GOMODCACHE": f"{cache_dir}/go/pkg/mod",
        "GOCACHE": f"{cache_dir}/go-build",
    }


def _sh(script: str) -> tuple[str, ...]:
    # Hooks run with dash from the app root (B3); the text is the user's own
    # script, handed to the shell as one argument.
    return ("/bin/sh", "-c", script)


def _pip_requirement(name: str, version: str) -> str:
    # The platform CLI's rule: '*' is any version; an operator is kept as
    # written; anything else is an exact pin.
    if version in ("*", ""):
        return name
    if version[0] in "<>=!~":
        return f"{name}{version}"
    return f"{name}=={version}"


def _npm_spec(name: str, version: str) -> str:
    return name if version in ("*", "") else f"{name}@{version}"


def _composer_spec(name: str, version: str) -> str:
    return name if version in ("*", "") else f"{name}:{version}"


def dependency_steps(
    dependencies: Mapping[str, Mapping[str, str]], has_tool: Callable[[str], bool] = lambda _: True
) -> list[Step]:
    """Install the global `dependencies` into /app/.global (B1b).
    `has_tool(name)` says whether the host has a package manager."""
    steps: list[Step] = []
    for lang, packages in dependencies.items():
        if packages:
            steps += _DEPENDENCY_STEPS.get(lang, _unsupported)(lang, packages, has_tool)
    return steps


def _python3(lang: str, packages: Mapping[str, str], has_tool: Callable[[str], bool]) -> list[Step]:
    specs = [_pip_requirement(n, v) for n, v in packages.items()]
    pip = ("python3", "-m", "pip")
    download = (*pip, "download", "--disable-pip-version-check", "--dest", PIP_DOWNLOADS, *specs)
    # --user under PYTHONUSERBASE rather than --prefix: one layout whatever
    # the interpreter (Debian's --prefix gives local/bin and dist-packages).
    install = (*pip, "install", "--user", "--no-index", "--find-links", PIP_DOWNLOADS,
               "--disable-pip-version-check", "--no-warn-script-location", *specs)
    env = MappingProxyType(_PIP_ENV)
    what = f"dependencies.{lang}"
    return [Step(_title(lang, specs), download, what, env), Step("", install, what, env),
            Step("", ("python3", "-c", _PTH), what, env)]


def _nodejs(lang: str, packages: Mapping[str, str], has_tool: Callable[[str], bool]) -> list[Step]:
    specs = [_npm_spec(n, v) for n, v in packages.items()]
    cmd = ("npm", "install", "--global", "--prefix", GLOBAL, "--no-fund", "--no-audit", *specs)
    return [Step(_title(lang, specs), cmd, f"dependencies.{lang}")]


def _php(lang: str, packages: Mapping[str, str], has_tool: Callable[[str], bool]) -> list[Step]:
    if not has_tool("composer"):
        raise NotSupportedYet(
            "dependencies.php needs Composer, which this host does not have "
            "(apt-get install composer); or install the tools in the build hook instead"
        )
    specs = [_composer_spec(n, v) for n, v in packages.items()]
    cmd = ("composer", "global", "require", "--no-interaction", "--no-progress", "--no-ansi", *specs)
    # Composer's global home is /app/.global, so its vendor/bin is there too.
    return [Step(_title(lang, specs), cmd, f"dependencies.{lang}",
                 MappingProxyType({"COMPOSER_HOME": GLOBAL}))]


def _unsupported(lang: str, packages: Mapping[str, str], has_tool: Callable[[str], bool]) -> list[Step]:
    raise NotSupportedYet(
        f"dependencies.{lang} is not supported yet by shipway "
        "(supported: python3, python, nodejs, php); install it in the build hook instead"
    )


def _title(lang: str, specs: list[str]) -> str:
    return f"Installing {lang} build dependencies: {' '.join(specs)}"


# `python` is what pyramid's template writes: the same pip as `python3` (C10).
_DEPENDENCY_STEPS = {"python3": _python3, "python": _python3, "nodejs": _nodejs, "php": _php}


def flavor_steps(runtime: str, flavor: str, files: set[str]) -> list[Step]:
    """The build flavor's commands, given the top-level files of the app."""
    if flavor == "none":
        return []
    if runtime == "nodejs" and flavor == "default":
        if "package.json" not in files:
            return []
        script = "npm prune --userconfig .npmrc && npm install --userconfig .npmrc"
        return [Step("Found a `package.json`, installing dependencies.", _sh(script), "build flavor")]
    if runtime == "php" and flavor in ("composer", "default", "symfony"):
        if "composer.json" not in files:
            return []
        cmd = ("composer", "--no-ansi", "--no-interaction", "install", "--no-progress",
               "--prefer-dist", "--optimize-autoloader")
        return [Step("Found a `composer.json`, installing dependencies.", cmd, "build flavor")]
    raise NotSupportedYet(f"build.flavor {flavor!r} for {runtime} is not supported yet; use `none`")


def hook_step(script: str | None) -> list[Step]:
    if not script or not script.strip():
        return []
    return [Step("Executing build hook...", _sh(script), "build hook")]
