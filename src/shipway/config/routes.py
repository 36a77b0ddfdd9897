"""Route templates and their resolution to the URLs of one environment (pure).

A template is `<scheme>://<host>[/<path>]` where the host may end in
`{default}` or `{all}` (reference §2.2). An environment resolves them with
its `Hosts`: without domains (every non-production environment, and
production before `domain:add`) `{default}` and `{all}` become the generated
host and an absolute host is prefixed to it, as on a Platform.sh preview
environment. With domains (production only, T1) `{default}` is the
project's default domain, `{all}` one route per domain (on a clash the
`{default}` route wins), and an absolute host that is one of the project's
domains is served as written; one that is not stays prefixed. A host another
project owns as a domain is never resolved for this one. Every https route
gets an http twin that redirects to it, unless http is routed explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .frozen import thaw
from .model import RouteConfig, no_entries

PLACEHOLDERS = ("{default}", "{all}")
_TEMPLATE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[^/?#]*)(?P<path>[^?#]*)")
_NOT_IN_PATH = re.compile(r"[{}*\s\x00-\x1f\x7f]")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?|\*|\{default\}|\{all\}")


@dataclass(frozen=True)
class Template:
    scheme: str
    host: str
    path: str

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"


def parse_template(text: str) -> Template:
    """The parts of a route template, path-less ones ending in `/`; ValueError if invalid."""
    found = _TEMPLATE.fullmatch(text)
    if not found:
        raise ValueError("must be a URL template such as 'https://{default}/' or "
                         "'https://www.{default}/blog'")
    scheme, host = found["scheme"].lower(), found["host"].lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https; got '{scheme}'")
    if ":" in host:
        raise ValueError("ports are not allowed in routes")
    _check_host(host)
    if _NOT_IN_PATH.search(found["path"]):
        raise ValueError("a route's path must be plain: no {, }, *, spaces or control "
                         "characters")
    return Template(scheme, host, found["path"] or "/")


def _check_host(host: str) -> None:
    labels = host.split(".")
    placeholder = [i for i, label in enumerate(labels) if label in PLACEHOLDERS]
    valid = all(_LABEL.fullmatch(label) for label in labels)
    if not valid or "*" in labels[1:] or placeholder not in ([], [len(labels) - 1]):
        raise ValueError(f"invalid host '{host}'; write '{{default}}', a sub-domain such as "
                         "'www.{default}', '*.{default}', or a host name")


def normalize_template(text: str) -> str:
    return str(parse_template(text))


@dataclass(frozen=True)
class Hosts:
    """What an environment's route hosts resolve against: its generated host
    and, for production, the project's domains (default first)."""

    generated: str
    domains: tuple[str, ...] = ()
    foreign: frozenset[str] = frozenset()  # other projects' domains
    reserved: frozenset[str] = frozenset()  # the platform's own hosts (W1: the console)

    @property
    def default(self) -> str:
        return self.domains[0] if self.domains else self.generated

    def expand(self, host: str) -> tuple[str, ...]:
        """Every host a template host stands for (several only for `{all}`)."""
        labels = host.split(".")
        if labels[-1] == "{all}":
            return tuple(".".join(labels[:-1] + [d]) for d in self.domains or (self.generated,))
        if labels[-1] == "{default}":
            return (".".join(labels[:-1] + [self.default]),)
        if host in self.domains:
            return (host,)
        return (f"{host}.{self.generated}",)


def expand_host(host: str, default_host: str | Hosts) -> str:
    hosts = default_host if isinstance(default_host, Hosts) else Hosts(default_host)
    return hosts.expand(host.replace("{all}", "{default}"))[0]


@dataclass(frozen=True)
class ResolvedRoute:
    url: str
    scheme: str
    host: str
    path: str
    type: str
    upstream_app: str | None
    to: str | None
    primary: bool
    id: str | None
    original_url: str
    attributes: Mapping[str, Any] = no_entries()
    redirects: Mapping[str, Any] = no_entries()  # partial redirects, kept out of PLATFORM_ROUTES
    tls: Mapping[str, Any] = no_entries()


def resolve_routes(routes: Sequence[RouteConfig],
                   default_host: str | Hosts) -> tuple[ResolvedRoute, ...]:
    """Every route of one environment with final URLs, http twins included."""
    hosts = default_host if isinstance(default_host, Hosts) else Hosts(default_host)
    by_template = {route.template: route for route in routes}
    explicit: dict[str, ResolvedRoute] = {}
    for route in routes:
        for resolved in _resolve(route, hosts, by_template):
            if resolved.host in hosts.foreign | hosts.reserved:
                # Another project's domain, or the platform's own host (W1: a domain
                # added before SHIPWAY_CONSOLE_HOST named it): never served for this one.
                continue
            earlier = explicit.get(resolved.url)
            # On a clash the {default} route wins over the {all} one (reference §2.2).
            if earlier is None or ("{all}" in earlier.original_url
                                   and "{all}" not in resolved.original_url):
                explicit[resolved.url] = resolved
    out: list[ResolvedRoute] = []
    for route in explicit.values():
        out.append(route)
        twin = _http_twin(route)
        if twin is not None and twin.url not in explicit:
            out.append(twin)
    return _with_primary(out)


def _resolve(route: RouteConfig, hosts: Hosts,
             by_template: Mapping[str, RouteConfig]) -> list[ResolvedRoute]:
    template = parse_template(route.template)
    path = template.path if template.path.endswith("/") else template.path + "/"
    upstream = route.upstream.partition(":")[0] if route.type == "upstream" and route.upstream \
        else None
    to = _target(route.to, hosts, by_template)
    return [
        ResolvedRoute(
            url=f"{template.scheme}://{host}{path}", scheme=template.scheme, host=host, path=path,
            type=route.type, upstream_app=upstream, to=to, primary=bool(route.primary),
            id=route.id, original_url=route.template, attributes=route.attributes,
            redirects=route.redirects, tls=route.tls,
        )
        for host in hosts.expand(template.host)
    ]


def _target(to: str | None, default_host: Hosts,
            by_template: Mapping[str, RouteConfig]) -> str | None:
    """A redirect target: another route's template, or a URL (with placeholders) as is."""
    if to is None:
        return None
    try:
        template = parse_template(to)
    except ValueError:
        return to
    if str(template) in by_template or any(p in template.host for p in PLACEHOLDERS):
        return f"{template.scheme}://{expand_host(template.host, default_host)}{template.path}"
    return to


def _http_twin(route: ResolvedRoute) -> ResolvedRoute | None:
    if route.scheme != "https":
        return None
    rest = route.url.removeprefix("https://")
    return ResolvedRoute(
        url=f"http://{rest}", scheme="http", host=route.host, path=route.path, type="redirect",
        upstream_app=None, to=route.url, primary=False, id=None,
        original_url="http://" + route.original_url.removeprefix("https://"),
    )


def _with_primary(routes: list[ResolvedRoute]) -> tuple[ResolvedRoute, ...]:
    """Exactly one primary: the one marked so, else the first upstream route."""
    marked = [r for r in routes if r.primary]
    upstreams = [r for r in routes if r.type == "upstream"]
    chosen = marked[0] if marked else (upstreams[0] if upstreams else None)
    return tuple(replace(r, primary=r is chosen) for r in routes)


def platform_routes(resolved: Sequence[ResolvedRoute]) -> dict[str, dict[str, Any]]:
    """PLATFORM_ROUTES: final URL → route, as apps read it (reference §2.2, §10.4)."""
    table: dict[str, dict[str, Any]] = {}
    for route in resolved:
        entry: dict[str, Any] = {
            "primary": route.primary, "id": route.id, "attributes": thaw(route.attributes),
            "type": route.type, "original_url": route.original_url,
        }
        if route.type == "upstream":
            entry["upstream"] = route.upstream_app
        else:
            entry["to"] = route.to
        # shipway's router neither caches nor runs SSI; say so rather than imply it does.
        entry["cache"] = {"enabled": False}
        entry["ssi"] = {"enabled": False}
        table[route.url] = entry
    return table
