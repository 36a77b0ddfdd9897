"""W1: the console through the router on SHIPWAY_CONSOLE_HOST, with the router's own
TLS, proxied to the HTTPS API listener: the sign-in page, a one-time link from
`console:login` that signs in through the router, and a forged X-Shipway-Actor that
never reaches the control plane. No browser: httpx, trusting the router's CA, the
console host sent as Host and SNI to the router's port on loopback."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import Shipway
from .console_helpers import ADMIN, console_platform, https, login_url

pytestmark = pytest.mark.e2e
HOST = "console.localhost"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Shipway, str]]:
    with console_platform(tmp_path_factory.mktemp("console-router"),
                          {"SHIPWAY_CONSOLE_HOST": HOST}) as (sw, api, _repo):
        yield sw, api


class Router:
    """A client of the router's https port on loopback, for the console host."""

    def __init__(self, sw: Shipway) -> None:
        self.port = int(sw.env["SHIPWAY_HTTPS_PORT"])
        trust = ssl.create_default_context(cafile=str(sw.ca))
        self.client = httpx.Client(base_url=f"https://127.0.0.1:{self.port}", verify=trust,
                                   trust_env=False, timeout=30)

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Host": f"{HOST}:{self.port}", **kwargs.pop("headers", {})}
        deadline = time.monotonic() + 20
        while True:  # the internal certificate is issued just after the first load
            try:
                return self.client.request(method, path, headers=headers,
                                           extensions={"sni_hostname": HOST}, **kwargs)
            except (httpx.ConnectError, ssl.SSLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def sign_in(self, sw: Shipway, email: str) -> None:
        code = login_url(sw, email).split("?t=", 1)[1]
        answer = self.request("POST", "/console/login", data={"t": code, "next": "/console/"})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"].startswith("/console/")  # relative: any host works
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-") and "secure" in cookie.lower()
        assert "samesite=strict" in cookie.lower()


def test_w1_console_page_answers_through_the_router(console: tuple[Shipway, str]) -> None:
    sw, _api = console
    with Router(sw) as router:
        answer = router.request("GET", "/console/", follow_redirects=True)
    assert answer.status_code == 200, answer.text[:500]
    assert 'name="t"' in answer.text  # the sign-in form


def test_w1_console_login_link_names_the_console_host(console: tuple[Shipway, str]) -> None:
    sw, _api = console
    link = urlsplit(login_url(sw, ADMIN))
    assert (link.scheme, link.hostname, link.port) == ("https", HOST, int(sw.env["SHIPWAY_HTTPS_PORT"]))
    assert link.path == "/console/login"
    assert sw.cli("url", "--console").stdout.splitlines()[0] == \
        f"https://{HOST}:{sw.env['SHIPWAY_HTTPS_PORT']}/console/"


def test_w1_a_one_time_link_signs_in_through_the_router(console: tuple[Shipway, str]) -> None:
    sw, _api = console
    link = urlsplit(login_url(sw, ADMIN))
    with Router(sw) as router:
        page = router.request("GET", f"{link.path}?{link.query}")
        assert page.status_code == 200 and "sign" in page.text.lower()
        router.sign_in(sw, ADMIN)
        projects = router.request("GET", "/console/")
    assert projects.status_code == 200
    assert "shop" in projects.text and 'name="csrf"' in projects.text


def test_w1_a_forged_actor_header_never_reaches_the_control_plane(
        console: tuple[Shipway, str]) -> None:
    sw, api = console
    # The control: sent straight to the API listener, the header is refused as such.
    with https(sw, api) as direct:
        answer = direct.get("/projects", headers={"X-Shipway-Actor": "1"})
    assert answer.status_code == 401 and "only on the local unix socket" in answer.text
    with Router(sw) as router:
        _forged(router)


def _forged(router: Router) -> None:
    for forged in ({"X-Shipway-Actor": "1"}, {"x-shipway-actor": ADMIN}):
        # Stripped by the router: the API listener answers as to any tokenless request,
        # not with its refusal of the header (which it gives when the header arrives).
        answer = router.request("GET", "/projects", headers=forged)
        assert answer.status_code == 401
        assert "needs a token" in answer.text, answer.text
        # No session: the console still asks to sign in, and lists no project.
        page = router.request("GET", "/console/", headers=forged, follow_redirects=True)
        assert 'name="t"' in page.text and "/console/p/shop" not in page.text
