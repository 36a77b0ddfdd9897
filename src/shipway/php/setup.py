"""The PHP-FPM pool of one app: checked at push, written before each start (C6).

`check` runs with the push, before any build, so a bad `variables.php` or a
missing extension fails it with the reason. `write` puts the pool's files in
the app's run directory (root's; the sandbox sees it read-only at
fpm.CONF_DIR) just before FPM starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shipway.config.frozen import thaw
from shipway.config.model import AppConfig
from shipway.errors import UserError
from shipway.php import extensions, fpm

FPM_GLOB = "/usr/sbin/php-fpm*"


def fpm_version(wanted: str, installed: Iterable[str]) -> str:
    """The FPM to run for PHP `wanted`: that one, else the nearest newer of its major.

    The push has already accepted the version (runtimes/resolve.py and the
    project's version policy); this only picks the matching FPM binary.
    """
    have = sorted(installed, key=lambda v: tuple(int(p) for p in v.split(".")))
    if wanted in have:
        return wanted
    major = wanted.split(".")[0]
    newer = [v for v in have if v.split(".")[0] == major and _key(v) > _key(wanted)]
    if not newer:
        raise UserError(f"PHP-FPM {wanted} is not installed on this host (Debian package "
                        f"php{wanted}-fpm); installed: {', '.join(have) or 'none'}")
    return newer[0]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def installed_fpms() -> list[str]:
    out = []
    for path in Path("/usr/sbin").glob("php-fpm*"):
        found = re.fullmatch(r"php-fpm(\d+\.\d+)", path.name)
        if found:
            out.append(found[1])
    return out


def _version(app: AppConfig) -> str:
    wanted = app.runtime_version or "8.2"
    if not re.fullmatch(r"\d+\.\d+", wanted):
        raise UserError(f"type: php:{wanted}: write the PHP version as <major>.<minor>")
    return fpm_version(wanted, installed_fpms())


def _runtime(app: AppConfig) -> dict[str, Any]:
    runtime = thaw(app.raw.get("runtime") or {})
    if not isinstance(runtime, dict):
        raise UserError("runtime must be a mapping (extensions, disabled_extensions)")
    return runtime


def _pool(app: AppConfig, port: str | None = None) -> fpm.Pool:
    listen = fpm.SOCKET if port is None else f"127.0.0.1:{int(port)}"
    try:
        return fpm.Pool(ini=fpm.ini_settings(dict(app.variables.get("php", {}))), listen=listen)
    except fpm.IniError as exc:
        raise UserError(str(exc)) from None


def _scan_files(app: AppConfig, version: str) -> dict[str, str]:
    runtime = _runtime(app)
    wanted = extensions.names(runtime.get("extensions"), "extensions")
    disabled = extensions.names(runtime.get("disabled_extensions"), "disabled_extensions")
    return extensions.plan(wanted, disabled, extensions.host_modules(version))


def check(app: AppConfig) -> str | None:
    """Raise UserError if the app's PHP settings cannot be run here; a warning or None."""
    version = _version(app)
    _scan_files(app, version)
    _pool(app)
    wanted = extensions.names(_runtime(app).get("extensions"), "extensions")
    return extensions.skip_warning(wanted, extensions.host_modules(version))


def write(conf_dir: Path, app: AppConfig, port: str | None = None) -> str:
    """Write the pool's files under `conf_dir` (host path); the start command."""
    version = _version(app)
    conf_dir.mkdir(parents=True, exist_ok=True)
    conf_dir.chmod(0o755)  # read by the app's uid inside the sandbox; written by root only
    extensions.write_scan_dir(conf_dir / fpm.SCAN_DIR, _scan_files(app, version))
    (conf_dir / fpm.SCAN_DIR).chmod(0o755)
    for ini in (conf_dir / fpm.SCAN_DIR).iterdir():
        ini.chmod(0o644)
    conf = conf_dir / fpm.CONF_FILE
    conf.write_text(fpm.render_pool(_pool(app, port)))
    conf.chmod(0o644)
    return fpm.command(fpm.fpm_binary(version))
