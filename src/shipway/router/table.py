"""The route table: what the router serves, as frozen values valid from birth.

A `Site` is one route (scheme + host + path prefix) and what it does: proxy to
an app's `Upstream`, or `Redirect`. Static `web.locations` of an app ride on
its upstream sites as `StaticLocation`s. Nothing here knows about Caddy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from shipway.config.paths import passthru_problem
from shipway.config.regex import re2_problem, rule_problem

_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "M": 30 * 86400,
    "y": 365 * 86400,
}
_DURATION = re.compile(r"^(-?\d+)(ms|s|m|h|d|w|M|y)?$")
_REDIRECT_CODES = (301, 302, 303, 307, 308)
# PHP's script extensions (as Debian's php-fpm and Apache handler configs
# list them). A path component ending so is a script, PATH_INFO after it too.
SCRIPT_PATTERN = r"(?i)\.(php[0-9]?|phtml|phar|phps)(/|$)"


def is_script(path: str) -> bool:
    return re.search(SCRIPT_PATTERN, path) is not None


def expires_seconds(expires: str | None) -> int | None:
    """Seconds a static file may be cached, or None for "send no cache headers".

    Platform.sh durations: a number with an optional unit (ms s m h d w M y;
    "M" is 30 days, "y" 365). Zero or negative (the default "-1") means none.
    """
    if expires is None:
        return None
    found = _DURATION.match(expires.strip())
    if not found:
        raise ValueError(f"invalid expires duration {expires!r} (e.g. '1h', '30d', '-1')")
    seconds = int(int(found[1]) * _UNITS[found[2] or "s"])
    return seconds if seconds > 0 else None


@dataclass(frozen=True)
class Upstream:
    """Where an app listens: `unix//abs/path.sock` or `127.0.0.1:PORT`.

    `hold_marker`: a file that exists while the app deploys (deploy/gate.py).
    The router checks it on every request: present, a refused dial is
    retried up to the hold limit (D2 hold); absent, the app is down outside a
    deploy and the client gets a 503 within a second. Without a marker every
    request may be held up to the limit.
    """

    dial: str
    hold_marker: str | None = None
    fastcgi: bool = False  # PHP-FPM (C6): the router speaks FastCGI, per location's root
    static: bool = False  # a static-only app (C7): nothing listens, what no file answers is 404

    def __post_init__(self) -> None:
        if self.dial.startswith("unix/"):
            if not self.dial.startswith("unix//"):
                raise ValueError(f"unix upstream needs an absolute path: {self.dial!r}")
        elif not re.fullmatch(r"[^\s/:]+:\d{1,5}", self.dial):
            raise ValueError(f"upstream must be unix//PATH or HOST:PORT, not {self.dial!r}")
        marker = self.hold_marker
        # Braces would be read as Caddy placeholders; a trailing slash would
        # make Caddy's file matcher look for a directory.
        if marker is not None and not re.fullmatch(r"/[^{}\s]*[^{}\s/]", marker):
            raise ValueError(f"hold marker must be a plain absolute file path, not {marker!r}")


@dataclass(frozen=True)
class Redirect:
    """Send the client to `to` (a full URL prefix) + the path beyond the route's."""

    to: str
    code: int = 301

    def __post_init__(self) -> None:
        # Braces would be read as Caddy placeholders.
        if not re.match(r"^https?://[^/{}]+[^{}\s]*$", self.to):
            raise ValueError(f"redirect target must be a plain http(s) URL, not {self.to!r}")
        if self.code not in _REDIRECT_CODES:
            raise ValueError(f"redirect code must be one of {_REDIRECT_CODES}, not {self.code}")


@dataclass(frozen=True)
class PlatformProxy:
    """W1: a site of the platform's own (the console), proxied to the control
    plane's HTTPS API listener at `dial` (HOST:PORT), trusting only `ca_file`
    for the certificate named `server_name`. Never held, never an app."""

    dial: str
    ca_file: str
    server_name: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[^\s/:{}]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", self.dial):
            raise ValueError(f"platform upstream must be HOST:PORT, not {self.dial!r}")
        if not re.fullmatch(r"/[^{}\s]*[^{}\s/]", self.ca_file):
            raise ValueError(f"CA file must be a plain absolute path, not {self.ca_file!r}")
        if not re.fullmatch(r"[A-Za-z0-9.:-]+", self.server_name):
            raise ValueError(f"invalid TLS server name {self.server_name!r}")


@dataclass(frozen=True)
class LocationRule:
    """A `rules` entry of a location: requests whose path matches `pattern`
    get these fields instead of the location's (None: the location's)."""

    pattern: str
    passthru: bool | str | None = None
    expires: str | None = None
    allow: bool | None = None
    headers: Mapping[str, str] | None = None
    scripts: bool | None = None

    def __post_init__(self) -> None:
        problem = rule_problem(self.pattern)
        if problem:
            raise ValueError(f"rule {self.pattern!r}: {problem}")
        if isinstance(self.passthru, str):
            check_passthru(self.passthru)
        expires_seconds(self.expires)
        if self.headers is not None:
            object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))


@dataclass(frozen=True)
class StaticLocation:
    """One `web.locations` entry: files under `root` served for URL prefix `path`.

    `passthru`: True sends a missing file's request to the app unchanged, a
    path ("/index.php") sends it to the app rewritten to that path, False
    answers 404. Without `root` (or with `allow` False) nothing is served from
    disk and requests go where `passthru` says (no root: always the app).
    `rules` are tried in order before the location's own fields; the first
    whose pattern matches the request path applies. `refuse_scripts` (a PHP
    app, while PHP is not run): a request for a script file under the root
    is refused and no script is ever an index file, so the source of a
    script is never served as a static file (S2).
    """

    path: str
    root: str | None = None
    passthru: bool | str = False
    expires: str | None = None
    allow: bool = True
    index: tuple[str, ...] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[LocationRule, ...] = ()
    refuse_scripts: bool = False
    # Run by PHP-FPM (C6): `script_root` is `root` as FPM sees it (/app/…);
    # `scripts` says whether a script found under the root executes (else 403).
    script_root: str | None = None
    scripts: bool = True

    @property
    def php(self) -> bool:
        return self.script_root is not None

    def with_rule(self, rule: LocationRule) -> StaticLocation:
        """This location as a request matching `rule` sees it."""
        return replace(
            self, rules=(),
            scripts=self.scripts if rule.scripts is None else rule.scripts,
            passthru=self.passthru if rule.passthru is None else rule.passthru,
            expires=self.expires if rule.expires is None else rule.expires,
            allow=self.allow if rule.allow is None else rule.allow,
            headers={**self.headers, **(rule.headers or {})},
        )

    @property
    def served_index(self) -> tuple[str, ...]:
        """The index files the router may serve from disk."""
        names = self.index or ()
        no_scripts = self.refuse_scripts or (self.php and not self.scripts)
        return tuple(n for n in names if not is_script(n)) if no_scripts else names

    def __post_init__(self) -> None:
        _check_path(self.path)
        if self.root is not None and (not self.root.startswith("/") or "{" in self.root):
            raise ValueError(f"location root must be a plain absolute path, not {self.root!r}")
        if isinstance(self.passthru, str):
            check_passthru(self.passthru)
        if self.script_root is not None and not re.fullmatch(r"/app(/[^{}\s/]+)*", self.script_root):
            raise ValueError(f"script root must be a plain path under /app, not {self.script_root!r}")
        expires_seconds(self.expires)
        # A shared dict would let a caller change a "frozen" value later.
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))
        object.__setattr__(self, "rules", tuple(self.rules))


@dataclass(frozen=True)
class PathRedirect:
    """A route's partial redirect (`redirects.paths`): requests for `path`
    (a prefix of whole path segments, the exact path, or with `regexp` a
    pattern whose `$1`… `to` may use) are sent to `to` with `code`."""

    path: str
    to: str
    code: int = 302
    regexp: bool = False
    prefix: bool = True
    append_suffix: bool = True
    expires: str | None = None

    def __post_init__(self) -> None:
        if self.regexp:
            problem = re2_problem(self.path)
            if problem:
                raise ValueError(f"redirect pattern {self.path!r}: {problem}")
        else:
            _check_path(self.path)
        if "{" in self.to or not re.match(r"^(https?://[^/\s]+)?/\S*$", self.to):
            raise ValueError(f"redirect target must be a path or an http(s) URL, not {self.to!r}")
        if self.code not in _REDIRECT_CODES:
            raise ValueError(f"redirect code must be one of {_REDIRECT_CODES}, not {self.code}")
        expires_seconds(self.expires)


@dataclass(frozen=True)
class TlsOptions:
    """A route's `tls` key (T2). `min_version`: "tls1.2" or "tls1.3" (Caddy
    speaks nothing older, so TLSv1.0/1.1 floors become 1.2). `client_cas`:
    PEM certificates a client certificate must chain to."""

    min_version: str | None = None
    hsts: bool = False
    hsts_subdomains: bool = False
    hsts_preload: bool = False
    client_auth: Literal["request", "require"] | None = None
    client_cas: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.min_version not in (None, "tls1.2", "tls1.3"):
            raise ValueError(f"min_version must be tls1.2 or tls1.3, not {self.min_version!r}")
        for pem in self.client_cas:
            if "-----BEGIN CERTIFICATE-----" not in pem or "{" in pem:
                raise ValueError("client_certificate_authorities must be PEM certificates")
        object.__setattr__(self, "client_cas", tuple(self.client_cas))

    @property
    def connection(self) -> bool:
        """Whether the TLS handshake itself changes (a connection policy of its own)."""
        return self.min_version is not None or self.client_auth is not None


@dataclass(frozen=True)
class Site:
    """One route: requests for scheme://host/path… get `action`."""

    scheme: Literal["http", "https"]
    host: str
    path: str
    action: Upstream | Redirect | PlatformProxy
    locations: tuple[StaticLocation, ...] = ()
    redirects: tuple[PathRedirect, ...] = ()  # tried before `action`
    tls: TlsOptions | None = None  # https only

    def __post_init__(self) -> None:
        if self.tls is not None and self.scheme != "https":
            raise ValueError("tls options only apply to an https site")
        if self.scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, not {self.scheme!r}")
        if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", self.host):
            raise ValueError(f"invalid host name {self.host!r}")
        _check_path(self.path)
        if self.locations and not isinstance(self.action, Upstream):
            raise ValueError("static locations only make sense on an upstream site")
        object.__setattr__(self, "locations", tuple(self.locations))
        object.__setattr__(self, "redirects", tuple(self.redirects))


def check_passthru(target: str) -> None:
    """A front controller's URL path: plain segments, none `.` or `..` (no way out of the root)."""
    problem = passthru_problem(target)
    if problem:
        raise ValueError(f"passthru {problem}")


def _check_path(path: str) -> None:
    if not path.startswith("/") or any(c in path for c in "?#{}* \t"):
        raise ValueError(f"a URL path prefix must start with '/' and be plain, not {path!r}")
