"""From environments' resolved routes to the router's sites. Pure.

Static locations point at `<current link>/<root>`, a symlink that the deploy
switches atomically when it serves, so a new release never needs a router
config change: only new routes, apps or environments do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from shipway.config.model import AppConfig
from shipway.config.routes import ResolvedRoute
from shipway.router.table import (
    LocationRule,
    PathRedirect,
    PlatformProxy,
    Redirect,
    Site,
    StaticLocation,
    TlsOptions,
    Upstream,
)
from shipway.webkind import WebKind, is_php, web_kind


@dataclass(frozen=True)
class RoutedApp:
    app: AppConfig
    dial: str  # "unix//…" or "127.0.0.1:PORT"
    current_link: str  # absolute host path of the link to the current artifact
    hold_marker: str | None = None  # exists while the app deploys (deploy/gate.py)
    # Mount rel → the router's view of it (deploy/mountviews.py, C6a).
    mount_views: Mapping[str, str] = field(default_factory=dict)


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


def console_site(host: str, dial: str, ca_file: str, server_name: str) -> Site:
    """W1: the console's https site on the router, part of every config (static:
    users and sessions never change it). Its certificate comes as any other
    name's does (router/tls.py decides the issuer from the host)."""
    return Site("https", host, "/", PlatformProxy(dial, ca_file, server_name))


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
    kind = web_kind(routed.app)
    upstream = Upstream(routed.dial, routed.hold_marker, fastcgi=kind is WebKind.FPM,
                        static=kind is WebKind.STATIC)
    return Site(scheme, host, path, upstream, _locations(routed), redirects=_redirects(route),
                tls=tls)


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
    """A PHP app with its own start command: the router refuses its scripts (S2),
    as it cannot know what the app's server does with them."""
    return is_php(app) and web_kind(app) is not WebKind.FPM


def script_warning(app: AppConfig) -> str | None:
    """What the push says about a PHP app's scripts while PHP is not run (S2)."""
    served = sorted(path for path, loc in app.web.locations.items() if loc.root is not None and loc.allow)
    if not runs_php(app) or not served:
        return None
    return (f"app '{app.name}': with its own start command, PHP scripts are not run by PHP-FPM; "
            f"the router refuses requests for them (403) under {', '.join(repr(p) for p in served)} "
            "and never serves their source (leave web.commands.start out to run PHP-FPM)")


def served_root(rel: str, current_link: str, mount_views: Mapping[str, str]) -> str:
    """Where the router reads app path `rel`: in the mount that holds it, else the artifact."""
    for mount, view in sorted(mount_views.items(), key=lambda kv: -len(kv[0])):
        if rel == mount or rel.startswith(mount + "/"):
            return (view + rel[len(mount):]).rstrip("/")
    return f"{current_link}/{rel}".rstrip("/")


def _mounts_within(location: StaticLocation, rel: str, routed: RoutedApp,
                   taken: set[str]) -> list[StaticLocation]:
    """A mount strictly inside a location's root is served from the mount (C6a): the
    location again, for the URL path of the mount, with the mount's view as root."""
    out = []
    for mount, view in sorted(routed.mount_views.items()):
        if not (rel == "" or mount.startswith(rel + "/")):
            continue
        suffix = mount[len(rel):].strip("/")
        path = f"{location.path.rstrip('/')}/{suffix}"
        if path in taken:
            continue  # a location of its own says how it is served
        script_root = f"/app/{mount}" if location.php else None
        out.append(replace(location, path=path, root=view, script_root=script_root))
    return out


def _locations(routed: RoutedApp) -> tuple[StaticLocation, ...]:
    out = []
    fpm = web_kind(routed.app) is WebKind.FPM
    taken = {path.rstrip("/") or "/" for path in routed.app.web.locations}
    for path, loc in routed.app.web.locations.items():
        rel = loc.root.strip("/") if loc.root is not None else None
        root = served_root(loc.root.strip("/"), routed.current_link, routed.mount_views) \
            if loc.root else None
        out.append(StaticLocation(
            path=path, root=root, passthru=loc.passthru,
            expires=loc.expires, allow=loc.allow,
            index=tuple(loc.index) if loc.index else None, headers=dict(loc.headers),
            rules=tuple(LocationRule(pattern, **dict(rule)) for pattern, rule in loc.rules.items()),
            refuse_scripts=runs_php(routed.app),
            script_root=_script_root(loc.root) if fpm and loc.root is not None else None,
            scripts=loc.scripts is not False,
        ))
        if rel is not None and loc.root:
            out.extend(_mounts_within(out[-1], rel, routed, taken))
    return tuple(out)


def _script_root(root: str) -> str:
    """A location's root as PHP-FPM sees it in the app's sandbox."""
    rel = root.strip("/")
    return f"/app/{rel}" if rel else "/app"
