"""Bun and Deno, the runtimes Upsun's composable images add (C8), from the npm registry.

Both publish their Linux binary as an npm package of its own, as Node.js
does: `@oven/bun-linux-x64` holds `bin/bun`, `@deno/linux-x64-glibc` holds
`deno`. A major is fetched (npmstore.py) to `runtimes/<language>-<version>/bin/`,
where `find_store_tools` finds it again, asking the binary for its version.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from shipway.errors import RuntimeUnavailable
from shipway.runtimes import npmstore
from shipway.runtimes.model import Install, Origin

Log = Callable[[str], None]
_ARCH = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}
# language -> (npm package, path of the binary inside the package)
PACKAGES = {"bun": ("@oven/bun-linux-{arch}", "bin/bun"), "deno": ("@deno/linux-{arch}-glibc", "deno")}
_VERSION = re.compile(r"^(?:deno )?v?(\d+\.\d+\.\d+)\b")


def package_of(language: str, machine: str | None = None) -> tuple[str, str]:
    arch = _ARCH.get(machine or platform.machine())
    if arch is None or language not in PACKAGES:
        raise RuntimeUnavailable(f"no {language} package for this machine ({machine})")
    name, binary = PACKAGES[language]
    return name.format(arch=arch), binary


def provision(store: Path, language: str, major: str, log: Log) -> Path:
    """`store/<language>-<version>/bin/<language>`, the newest of that major."""
    if not major.isdigit():
        raise RuntimeUnavailable(f"{language}@{major}: give a major version, e.g. {language}@1")
    name, binary = package_of(language)
    version = npmstore.newest_of_major(npmstore.published_versions(name), major)
    if version is None:
        raise RuntimeUnavailable(f"the npm registry has no {name} release of {language} {major}")
    log(f"  Installing {language} {version} into shipway's runtime store from the npm registry "
        f"({name}@{version})")

    def arrange(unpacked: Path) -> Path:
        found = unpacked / binary
        if not found.is_file():
            raise RuntimeUnavailable(f"{name}@{version} has no {binary}")
        (unpacked / "bin").mkdir(exist_ok=True)
        if binary != f"bin/{language}":
            shutil.move(str(found), unpacked / "bin" / language)
        (unpacked / "bin" / language).chmod(0o755)
        return unpacked

    return npmstore.fetch(store, name, version, store / f"{language}-{version}", arrange)


def find_store_tools(store: Path | None) -> list[Install]:
    found: list[Install] = []
    if store is None or not store.is_dir():
        return found
    for entry in sorted(store.iterdir()):
        language = entry.name.partition("-")[0]
        exe = entry / "bin" / language
        if language in PACKAGES and exe.is_file():
            version = _version(exe)
            if version is not None:
                found.append(Install(language, version, exe.parent, entry, {language: exe}, Origin.STORE))
    return found


def _version(exe: Path) -> str | None:
    try:
        out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=20,
                             check=False, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.match(out.strip())
    return found.group(1) if found else None
