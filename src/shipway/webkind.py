"""What answers an app's web requests (C6, C7). Pure.

- `COMMAND`: the app's own `web.commands.start` listens on $PORT or $SOCKET.
- `FPM`: a PHP app with no start command runs PHP-FPM, as Platform.sh does;
  the router speaks FastCGI to it (php/fpm.py, router/caddyconfig.py).
- `STATIC`: no start command, or one that only sleeps (pelican's
  `sleep infinity`), and no location passes anything through: the router
  serves the artifact's files and nothing is started or waited for. So
  does no start at all with a location root, even where a location passes
  through (Upsun's demo-js): nothing answers that passthru, the router 404s.
"""

from __future__ import annotations

import enum
import re

from shipway.config.model import AppConfig

# `sleep infinity`, `exec sleep 3600`, `sleep 1d` ...: a start that serves nothing.
_SLEEPS = re.compile(r"\s*(exec\s+)?sleep\s+(infinity|inf|\d+(\.\d+)?[smhd]?)\s*;?\s*")


class WebKind(enum.Enum):
    COMMAND = "command"
    FPM = "fpm"
    STATIC = "static"


def only_sleeps(start: str | None) -> bool:
    return start is None or _SLEEPS.fullmatch(start) is not None


def passes_through(app: AppConfig) -> bool:
    """Whether some location (or one of its rules) sends requests to the app."""
    for loc in app.web.locations.values():
        if loc.passthru or any(rule.get("passthru") for rule in loc.rules.values()):
            return True
    return False


def is_php(app: AppConfig) -> bool:
    return app.type.split(":", 1)[0] == "php"


def web_kind(app: AppConfig) -> WebKind:
    if app.web.start is None and is_php(app):
        return WebKind.FPM
    if only_sleeps(app.web.start) and not passes_through(app):
        return WebKind.STATIC
    if app.web.start is None and any(loc.root for loc in app.web.locations.values()):
        return WebKind.STATIC  # passthru with nothing to answer it: files only (C7)
    return WebKind.COMMAND


def listens(app: AppConfig) -> bool:
    """Whether the deploy waits for the web process to listen, and opens its gate."""
    kind = web_kind(app)
    return kind is WebKind.FPM or (kind is WebKind.COMMAND and app.web.start is not None)
