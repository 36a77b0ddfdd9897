"""W1: the console's site on the router, rendered by the pure router code: TLS to the
API listener trusting its CA only, the client's X-Shipway-Actor stripped, and the site
in every config RouterControl renders (static: no users or sessions in it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipway.api.console import _link_root
from shipway.config.model import RouteConfig
from shipway.config.routes import Hosts, resolve_routes
from shipway.domains.names import check_domain
from shipway.errors import UsageError
from shipway.router.caddyconfig import render
from shipway.router.control import RouterControl
from shipway.router.plan import console_site
from shipway.router.table import PlatformProxy, Site, Upstream
from shipway.router.tls import Acme
from shipway.settings import load_settings

CA = "/var/lib/shipway/router/api-ca.crt"


def _render(sites: list[Site], acme: Acme | None = None) -> dict[str, Any]:
    return render(sites, http_port=8080, https_port=8443, listen_host="127.0.0.1",
                  admin_socket=Path("/a.sock"), storage_dir=Path("/s"), hold_seconds=300,
                  access_log=None, acme=acme)


def _console_route(config: dict[str, Any], host: str) -> dict[str, Any]:
    routes = config["apps"]["http"]["servers"]["https"]["routes"]
    return next(r for r in routes if r.get("match", [{}])[0].get("host") == [host])


def test_w1_console_site_proxies_over_tls_trusting_the_api_ca_only() -> None:
    site = console_site("console.localhost", "127.0.0.1:8444", CA, "localhost")
    route = _console_route(_render([site]), "console.localhost")
    strip, proxy = route["handle"]
    assert strip == {"handler": "headers", "request": {"delete": ["X-Shipway-Actor"]}}
    assert proxy["handler"] == "reverse_proxy"
    assert proxy["upstreams"] == [{"dial": "127.0.0.1:8444"}]
    assert proxy["transport"] == {"protocol": "http", "tls": {
        "ca": {"provider": "file", "pem_files": [CA]}, "server_name": "localhost"}}
    assert "match" in route and "path" not in route["match"][0]  # the whole host


def test_w1_console_host_gets_its_certificate_as_other_names_do() -> None:
    acme = Acme(ca="https://acme.example/dir", explicit=True)
    local = _render([console_site("console.localhost", "127.0.0.1:1", CA, "localhost")], acme)
    public = _render([console_site("console.example.com", "127.0.0.1:1", CA, "localhost")], acme)
    [internal] = local["apps"]["tls"]["automation"]["policies"]
    assert internal["subjects"] == ["console.localhost"]
    assert internal["issuers"] == [{"module": "internal"}]
    [issued] = public["apps"]["tls"]["automation"]["policies"]
    assert issued["subjects"] == ["console.example.com"]
    assert issued["issuers"][0]["module"] == "acme"


@pytest.mark.parametrize("dial,ca,name", [
    ("127.0.0.1:8444/x", CA, "localhost"), ("{env.X}:1", CA, "localhost"),
    ("127.0.0.1:1", "relative.crt", "localhost"), ("127.0.0.1:1", "/a/{x}.crt", "localhost"),
    ("127.0.0.1:1", CA, "local host"), ("127.0.0.1:1", CA, "{http.request.host}"),
])
def test_w1_platform_proxy_refuses_unplain_values(dial: str, ca: str, name: str) -> None:
    with pytest.raises(ValueError):
        PlatformProxy(dial, ca, name)


def test_w1_router_control_renders_the_console_site_in_every_config() -> None:
    loads: list[dict[str, Any]] = []
    site = console_site("console.localhost", "127.0.0.1:8444", CA, "localhost")
    control = RouterControl(loads.append, lambda: None, http_port=8080, https_port=8443,
                            listen_host="127.0.0.1", admin_socket=Path("/a.sock"),
                            storage_dir=Path("/s"), hold_seconds=30, access_log=None,
                            platform_sites=[site])
    control.apply([])
    control.apply([Site("https", "main.shop.localhost", "/", Upstream("127.0.0.1:9"))])
    assert len(loads) == 2
    for config in loads:
        assert _console_route(config, "console.localhost")["handle"][1]["upstreams"] == [
            {"dial": "127.0.0.1:8444"}]


def test_w1_console_host_defaults_under_the_domain_and_can_be_named() -> None:
    assert load_settings({"SHIPWAY_DOMAIN": "paas.test"}).console_host == "console.paas.test"
    named = load_settings({"SHIPWAY_CONSOLE_HOST": "Admin.Example.com."})
    assert named.console_host == "admin.example.com"


def test_w1_the_console_host_is_not_a_claimable_domain() -> None:
    reserved = frozenset({"admin.example.com"})
    with pytest.raises(UsageError, match="platform's own"):
        check_domain("ADMIN.example.com.", "localhost", reserved)
    assert check_domain("shop.example.com", "localhost", reserved) == "shop.example.com"


def test_w1_a_route_never_resolves_to_the_console_host() -> None:
    hosts = Hosts("main.shop.localhost", ("admin.example.com", "shop.example.com"),
                  reserved=frozenset({"admin.example.com"}))
    routes = resolve_routes([RouteConfig("https://{all}/", "upstream", upstream="app:http")], hosts)
    assert {r.host for r in routes} == {"shop.example.com"}


def test_w1_login_links_go_through_the_router_only_when_its_host_is_named() -> None:
    base = "https://127.0.0.1:8444"
    info = {"url": base, "console": "https://console.localhost:8443/console/"}
    assert _link_root(info | {"console_links": "router"}, base) == \
        "https://console.localhost:8443/console"
    assert _link_root(info | {"console_links": "api"}, base) == f"{base}/console"
    assert _link_root({"url": base}, base) == f"{base}/console"
