"""From environments' resolved routes to the router's sites. Pure.

Static locations point at `<current link>/<root>`, a symlink that the deploy
switches atomically when it serves, so a new release never needs a router
config change: only new routes, apps or environments do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from shipway.config.model import AppConfig
from shipway.config.routes import ResolvedRoute
from shipway.router.table import (
    LocationRule,
    PathRedirect,
    Redirect,
    Site,
    StaticLocation,
    TlsOptions,
    Upstream,
)


@dataclass(frozen=True)
class RoutedApp:
    app: AppConfig
    dial: str  # "unix//…" or "127.0.0.1:PORT"
    current_link: str  # absolute host path of the link to the current artifact
    hold_marker: str | None = None  # exists while the app deploys (deploy/gate.py)


@dataclass(frozen=True)
class RoutedEnvironment:
    routes: tuple[ResolvedRoute, ...]
    apps: Mapping[str, RoutedApp]


@dataclass(frozen=True)
class Ports:
    """The router's public ports: a redirect to one of our hosts names the port
    when it is not the scheme's default (T4), or the client lands on whatever
    else answers on 80/443."""

    http: int = 80
    https: int = 443

    def suffix(self, scheme: str) -> str:
        port, default = (self.https, 443) if scheme == "https" else (self.http, 80)
        return "" if port == default else f":{port}"


def sites(environments: Sequence[RoutedEnvironment], ports: Ports | None = None) -> list[Site]:
    out: list[Site] = []
    for env in environments:
        for route in env.routes:
            site = _site(route, env.apps)
            if site is not None:
                out.append(site)
    ours = {site.host for site in out}
    return [_ported(site, ports or Ports(), ours) for site in out]


def with_port(url: str, ports: Ports, ours: set[str]) -> str:
    """`url` with the router's port for its scheme, if it points at one of our
    hosts without a port of its own; anything else (a path, a foreign host,
    an explicit port) unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.port is not None or parts.hostname not in ours:
        return url
    return parts._replace(netloc=parts.netloc + ports.suffix(parts.scheme)).geturl()


def _ported(site: Site, ports: Ports, ours: set[str]) -> Site:
    action = site.action
    if isinstance(action, Redirect):
        action = replace(action, to=with_port(action.to, ports, ours))
    redirects = tuple(replace(r, to=with_port(r.to, ports, ours)) for r in site.redirects)
    return replace(site, action=action, redirects=redirects)


def _site(route: ResolvedRoute, apps: Mapping[str, RoutedApp]) -> Site | None:
    parts = urlsplit(route.url)
    scheme = "https" if parts.scheme == "https" else "http"
    host, path = parts.hostname or "", parts.path or "/"
    tls = tls_options(route.tls) if scheme == "https" else None
    if route.type == "redirect" and route.to:
        return Site(scheme, host, path, Redirect(route.to, 301), redirects=_redirects(route),
                    tls=tls)
    routed = apps.get(route.upstream_app or "")
    if route.type != "upstream" or routed is None:
        return None
    return Site(scheme, host, path, Upstream(routed.dial, routed.hold_marker), _locations(routed),
                redirects=_redirects(route), tls=tls)


def tls_options(tls: Mapping[str, Any]) -> TlsOptions | None:
    """A route's `tls` key as the router applies it (T2); None when it asks for nothing."""
    hsts = tls.get("strict_transport_security") or {}
    version = tls.get("min_version")
    options = TlsOptions(
        min_version={"TLSv1.3": "tls1.3"}.get(version, "tls1.2") if version else None,
        hsts=bool(hsts.get("enabled")), hsts_subdomains=bool(hsts.get("include_subdomains")),
        hsts_preload=bool(hsts.get("preload")), client_auth=tls.get("client_authentication"),
        client_cas=tuple(tls.get("client_certificate_authorities") or ()),
    )
    return None if options == TlsOptions() else options


def _redirects(route: ResolvedRoute) -> tuple[PathRedirect, ...]:
    """`redirects.paths`, in the order written; `redirects.expires` is their default."""
    default_expires = route.redirects.get("expires")
    return tuple(
        PathRedirect(path, rule["to"], code=rule.get("code", 302), regexp=rule.get("regexp", False),
                     prefix=rule.get("prefix", True), append_suffix=rule.get("append_suffix", True),
                     expires=rule.get("expires", default_expires))
        for path, rule in route.redirects.get("paths", {}).items()
    )


def runs_php(app: AppConfig) -> bool:
    """A PHP app: its scripts are refused by the router until PHP-FPM runs them."""
    return app.type.split(":", 1)[0] == "php"


def script_warning(app: AppConfig) -> str | None:
    """What the push says about a PHP app's scripts while PHP is not run (S2)."""
    served = sorted(path for path, loc in app.web.locations.items() if loc.root is not None and loc.allow)
    if not runs_php(app) or not served:
        return None
    return (f"app '{app.name}': PHP scripts are not executed yet; the router refuses requests for "
            f"them (403) under {', '.join(repr(p) for p in served)} and never serves their source")


def _locations(routed: RoutedApp) -> tuple[StaticLocation, ...]:
    out = []
    for path, loc in routed.app.web.locations.items():
        root = f"{routed.current_link}/{loc.root.strip('/')}" if loc.root else None
        out.append(StaticLocation(
            path=path, root=root.rstrip("/") if root else None, passthru=loc.passthru,
            expires=loc.expires, allow=loc.allow,
            index=tuple(loc.index) if loc.index else None, headers=dict(loc.headers),
            rules=tuple(LocationRule(pattern, **dict(rule)) for pattern, rule in loc.rules.items()),
            refuse_scripts=runs_php(routed.app),
        ))
    return tuple(out)
