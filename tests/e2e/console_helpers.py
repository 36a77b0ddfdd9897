"""Shared by the console's browser and attack tests (W1-W4): a platform with its HTTPS API
(and so the console) on, project `shop` deployed, an admin and a viewer; Debian's chromium."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import STDLIB, Shipway, free_port, git, make_repo, push, running_shipway

CHROMIUM = "/usr/bin/chromium"
ADMIN, VIEWER = "ada@example.com", "vic@example.com"
DOCS = Path(__file__).resolve().parents[2] / "docs"


@contextmanager
def console_platform(tmp: Path, extra_env: dict[str, str] | None = None,
                     app: Path = STDLIB) -> Iterator[tuple[Shipway, str, Path]]:
    """-> (sw, the console's URL, the app's git checkout)."""
    env = {"SHIPWAY_API_LISTEN": f"127.0.0.1:{free_port()}", **(extra_env or {})}
    with running_shipway(env) as sw:
        remote = sw.create_project("shop")
        repo = make_repo(tmp / "repo", app)
        git(repo, "remote", "add", "shipway", remote)
        out = push(repo, remote)
        assert out.returncode == 0, out.stdout + out.stderr
        sw.cli("user:add", ADMIN, "-p", "shop", "--role", "admin")
        sw.cli("user:add", VIEWER, "-p", "shop", "--role", "viewer", "--role", "production:viewer",
               "--role", "development:viewer")
        api = sw.cli("url", "--api").stdout.splitlines()[0]
        yield sw, api + "/console/", repo


def login_url(sw: Shipway, email: str) -> str:
    return sw.cli("console:login", "--user", email).stdout.strip().splitlines()[0]


def https(sw: Shipway, base: str) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(sw.home / "api" / "ca.crt"))
    return httpx.Client(base_url=base.split("/console/")[0], verify=trust, timeout=60)


def session_client(sw: Shipway, base: str, email: str) -> tuple[httpx.Client, str]:
    """An httpx client signed in as `email` -> (client, the session's CSRF token)."""
    code = login_url(sw, email).split("?t=", 1)[1]
    client = https(sw, base)
    try:
        answer = client.post("/console/login", data={"t": code, "next": "/console/"})
        assert answer.status_code == 303, answer.text
        return client, csrf_of(client.get("/console/").text)
    except BaseException:
        client.close()
        raise


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    assert marker in html, html[:2000]
    return html.split(marker, 1)[1].split('"', 1)[0]


@contextmanager
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed (scripts/setup.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(browser: Any, sw: Shipway, email: str, phone: bool = False) -> Any:
    """A new browser context signed in as `email` through a one-time link -> its page."""
    size = {"width": 390, "height": 844} if phone else {"width": 1200, "height": 900}
    context = browser.new_context(ignore_https_errors=True, viewport=size)
    page = context.new_page()
    page.goto(login_url(sw, email))
    page.click("#sign-in")
    page.wait_for_url("**/console/")
    return page


def shot(page: Any, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / f"console-{name}.png"), full_page=True)
