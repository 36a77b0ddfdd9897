"""`runtime.extensions` and `runtime.disabled_extensions` as Debian's PHP modules (C6).

Debian enables a module by an ini file in /etc/php/<v>/fpm/conf.d
(`20-redis.ini`: `extension=redis.so`), from a package named
`php<v>-<module>`; some modules are built into the binary and cannot be
turned off. The FPM pool reads a conf.d of ours (PHP_INI_SCAN_DIR): Debian's
files minus the disabled modules, plus one file per asked-for module that
is installed but not enabled. `plan` decides (pure); `host_modules` and
`write_scan_dir` look and act.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipway.errors import UserError

# Profilers and APM agents Platform.sh installs from their vendors' own
# repositories (not Debian's); each does nothing without the vendor's account
# and agent. Asked for and absent, they are left out with a warning.
VENDOR_ONLY = frozenset({"blackfire", "newrelic", "tideways"})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_INI = re.compile(r"\d+-([A-Za-z0-9_]+)\.ini")


@dataclass(frozen=True)
class HostModules:
    """What this host's PHP `version` has: enabled inis (module → file name and
    text), loadable .so modules, and modules built into the binary."""

    version: str
    enabled: Mapping[str, tuple[str, str]]
    loadable: frozenset[str]
    builtin: frozenset[str]


def names(entries: Any, key: str) -> tuple[str, ...]:
    """The checked module names of `runtime.<key>` (strings, or `{name: …}`)."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise UserError(f"runtime.{key} must be a list of extension names")
    out = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and entry.keys() - {"name"}:
            raise UserError(f"runtime.{key}: per-extension configuration ({name!r}) is not "
                            "supported yet; set its ini values under variables.php")
        if not isinstance(name, str) or not _NAME.fullmatch(name.lower()):
            raise UserError(f"runtime.{key}: {name!r} is not an extension name "
                            "(lower-case letters, digits and _)")
        out.append(name.lower())
    return tuple(out)


def plan(wanted: Iterable[str], disabled: Iterable[str], host: HostModules
         ) -> dict[str, str]:
    """The scan directory's files (name → text); raise naming every missing package."""
    disabled = set(disabled)
    missing = sorted(set(absent(wanted, host)) - VENDOR_ONLY)
    if missing:
        packages = " ".join(f"php{host.version}-{n}" for n in missing)
        raise UserError(f"runtime.extensions: not installed on this host: {', '.join(missing)} "
                        f"(Debian packages: {packages}; `apt-get install {packages}`)")
    stuck = sorted(disabled & host.builtin)
    if stuck:
        raise UserError(f"runtime.disabled_extensions: {', '.join(stuck)} is built into PHP "
                        f"{host.version} and cannot be disabled")
    files = {file: text for module, (file, text) in host.enabled.items() if module not in disabled}
    for name in sorted(set(wanted) - set(host.enabled) - host.builtin - disabled
                       - set(skipped(wanted, host))):
        files[f"30-shipway-{name}.ini"] = f"extension={name}.so\n"
    return files


def absent(wanted: Iterable[str], host: HostModules) -> tuple[str, ...]:
    return tuple(sorted({n for n in wanted if n not in host.enabled and n not in host.loadable
                         and n not in host.builtin}))


def skipped(wanted: Iterable[str], host: HostModules) -> tuple[str, ...]:
    """The vendor-only extensions asked for that this host lacks: left out."""
    return tuple(n for n in absent(wanted, host) if n in VENDOR_ONLY)


def skip_warning(wanted: Iterable[str], host: HostModules) -> str | None:
    names_ = skipped(wanted, host)
    if not names_:
        return None
    return (f"runtime.extensions: {', '.join(names_)} left out: a vendor's profiler or agent, "
            "not a Debian package here (Platform.sh installs it from the vendor with an "
            "account); the app runs without it")


def host_modules(version: str) -> HostModules:
    conf_d = Path(f"/etc/php/{version}/fpm/conf.d")
    enabled = {}
    for path in sorted(conf_d.glob("*.ini")) if conf_d.is_dir() else ():
        found = _INI.fullmatch(path.name)
        if found:
            enabled[found[1].lower()] = (path.name, path.read_text())
    loadable = frozenset(p.stem.lower() for p in Path("/usr/lib/php").glob("2*/*.so"))
    return HostModules(version, enabled, loadable, _builtin(version))


def _builtin(version: str) -> frozenset[str]:
    # `-n`: no ini at all, so only what is compiled in is listed.
    proc = subprocess.run([f"/usr/bin/php{version}", "-n", "-m"], capture_output=True, text=True,
                          check=False)
    return frozenset(line.strip().lower().replace(" ", "_") for line in proc.stdout.splitlines()
                     if line.strip() and not line.startswith("["))


def write_scan_dir(directory: Path, files: Mapping[str, str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.ini"):
        if old.name not in files:
            old.unlink()
    for name, text in files.items():
        (directory / name).write_text(text)
