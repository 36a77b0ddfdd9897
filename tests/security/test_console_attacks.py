"""Attacks on the console (W1): CSRF, forged and expired sessions, reused sign-in links,
XSS through names and log lines, open redirects. A real platform, real HTTPS."""

from __future__ import annotations

import json
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from tests.e2e.conftest import STDLIB
from tests.e2e.console_helpers import (
    ADMIN,
    chromium,
    console_platform,
    https,
    login_url,
    session_client,
)

pytestmark = pytest.mark.e2e
SESSION_SECONDS = 8
PAYLOAD = "<script>window.pwned=1</script><img src=x onerror=alert(1)>"
COOKIE = "__Host-shipway-console"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    tmp = tmp_path_factory.mktemp("console-attacks")
    app = tmp / "app"
    shutil.copytree(STDLIB, app)
    config = app / ".platform.app.yaml"
    # The build log carries markup: the console must show it as text (autoescape).
    config.write_text(config.read_text().replace('echo "building stdlib app"',
                                                 f"echo '{PAYLOAD}'"))
    extra = {"SHIPWAY_CONSOLE_SESSION_SECONDS": str(SESSION_SECONDS)}
    with console_platform(tmp, extra, app=app) as (sw, base, _):
        yield sw, base


def _count(sw: Any) -> int:
    return len(json.loads(sw.cli("activity:list", "-p", "shop", "--format", "json").stdout))


def test_w1_post_without_or_with_a_wrong_csrf_token_is_refused(console: Any) -> None:
    sw, base = console
    client, csrf = session_client(sw, base, ADMIN)
    other, other_csrf = session_client(sw, base, ADMIN)
    other.close()
    before = _count(sw)
    url = "/console/p/shop/e/main/do/redeploy"
    with closing(client):
        for form in ({}, {"csrf": ""}, {"csrf": "0" * 64}, {"csrf": csrf[:-1] + "x"},
                     {"csrf": other_csrf}):
            answer = client.post(url, data=form)
            assert answer.status_code == 403, form
            assert "CSRF" in answer.text
    assert csrf != other_csrf  # a token is bound to its session
    assert _count(sw) == before


def test_w1_a_cookie_naming_no_session_is_not_signed_in(console: Any) -> None:
    sw, base = console
    with https(sw, base) as client:
        client.cookies.set(COOKIE, secrets.token_urlsafe(32))
        answer = client.get("/console/p/shop")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")
        answer = client.post("/console/p/shop/e/main/do/redeploy", data={"csrf": "x"})
    assert answer.status_code == 403


def test_w1_a_sign_in_link_works_once(console: Any) -> None:
    sw, base = console
    code = login_url(sw, ADMIN).split("?t=", 1)[1]
    with https(sw, base) as client:
        first = client.post("/console/login", data={"t": code})
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower(), cookie
    with https(sw, base) as client:
        second = client.post("/console/login", data={"t": code})
        assert second.status_code == 403 and "set-cookie" not in second.headers
        assert client.post("/console/login", data={"t": "x" * 43}).status_code == 403


def test_w1_an_expired_session_is_refused(console: Any) -> None:
    sw, base = console
    client, csrf = session_client(sw, base, ADMIN)
    with closing(client):
        assert client.get("/console/p/shop").status_code == 200
        time.sleep(SESSION_SECONDS + 1)
        answer = client.get("/console/p/shop")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")
        answer = client.post("/console/p/shop/e/main/do/redeploy", data={"csrf": csrf})
        assert answer.status_code == 403


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "/console/..//evil.example", "javascript:alert(1)",
                                    "/console/\x0d\x0aSet-Cookie:x=1", " //evil.example"])
def test_w1_next_never_leaves_the_console(console: Any, target: str) -> None:
    sw, base = console
    code = login_url(sw, ADMIN).split("?t=", 1)[1]
    with https(sw, base) as client:
        form = client.get("/console/login", params={"next": target}).text
        answer = client.post("/console/login", data={"t": code, "next": target})
    assert 'name="next" value="/console/"' in form
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"


def test_w1_a_log_line_with_markup_is_shown_as_text(console: Any) -> None:
    sw, base = console
    client, _ = session_client(sw, base, ADMIN)
    push = next(a for a in json.loads(sw.cli("activity:list", "-p", "shop", "--format",
                                             "json").stdout) if a["type"] == "environment.push")
    with closing(client):
        html = client.get(f"/console/p/shop/a/{push['id']}").text
        assert "content-security-policy" in client.get("/console/").headers
    assert "window.pwned" in html and "<script>window.pwned" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    with chromium() as browser:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(login_url(sw, ADMIN))
        page.click("#sign-in")
        page.goto(page.url + f"p/shop/a/{push['id']}")
        assert "<script>window.pwned=1</script>" in page.inner_text("#log")
        assert page.locator("#log script, #log img").count() == 0
        assert not dialogs
        context.close()


def test_w1_an_environment_name_with_markup_is_refused_and_escaped(console: Any) -> None:
    sw, base = console
    client, csrf = session_client(sw, base, ADMIN)
    with closing(client):
        answer = client.post("/console/p/shop/e/main/branch", data={"csrf": csrf, "name": PAYLOAD})
        page = client.get(f"/console/p/shop/e/{PAYLOAD}")  # a name in the path is escaped too
    assert answer.status_code == 400
    assert "<script>window.pwned" not in answer.text and "<img src=x" not in answer.text
    assert not any(PAYLOAD in e["name"] for e in json.loads(
        sw.cli("environment:list", "-p", "shop", "--format", "json").stdout))
    assert "<script>window.pwned" not in page.text


def test_w1_login_page_and_static_files_need_no_session_but_pages_do(console: Any) -> None:
    sw, base = console
    with https(sw, base) as client:
        assert client.get("/console/login").status_code == 200
        assert client.get("/console/static/htmx.min.js").status_code == 200
        push = json.loads(sw.cli("activity:list", "-p", "shop", "--format", "json").stdout)[0]
        for path in ("/console/", "/console/me", "/console/p/shop/variables",
                     f"/console/a/{push['id']}/stream", f"/console/p/shop/a/{push['id']}"):
            assert client.get(path).status_code == 303, path
    client, _ = session_client(sw, base, ADMIN)
    with closing(client):
        answer = client.get(f"/console/a/{push['id']}/stream", params={"from": "x" * 50})
        assert answer.status_code == 200 and "event: done" in answer.text
