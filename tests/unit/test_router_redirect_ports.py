"""T4: redirects to our own hosts name the router's non-default port (pure)."""

from __future__ import annotations

import pytest

from shipway.config.model import RouteConfig
from shipway.config.routes import resolve_routes
from shipway.router.plan import Ports, RoutedEnvironment, sites, with_port
from shipway.router.table import Redirect

OURS = {"a.test", "www.a.test"}


@pytest.mark.parametrize(("url", "ports", "expected"), [
    ("https://a.test/", Ports(80, 18443), "https://a.test:18443/"),
    ("https://a.test/x?y=1", Ports(80, 18443), "https://a.test:18443/x?y=1"),
    ("http://a.test/", Ports(8080, 18443), "http://a.test:8080/"),
    ("https://a.test/", Ports(80, 443), "https://a.test/"),  # default port: none written
    ("https://a.test:9/", Ports(80, 18443), "https://a.test:9/"),  # an explicit port stays
    ("https://elsewhere.test/", Ports(80, 18443), "https://elsewhere.test/"),  # not ours
    ("/relative", Ports(80, 18443), "/relative"),  # the browser keeps the port
])
def test_with_port_t4(url: str, ports: Ports, expected: str) -> None:
    assert with_port(url, ports, OURS) == expected


def _routes(routes: dict[str, dict[str, object]]) -> RoutedEnvironment:
    configs = [RouteConfig(template=t, **r) for t, r in routes.items()]  # type: ignore[arg-type]
    return RoutedEnvironment(resolve_routes(configs, "a.test"), {})


def test_www_redirect_and_http_twin_keep_the_https_port_t4() -> None:
    env = _routes({"https://www.{default}/": {"type": "redirect", "to": "https://{default}/"},
                   "https://{default}/old": {"type": "redirect", "to": "https://example.org/"}})
    table = {(s.scheme, s.host, s.path): s for s in sites([env], Ports(8080, 18443))}
    www = table[("https", "www.a.test", "/")].action
    assert isinstance(www, Redirect) and www.to == "https://a.test:18443/"
    twin = table[("http", "www.a.test", "/")].action
    assert isinstance(twin, Redirect) and twin.to == "https://www.a.test:18443/"
    foreign = table[("https", "a.test", "/old/")].action
    assert isinstance(foreign, Redirect) and foreign.to == "https://example.org/"


def test_partial_redirect_targets_on_our_hosts_get_the_port_t4() -> None:
    paths = {"/a": {"to": "https://www.a.test/b"}, "/c": {"to": "/d"},
             "/e": {"to": "https://example.org/f"}}
    env = _routes({"https://{default}/": {"type": "redirect", "to": "https://example.org/",
                                          "redirects": {"paths": paths}},
                   "https://www.{default}/": {"type": "redirect", "to": "https://{default}/"}})
    table = {(s.scheme, s.host): s for s in sites([env], Ports(80, 18443))}
    assert [r.to for r in table[("https", "a.test")].redirects] == [
        "https://www.a.test:18443/b", "/d", "https://example.org/f"]
