"""One PHP-FPM pool per app: its config as a value, and the command that runs it. Pure.

Theory of operation. FPM runs as the app's process, inside the app's
sandbox, as its uid (the master is not root, so FPM ignores `user`/`group`
and every worker is the app's uid too). Its whole config is ours: a global
section and one pool, read from a directory shipway writes and binds
read-only into the sandbox (`CONF_DIR`), never Debian's php-fpm.conf
(whose pid file and sockets live in /run/php, which the sandbox lacks).
The pool listens on the app's socket ($SOCKET), so the router reaches it
and the deploy gate holds it exactly as it does any unix-socket app.
`clear_env = no`: the sandbox's environment is already only the app's
(PLATFORM_* and the user's variables), and PHP must see it as Platform.sh
gives it. `variables.php` become `php_value` lines, or `php_admin_value`
for the settings PHP only takes from the system level; names and values
are checked here so that no value can add a line or a directive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONF_DIR = "/run/shipway/fpm"  # inside the sandbox
CONF_FILE = "php-fpm.conf"
SCAN_DIR = "conf.d"  # PHP_INI_SCAN_DIR: Debian's module inis, minus the disabled ones
SOCKET = "/run/shipway/sock/app.sock"  # instances.SOCK_DIR + the app socket's name
# Only .php executes, whatever a request names (FPM's own default adds .php3…).
SCRIPT_EXTENSION = ".php"

_INI_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")
# Unquoted ini text: no quote, no `;` comment, no `=`, no `${…}` expansion,
# no brackets, no backslash, no line break. Expressions such as
# `E_ALL & ~E_DEPRECATED` must stay unquoted, or PHP reads them as text.
_INI_VALUE = re.compile(r"[A-Za-z0-9 _.,:/@+\-~&|^!()%*]{0,1024}")
# Only these need the system level (php_admin_value); FPM refuses the rest
# there from no one, but `php_value` lets the app's ini_set() change them.
_ADMIN_ONLY = frozenset({"disable_functions", "disable_classes", "open_basedir"})
# Loading code is runtime.extensions' job, where it is checked (extensions.py).
_REFUSED = frozenset({"extension", "zend_extension"})


class IniError(ValueError):
    """A `variables.php` entry that cannot be a php.ini setting (the user's config)."""


@dataclass(frozen=True)
class Pool:
    """What the pool needs to know; `ini` is validated `variables.php`."""

    ini: tuple[tuple[str, str], ...] = ()
    max_children: int = 4
    listen: str = SOCKET  # or 127.0.0.1:PORT for `socket_family: tcp`

    def __post_init__(self) -> None:
        if not re.fullmatch(r"/[A-Za-z0-9_./-]+|127\.0\.0\.1:\d{1,5}", self.listen):
            raise ValueError(f"FPM listen address must be a socket path or 127.0.0.1:PORT: {self.listen!r}")


def ini_settings(php_variables: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """`variables.php` (name → value) as checked (name, ini text) pairs, sorted."""
    out = []
    for name, value in sorted(php_variables.items()):
        if not isinstance(name, str) or not _INI_NAME.fullmatch(name):
            raise IniError(f"variables.php: {name!r} is not a php.ini setting name")
        if name in _REFUSED:
            raise IniError(f"variables.php: {name!r} cannot be set here; list the extension "
                           "under runtime.extensions instead")
        out.append((name, ini_value(name, value)))
    return tuple(out)


def ini_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str) or not _INI_VALUE.fullmatch(value):
        raise IniError(
            f"variables.php: {name}: {value!r} is not a plain php.ini value (letters, digits, "
            "spaces and _ . , : / @ + - ~ & | ^ ! ( ) % *; no quotes, ';', '=', '$', brackets "
            "or line breaks)")
    return value


def render_pool(pool: Pool) -> str:
    """The complete php-fpm.conf text."""
    lines = [
        "; Written by shipway for this release; edits are lost at the next deploy.",
        "[global]",
        # FPM insists on opening a file, and the app's uid cannot reopen the
        # log root gave it as stderr (/proc/self/fd/2: EACCES): a file in the
        # app's own /tmp, while --force-stderr still writes to the app's log.
        "error_log = /tmp/php-fpm.log",
        "daemonize = no",
        "",
        "[app]",
        f"listen = {pool.listen}",
        # Group: the router's (the socket's directory admits only it and the app).
        "listen.mode = 0660",
        "pm = dynamic",
        f"pm.max_children = {pool.max_children}",
        "pm.start_servers = 1",
        "pm.min_spare_servers = 1",
        f"pm.max_spare_servers = {min(2, pool.max_children)}",
        "clear_env = no",
        "catch_workers_output = yes",
        "decorate_workers_output = no",
        f"security.limit_extensions = {SCRIPT_EXTENSION}",
        # Debian's default (/var/lib/php/sessions) is not in the sandbox.
        "php_value[session.save_path] = /tmp",
    ]
    for name, value in pool.ini:
        kind = "php_admin_value" if name in _ADMIN_ONLY else "php_value"
        lines.append(f"{kind}[{name}] = {value}")
    return "\n".join(lines) + "\n"


def command(fpm_binary: str) -> str:
    """The web process's shell command (run by the sandbox's shell, as `start` is).

    Not `exec`: FPM's master calls setsid() even in the foreground, so it
    leaves the process group the supervisor stops with TERM (seen: every
    stop waited out the 15 s grace). The shell stays in the group and hands
    the TERM on; a KILL still ends FPM with the sandbox's pid namespace.
    """
    return (f"PHP_INI_SCAN_DIR={CONF_DIR}/{SCAN_DIR} {fpm_binary} --nodaemonize --force-stderr "
            f"--fpm-config {CONF_DIR}/{CONF_FILE} &\n"
            "fpm=$!\n"
            "trap 'kill -TERM $fpm' TERM INT\n"
            "wait $fpm\n"
            "trap - TERM INT\n"
            "wait $fpm")


def fpm_binary(version: str) -> str:
    """Debian's FPM for PHP `version` (e.g. "8.2")."""
    if not re.fullmatch(r"\d+\.\d+", version):
        raise ValueError(f"not a PHP version: {version!r}")
    return f"/usr/sbin/php-fpm{version}"
