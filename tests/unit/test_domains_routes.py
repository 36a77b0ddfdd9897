"""T1: route resolution with a project's domains (reference §2.2), and which
names may be claimed. Pure, table-driven."""

from __future__ import annotations

import pytest

from shipway.config import RouteConfig, platform_routes, resolve_routes
from shipway.config.routes import Hosts
from shipway.domains.names import MAX_NAME, check_domain
from shipway.errors import NotSupportedYet, UsageError

GEN = "main-abc1234.shop.localhost"
PROD = Hosts(GEN, ("example.com", "example.org"))


def up(template: str, app: str = "app", **kw: object) -> RouteConfig:
    return RouteConfig(template, "upstream", upstream=f"{app}:http", **kw)  # type: ignore[arg-type]


def urls(routes: list[RouteConfig], hosts: Hosts) -> dict[str, str | None]:
    return {r.url: r.upstream_app or r.to for r in resolve_routes(routes, hosts)
            if r.scheme == "https"}


CASES = [
    ("no domains: generated host", [up("https://{default}/")], Hosts(GEN),
     {f"https://{GEN}/": "app"}),
    ("{default} is the default domain", [up("https://{default}/")], PROD,
     {"https://example.com/": "app"}),
    ("{all} once per domain", [up("https://{all}/")], PROD,
     {"https://example.com/": "app", "https://example.org/": "app"}),
    ("{all} without domains: the generated host", [up("https://www.{all}/")], Hosts(GEN),
     {f"https://www.{GEN}/": "app"}),
    ("{default} wins a clash with {all}", [up("https://{all}/", "b"), up("https://{default}/", "a")],
     PROD, {"https://example.com/": "a", "https://example.org/": "b"}),
    ("{default} wins, whatever the order", [up("https://{default}/", "a"), up("https://{all}/", "b")],
     PROD, {"https://example.com/": "a", "https://example.org/": "b"}),
    ("sub-domain of the default", [up("https://api.{default}/")], PROD,
     {"https://api.example.com/": "app"}),
    ("an owned literal host is served as written", [up("https://example.org/")], PROD,
     {"https://example.org/": "app"}),
    ("an unowned literal host stays prefixed", [up("https://www.example.net/")], PROD,
     {f"https://www.example.net.{GEN}/": "app"}),
    ("non-production: literal hosts prefixed", [up("https://example.com/")], Hosts(GEN),
     {f"https://example.com.{GEN}/": "app"}),
]


@pytest.mark.parametrize(("routes", "hosts", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_resolve_with_domains_t1(routes: list[RouteConfig], hosts: Hosts,
                                 expected: dict[str, str]) -> None:
    assert urls(routes, hosts) == expected


def test_http_twins_and_redirect_targets_use_the_domains_t1() -> None:
    routes = [up("https://{all}/"), RouteConfig("https://www.{default}/", "redirect",
                                                to="https://{default}/")]
    got = {r.url: (r.type, r.to) for r in resolve_routes(routes, PROD)}
    assert got["http://example.org/"] == ("redirect", "https://example.org/")
    assert got["https://www.example.com/"] == ("redirect", "https://example.com/")


def test_platform_routes_show_the_real_hosts_t1() -> None:
    table = platform_routes(resolve_routes([up("https://{all}/", primary=True)], PROD))
    assert [url for url, r in table.items() if r["primary"]] == ["https://example.com/"]
    assert table["https://example.org/"]["original_url"] == "https://{all}/"


def test_another_projects_domain_is_never_resolved_t1() -> None:
    hosts = Hosts(GEN, ("example.com",), foreign=frozenset({"api.example.com", "victim.test"}))
    routes = [up("https://{default}/"), up("https://api.{default}/"), up("https://victim.test/")]
    assert urls(routes, hosts) == {"https://example.com/": "app",
                                   f"https://victim.test.{GEN}/": "app"}


@pytest.mark.parametrize(("raw", "stored"), [
    ("www.example.com", "www.example.com"),
    ("WWW.Example.COM.", "www.example.com"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a-b.c-d.test", "a-b.c-d.test"),
])
def test_good_domain_names_t1(raw: str, stored: str) -> None:
    assert check_domain(raw, "localhost") == stored


@pytest.mark.parametrize(("raw", "message"), [
    ("example", "two labels"),
    ("-bad.example.com", "not a valid DNS label"),
    ("bad-.example.com", "not a valid DNS label"),
    ("ex_ample.com", "not a valid DNS label"),
    ("{default}.example.com", "not a valid DNS label"),
    ("a..example.com", "not a valid DNS label"),
    ("exa mple.com", "not a valid DNS label"),
    ("ex\u00e4mple.com", "not a valid DNS label"),
    ("example.com/path", "not a valid DNS label"),
    ("a" * 64 + ".example.com", "not a valid DNS label"),
    (("a" * 60 + ".") * 5 + "com", f"longer than {MAX_NAME}"),
    ("127.0.0.1", "IP address"),
    ("localhost", "two labels"),
    ("app.localhost", "under 'localhost'"),
    ("main-abc.other.shipway.test", "platform's own domain"),
    ("shipway.test", "platform's own domain"),
])
def test_bad_domain_names_are_refused_t1(raw: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_domain(raw, "shipway.test")


def test_wildcards_are_not_supported_yet_t1() -> None:
    with pytest.raises(NotSupportedYet, match="wildcard"):
        check_domain("*.example.com", "localhost")
