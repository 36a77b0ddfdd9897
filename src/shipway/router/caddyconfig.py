"""Render the route table as Caddy's JSON config (pure: no I/O).

Theory of operation. One Caddy server per scheme: `http` sites on the HTTP
port, `https` sites on the HTTPS port with certificates from Caddy's own
internal CA, or for public names from an ACME CA (router/tls.py, T2).
Each site is one terminal route matched on host and path prefix; more
specific routes come first because Caddy tries routes in order. Whatever matches no site gets a plain 404.

Deploys hold requests without touching this config (any config change fails
the requests Caddy is holding, on every host; NOTES.md): `reverse_proxy`
retries a refused or missing upstream every 20 ms for up to `hold_seconds`,
so a request waits until the new release listens. Past the limit Caddy
raises a 502 error, which the server's error routes turn into a 503 with
Retry-After.

Holding is for deploys only (D2): an upstream with a hold marker gets two
proxies, chosen per request by Caddy's `file` matcher (one stat): marker
present (a deploy runs) → retry up to the hold limit; absent → retry for
`DOWN_RETRY` only, so a crashed app costs its clients under a second. The
choice is made when a request arrives: removing the marker never cuts a
request already held.

Upstream keep-alive (T5): the proxy for requests outside a deploy pools its
upstream connections (a fresh connection per request cost the router ~90 %
of its throughput against a keep-alive app); the proxy a request takes while
the marker exists dials a fresh connection per request, so every request
arriving during a deploy passes the gate (which acts on new connections) and
is answered by the new release, never by a pooled connection to the old one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from shipway.config.regex import compile_rule
from shipway.router.table import (
    SCRIPT_PATTERN,
    PathRedirect,
    PlatformProxy,
    Redirect,
    Site,
    StaticLocation,
    TlsOptions,
    Upstream,
    expires_seconds,
)
from shipway.router.tls import Acme, automation_policies

JSON = dict[str, Any]

ACCESS_LOGGER = "shipway_access"
NO_ROUTE_BODY = "shipway: no route matches this host and path\n"
NOT_ANSWERING_BODY = (
    "shipway: the application is not answering (deploy in progress or app down); retry shortly\n"
)
SCRIPT_REFUSED_BODY = (
    "shipway: this app runs its own server, not PHP-FPM: a script is never served as a file\n"
)
SCRIPT_NOT_RUN_BODY = "shipway: scripts are not executed here (scripts: false)\n"
APP_ROOT = "/app"  # the app as PHP-FPM sees it in its sandbox
PHP_SPLIT = ".php"
RETRY_AFTER = "10"
# How long a request to an app that is down outside a deploy keeps retrying
# before its 503: long enough to ride out a supervisor's quick restart,
# short enough that the answer comes within a second (D2).
DOWN_RETRY = "750ms"
_TEXT = {"Content-Type": ["text/plain; charset=utf-8"]}
# Set by the location's path_regexp matcher: the request path beyond the
# location's prefix, i.e. the file's path relative to the location's root.
_REST = "{http.regexp.loc.1}"


def base(admin_socket: Path, storage_dir: Path) -> JSON:
    """The config parts every render shares: admin API and storage.

    Caddy starts with just this, so a later /load never moves the admin API.
    """
    return {
        # A unix socket: a TCP admin port would collide between platforms on
        # one host and let any local process (an app) reconfigure the router.
        "admin": {"listen": f"unix/{admin_socket}", "config": {"persist": False}},
        "storage": {"module": "file_system", "root": str(storage_dir)},
    }


def render(
    sites: Iterable[Site],
    *,
    http_port: int,
    https_port: int,
    listen_host: str = "",
    admin_socket: Path,
    storage_dir: Path,
    hold_seconds: float,
    access_log: Path | None,
    listen: Mapping[str, str] | None = None,
    acme: Acme | None = None,
) -> JSON:
    """Caddy's complete JSON config serving `sites`.

    `listen` maps a scheme to Caddy's listen address for it (the router's
    inherited sockets, `fd/N`); without it each server binds
    `listen_host:port` itself.
    """
    listen = listen or {}
    sites = list(sites)
    plain = [s for s in sites if s.scheme == "http"]
    secure = [s for s in sites if s.scheme == "https"]
    hold = f"{round(hold_seconds * 1000)}ms"
    logged = access_log is not None
    servers = {"http": _server(plain, listen.get("http", f"{listen_host}:{http_port}"), hold, logged)}
    servers["http"]["automatic_https"] = {"disable": True}
    if secure:
        https_listen = listen.get("https", f"{listen_host}:{https_port}")
        servers["https"] = _server(secure, https_listen, hold, logged)
        if https_listen.startswith("fd/"):
            # HTTP/3 needs a UDP socket, and only TCP ones are handed over.
            servers["https"]["protocols"] = ["h1", "h2"]
        # http → https twins are explicit Redirect sites in the table.
        servers["https"]["automatic_https"] = {"disable_redirects": True}
        servers["https"]["tls_connection_policies"] = connection_policies(secure)
    # Caddy must know which ports are "HTTP" and "HTTPS", or it would treat an
    # http server on a non-80 port as HTTPS and go fetch certificates for it.
    apps: JSON = {"http": {"http_port": http_port, "https_port": https_port, "servers": servers}}
    if secure:
        apps |= _tls({s.host for s in secure}, acme)
    config = base(admin_socket, storage_dir) | {"apps": apps}
    if access_log is not None:
        config["logging"] = _logging(access_log)
    return config


def _tls(hosts: set[str], acme: Acme | None) -> JSON:
    return {
        "tls": {"automation": {"policies": automation_policies(hosts, acme)}},
        # Caddy otherwise installs its root CA in the host's trust store (as
        # root it can): a router must not change what the host trusts.
        "pki": {"certificate_authorities": {"local": {"install_trust": False}}},
    }


def _logging(access_log: Path) -> JSON:
    return {
        "logs": {
            ACCESS_LOGGER: {
                "writer": {"output": "file", "filename": str(access_log)},
                "encoder": {"format": "json"},
                "include": [f"http.log.access.{ACCESS_LOGGER}"],
            },
            # Keep access lines out of Caddy's own log (caddy.log).
            "default": {"exclude": [f"http.log.access.{ACCESS_LOGGER}"]},
        }
    }


def _server(sites: list[Site], listen: str, hold: str, logged: bool) -> JSON:
    routes = [_site_route(site, hold) for site in sorted(sites, key=_specificity)]
    server: JSON = {
        "listen": [listen],
        "routes": [*routes, {"handle": [_text(404, NO_ROUTE_BODY)]}],
        "errors": {"routes": [_upstream_down()]},
    }
    if logged:
        server["logs"] = {"default_logger_name": ACCESS_LOGGER}
    return server


def _specificity(site: Site) -> tuple[bool, int, str, str]:
    # Exact hosts before wildcards, then longer path prefixes first. Host and
    # path break the remaining ties (such routes never overlap) so the config
    # does not depend on the order of the table: a reordered but equal table
    # must render equal, or Caddy reloads, which fails held requests and
    # closes clients' idle keep-alive connections (seen: wrk read errors
    # whenever a deploy moved its environment to the end of the table).
    return (site.host.startswith("*."), -len(_prefix(site.path)), site.host, site.path)


def _prefix(path: str) -> str:
    """The path without its trailing slash: "" for "/", "/api" for "/api/"."""
    return path.rstrip("/")


def _site_route(site: Site, hold: str) -> JSON:
    match: JSON = {"host": [site.host]}
    prefix = _prefix(site.path)
    if prefix:
        # "/api" and "/api/*", not "/api*", which would also match "/apiary".
        match["path"] = [prefix, f"{prefix}/*"]
    if isinstance(site.action, Redirect):
        handle = _redirect(site.action, prefix)
    elif isinstance(site.action, PlatformProxy):
        handle = _platform_proxy(site.action)
    else:
        handle = _upstream(site.action, site.locations, hold)
    if site.redirects:
        routes = [route for r in site.redirects for route in _path_redirects(r)]
        handle = [{"handler": "subroute", "routes": [*routes, {"handle": handle}]}]
    if site.tls is not None and site.tls.hsts:
        handle = [_hsts(site.tls), *handle]
    return {"match": [match], "handle": handle, "terminal": True}


# W1: who acts is decided by the control plane from the request's session or
# token; a client's own claim never reaches it (the TCP listener refuses it too).
STRIPPED_REQUEST_HEADERS = ["X-Shipway-Actor"]


def _platform_proxy(proxy: PlatformProxy) -> list[JSON]:
    """The console's site: to the API listener over TLS, trusting its own CA only."""
    tls = {"ca": {"provider": "file", "pem_files": [proxy.ca_file]},
           "server_name": proxy.server_name}
    return [
        {"handler": "headers", "request": {"delete": list(STRIPPED_REQUEST_HEADERS)}},
        {"handler": "reverse_proxy", "upstreams": [{"dial": proxy.dial}],
         "transport": {"protocol": "http", "tls": tls}},
    ]


HSTS_MAX_AGE = 31536000  # one year, as Platform.sh sends it


def _hsts(tls: TlsOptions) -> JSON:
    value = f"max-age={HSTS_MAX_AGE}"
    value += "; includeSubDomains" if tls.hsts_subdomains else ""
    value += "; preload" if tls.hsts_preload else ""
    return {"handler": "headers", "response": {"set": {"Strict-Transport-Security": [value]}}}


def connection_policies(sites: list[Site]) -> list[JSON]:
    """One TLS connection policy per distinct route `tls` handshake setting (T2),
    matched on SNI, then the default one. A host routed with several settings
    (two paths) gets the first in table order: one handshake serves them all."""
    chosen: dict[str, TlsOptions] = {}
    for site in sorted(sites, key=_specificity):
        if site.tls is not None and site.tls.connection:
            chosen.setdefault(site.host, site.tls)
    grouped: dict[TlsOptions, list[str]] = {}
    for host, tls in sorted(chosen.items()):
        grouped.setdefault(tls, []).append(host)
    policies = [_connection_policy(tls) | {"match": {"sni": hosts}} for tls, hosts in grouped.items()]
    return [*policies, {}]


def _connection_policy(tls: TlsOptions) -> JSON:
    policy: JSON = {}
    if tls.min_version:
        policy["protocol_min"] = tls.min_version
    if tls.client_auth:
        ders = [_pem_body(pem) for pem in tls.client_cas]
        mode = "request" if tls.client_auth == "request" else (
            "require_and_verify" if ders else "require")
        auth: JSON = {"mode": mode}
        if ders:
            auth["ca"] = {"provider": "inline", "trusted_ca_certs": ders}
        policy["client_authentication"] = auth
    return policy


def _pem_body(pem: str) -> str:
    """A PEM certificate's base64 DER, as Caddy's inline CA pool takes it."""
    body = pem.split("-----BEGIN CERTIFICATE-----", 1)[1].split("-----END CERTIFICATE-----", 1)[0]
    return "".join(body.split())


def _path_redirects(redirect: PathRedirect) -> list[JSON]:
    """One partial redirect; `$1`… in a regexp redirect's target are its groups.

    The request's query string is kept (T4): a request with one is answered
    by a first route whose Location carries it, one without by a second
    route, so a bare `?` is never sent.
    """
    if redirect.regexp:
        pattern = redirect.path
        location = re.sub(r"\$(\d)", r"{http.regexp.redir.\1}", redirect.to)
    elif redirect.prefix:
        # Whole path segments: "/from" covers "/from" and "/from/x", not "/fromage".
        pattern = "^" + re.escape(redirect.path.rstrip("/")) + "(/.*)?$"
        location = (redirect.to.rstrip("/") + "{http.regexp.redir.1}" if redirect.append_suffix
                    else redirect.to)
    else:
        pattern = "^" + re.escape(redirect.path) + "$"
        location = redirect.to
    match = {"path_regexp": {"name": "redir", "pattern": pattern}}
    joiner = "&" if "?" in location else "?"
    with_query = match | {"expression": f'{{{QUERY}}} != ""'}
    return [
        _redirect_route(with_query, redirect, f"{location}{joiner}{{{QUERY}}}"),
        _redirect_route(match, redirect, location),
    ]


QUERY = "http.request.uri.query"


def _redirect_route(match: JSON, redirect: PathRedirect, location: str) -> JSON:
    headers = {"Location": [location]}
    seconds = expires_seconds(redirect.expires)
    if seconds is not None:
        headers["Cache-Control"] = [f"max-age={seconds}"]
    return {
        "match": [match],
        "handle": [{"handler": "static_response", "status_code": redirect.code, "headers": headers}],
        "terminal": True,
    }


def _redirect(redirect: Redirect, prefix: str) -> list[JSON]:
    # Strip the route's prefix so only the rest of the path (and the query)
    # is appended to the target.
    strip = [{"handler": "rewrite", "strip_path_prefix": prefix}] if prefix else []
    location = redirect.to.rstrip("/") + "{http.request.uri}"
    return [
        *strip,
        {"handler": "static_response", "status_code": redirect.code,
         "headers": {"Location": [location]}},
    ]


def _proxy(upstream: Upstream, hold: str, script_root: str = APP_ROOT) -> JSON:
    if upstream.static:
        return _text(404, "Not found\n")
    transport = _fastcgi(script_root) if upstream.fastcgi else _NO_UPSTREAM_KEEPALIVE
    held = _reverse_proxy(upstream.dial, hold, transport)
    if upstream.hold_marker is None:
        return held
    pooled = _fastcgi(script_root) if upstream.fastcgi else _UPSTREAM_KEEPALIVE
    marker = PurePosixPath(upstream.hold_marker)
    deploying = {"file": {"root": str(marker.parent), "try_files": [f"/{marker.name}"]}}
    return {
        "handler": "subroute",
        "routes": [
            {"match": [deploying], "handle": [held], "terminal": True},
            {"handle": [_reverse_proxy(upstream.dial, DOWN_RETRY, pooled)]},
        ],
    }


def _reverse_proxy(dial: str, try_duration: str, transport: JSON) -> JSON:
    # Caddy keeps the client's Host and sets X-Forwarded-For/Proto/Host by
    # default, so nothing to configure for those.
    return {
        "handler": "reverse_proxy",
        "upstreams": [{"dial": dial}],
        "load_balancing": {"try_duration": try_duration, "try_interval": "20ms"},
        "transport": dict(transport),
    }


def _fastcgi(script_root: str) -> JSON:
    # `root` is the location's root as PHP-FPM sees it inside the app's
    # sandbox (/app/…), not the router's view of it: SCRIPT_FILENAME is
    # root + the script's path, and Caddy joins them without leaving root.
    return {"protocol": "fastcgi", "root": script_root, "split_path": [PHP_SPLIT]}


# While a deploy holds (and for an upstream with no hold marker): a fresh
# connection per proxied request. The deploy gate acts on new connections
# (nftables `ct state new`, the unix link), so a pooled one could carry a
# held request past it to the release being stopped.
_NO_UPSTREAM_KEEPALIVE: JSON = {"protocol": "http", "keep_alive": {"enabled": False}}
# Outside deploys: pooled connections (T5). Caddy's pool can keep a connection
# no request uses (a dial finished after its client aborted), which blocks a
# gunicorn sync worker until the idle timeout closes it: kept short, and
# below the usual app keep-alive timeouts (gunicorn's 2 s) so the app is not
# the side closing an idle connection as the router reuses it.
_UPSTREAM_KEEPALIVE: JSON = {
    "protocol": "http",
    "keep_alive": {"enabled": True, "idle_timeout": "1s", "max_idle_conns_per_host": 64},
}


def _upstream(upstream: Upstream, locations: tuple[StaticLocation, ...], hold: str) -> list[JSON]:
    proxy = _proxy(upstream, hold)
    if not locations:
        return [proxy]
    ordered = sorted(locations, key=lambda loc: -len(_prefix(loc.path)))
    routes = [_location_route(loc, _proxy(upstream, hold, loc.script_root) if loc.php else proxy)
              for loc in ordered]
    return [{"handler": "subroute", "routes": [*routes, {"handle": [proxy]}]}]


def _location_route(location: StaticLocation, proxy: JSON) -> JSON:
    # A regexp rather than a path matcher: its group is the path relative to
    # the location's root, which the file matcher needs.
    pattern = "^" + re.escape(_prefix(location.path)) + "(/.*)?$"
    match = {"path_regexp": {"name": "loc", "pattern": pattern}}
    if location.root is None:
        return {"match": [match], "handle": [proxy], "terminal": True}
    # Each rule is the location again with the rule's fields, for the paths
    # its pattern matches; the first matching rule wins, as in nginx.
    routes = [
        {"match": [_rule_matcher(rule.pattern)],
         "handle": [{"handler": "subroute", "routes": _location_files(location.with_rule(rule), proxy)}],
         "terminal": True}
        for rule in location.rules
    ]
    routes += _location_files(location, proxy)
    if location.rules and not location.php and location.served_index:
        routes.insert(0, _index_rewrite(location))
    return {"match": [match], "handle": [{"handler": "subroute", "routes": routes}], "terminal": True}


def _index_rewrite(location: StaticLocation) -> JSON:
    """A directory with an index file is asked for as that file before the
    rules are matched, as nginx's `index` does on Platform.sh: pelican's
    `allow: false` with a `\\.html$` rule serves `/` from index.html."""
    assert location.root is not None
    tries = [f"{_REST}/{name}" for name in location.served_index]
    return {
        "match": [{"file": {"root": location.root, "try_files": tries}}],
        "handle": [{"handler": "rewrite",
                    "uri": _prefix(location.path) + "{http.matchers.file.relative}"}],
    }


def _rule_matcher(pattern: str) -> JSON:
    """A rule's pattern as RE2 matchers: PCRE look-around becomes a negated
    second matcher (config/regex.py, C10); validation refused the rest."""
    compiled = compile_rule(pattern)
    matcher: JSON = {"path_regexp": {"name": "rule", "pattern": compiled.include}}
    if compiled.exclude is not None:
        matcher["not"] = [{"path_regexp": {"name": "ruleout", "pattern": compiled.exclude}}]
    return matcher


def _location_files(location: StaticLocation, proxy: JSON) -> list[JSON]:
    """A file from the location's root if one matches and is allowed, else passthru."""
    if location.php:
        return _php_files(location, proxy)
    inner = [_serve_file(location)] if location.allow else []
    if location.allow and location.refuse_scripts:
        inner.insert(0, _refuse_script(location))
    inner.append({"handle": _passthru(location.passthru, proxy)})
    return inner


def _refuse_script(location: StaticLocation) -> JSON:
    # Only when the script exists: a missing one still goes to passthru (a
    # front controller's route). Matched on the request path, so nothing
    # the file server could open for it is a script either (index files
    # that are scripts are left out of `tries`).
    assert location.root is not None
    return {
        "match": [{"path_regexp": {"name": "script", "pattern": SCRIPT_PATTERN},
                   "file": {"root": location.root, "try_files": [_REST, f"{_REST}/"]}}],
        "handle": [_text(403, SCRIPT_REFUSED_BODY)],
        "terminal": True,
    }


def _serve_file(location: StaticLocation) -> JSON:
    assert location.root is not None
    # The file matcher only matches regular files for names without a
    # trailing slash, so a directory falls through to passthru unless it
    # holds one of the index files.
    tries = [_REST, *(f"{_REST}/{name}" for name in location.served_index)]
    return {
        "match": [{"file": {"root": location.root, "try_files": tries}}],
        "handle": _file_handlers(location),
        "terminal": True,
    }


def _file_handlers(location: StaticLocation) -> list[JSON]:
    assert location.root is not None
    handle = [
        {"handler": "rewrite", "uri": "{http.matchers.file.relative}"},
        {"handler": "file_server", "root": location.root},
    ]
    headers = _static_headers(location.expires, location.headers)
    if headers:
        # Deferred: applied when the response is written, so the location's
        # headers win over the ones file_server sets.
        handle.insert(0, {"handler": "headers", "response": {"set": headers, "deferred": True}})
    return handle


def _php_files(location: StaticLocation, proxy: JSON) -> list[JSON]:
    """C6, as Platform.sh's PHP locations: an existing script (or a directory's
    script index) runs if `scripts`, else 403, its source never served; an
    existing other file is served if `allow`; the rest goes to passthru.

    The file matcher looks in the router's view of the root (no symlink
    followed, S2) and splits at ".php" so that `/a.php/more` finds `/a.php`
    with PATH_INFO `/more`; FPM is then asked for that path under its own
    view of the same root (the FastCGI transport's `root`).
    """
    assert location.root is not None
    if not (location.allow or location.scripts):
        return [{"handle": _passthru(location.passthru, proxy)}]
    tries = [_REST, *(f"{_REST}/{name}" for name in location.served_index)]
    script = {"vars_regexp": {"{http.matchers.file.relative}": {"name": "php", "pattern": SCRIPT_PATTERN}}}
    if location.scripts:
        run = [{"handler": "rewrite", "uri": "{http.matchers.file.relative}{http.matchers.file.remainder}"},
               proxy]
    else:
        run = [_text(403, SCRIPT_NOT_RUN_BODY)]
    found = [
        {"match": [script], "handle": run, "terminal": True},
        {"handle": _file_handlers(location) if location.allow else _passthru(location.passthru, proxy)},
    ]
    return [
        {"match": [{"file": {"root": location.root, "try_files": tries, "split_path": [PHP_SPLIT]}}],
         "handle": [{"handler": "subroute", "routes": found}], "terminal": True},
        {"handle": _passthru(location.passthru, proxy)},
    ]


def _static_headers(expires: str | None, extra: Mapping[str, str]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    seconds = expires_seconds(expires)
    if seconds is not None:
        # No Expires header: Caddy cannot compute "now + N" without a plugin,
        # and HTTP/1.1 caches ignore Expires when max-age is present.
        headers["Cache-Control"] = [f"max-age={seconds}"]
    headers.update({name: [value] for name, value in extra.items()})
    return headers


def _passthru(passthru: bool | str, proxy: JSON) -> list[JSON]:
    if passthru is True:
        return [proxy]
    if isinstance(passthru, str):
        # A rewrite without "?" keeps the query string, as PHP front
        # controllers expect.
        return [{"handler": "rewrite", "uri": passthru}, proxy]
    return [_text(404, "Not found\n")]


def _upstream_down() -> JSON:
    # Only reverse_proxy raises these (dial failures once try_duration is
    # spent, or timeouts); an app's own 502/503 responses are passed through
    # untouched because they are responses, not errors.
    return {
        "match": [{"expression": "{http.error.status_code} in [502, 503, 504]"}],
        "handle": [_text(503, NOT_ANSWERING_BODY, {"Retry-After": [RETRY_AFTER]})],
    }


def _text(status: int, body: str, headers: dict[str, list[str]] | None = None) -> JSON:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": _TEXT | (headers or {}),
        "body": body,
    }
