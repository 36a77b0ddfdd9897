"""The console in a real browser (W1, W2, W4): Debian's chromium driven by Playwright.

One platform for the module (a deploy is slow); each test signs in afresh through a
one-time link printed by `shipway console:login`, as a user would."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import commit, push
from .console_helpers import ADMIN, VIEWER, chromium, console_platform, csrf_of, login_url, shot, sign_in

pytestmark = pytest.mark.e2e
SECRET = "s3cr3t-VALUE-4f1b9e"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, Path, Any]]:
    with console_platform(tmp_path_factory.mktemp("console")) as (sw, base, repo):
        with chromium() as browser:
            yield sw, base, repo, browser


def _activities(sw: Any) -> list[dict[str, Any]]:
    return json.loads(sw.cli("activity:list", "-p", "shop", "--format", "json").stdout)


def test_w1_sign_in_shows_projects_and_tree(console: Any) -> None:
    sw, base, _, browser = console
    page = sign_in(browser, sw, ADMIN)
    assert page.locator("text=shop").count() >= 1
    page.click("text=shop")
    page.wait_for_selector("#tree li[data-env=main]")
    row = page.locator("#tree li[data-env=main]")
    assert "production" in row.inner_text() and "active" in row.inner_text()
    assert row.locator("button[data-action=redeploy]").count() == 1
    page.context.close()


def test_w2_branch_and_watch_its_log_stream_to_completion(console: Any) -> None:
    sw, _, _, browser = console
    page = sign_in(browser, sw, ADMIN)
    streams: list[str] = []
    page.on("response", lambda r: streams.append(r.headers.get("content-type", ""))
            if "/stream" in r.url else None)
    page.goto(page.url + "p/shop")
    row = page.locator("#tree li[data-env=main]")
    row.locator("input[name=name]").fill("feature-x")
    row.locator("button[data-action=branch]").click()
    page.wait_for_url(re.compile(r".*/console/p/shop/a/\w+$"))
    # While it runs the page streams (SSE); the post_deploy hook sleeps 3 s, so lines arrive live.
    page.wait_for_selector("#log", timeout=10_000)
    expect(page.locator("#log")).to_contain_text("post_deploy end", timeout=120_000)
    expect(page.locator("#state")).to_contain_text("complete", timeout=30_000)
    page.wait_for_selector("#timeline", timeout=30_000)  # the reload after `done` draws the bars
    assert "Requests held" in page.inner_text("#hold-figures")
    assert any(t.startswith("text/event-stream") for t in streams)  # live, not a reload
    shot(page, "activity")
    envs = json.loads(sw.cli("environment:list", "-p", "shop", "--format", "json").stdout)
    assert any(e["name"] == "feature-x" and e["status"] == "active" for e in envs)
    assert any(a["environment"] == "feature-x" and a["triggered_by"] == ADMIN for a in _activities(sw))
    page.context.close()


def test_w2_rollback_from_the_releases_table(console: Any) -> None:
    sw, _, repo, browser = console
    sw.cli("redeploy", "-p", "shop", "-e", "main")  # a second release of main to go back from
    page = sign_in(browser, sw, ADMIN)
    page.goto(page.url + "p/shop/e/main")
    before = page.inner_text("#releases tr.current")
    page.locator("#releases button[data-action=rollback]").first.click()
    page.wait_for_url(re.compile(r".*/console/p/shop/a/\w+$"))
    expect(page.locator("#state")).to_contain_text("complete", timeout=120_000)
    assert "success" in page.inner_text("#state")
    page.goto(page.url.split("/a/")[0] + "/e/main")
    assert page.inner_text("#releases tr.current") != before
    assert any(a["type"] == "environment.rollback" or "rollback" in (a["description"] or "").lower()
               for a in _activities(sw))
    page.context.close()


def test_w2_sensitive_variable_is_sent_to_no_browser(console: Any) -> None:
    """Set at project level, then at environment level (which redeploys main and streams its
    log): the value is in no response the browser received, streams included."""
    sw, _, _, browser = console
    page = sign_in(browser, sw, ADMIN)
    responses: list[Any] = []
    page.on("requestfinished", lambda r: responses.append(r))
    page.goto(page.url + "p/shop/variables")
    _set_sensitive(page, "env:DB_PASSWORD")
    page.wait_for_selector("#variables")
    assert "env:DB_PASSWORD" in page.content()
    page.goto(page.url.split("?")[0] + "?environment=main")
    _set_sensitive(page, "env:MAIN_PASSWORD")
    page.wait_for_url(re.compile(r".*/console/p/shop/a/\w+$"))  # the redeploy it causes
    expect(page.locator("#state")).to_contain_text("complete", timeout=120_000)
    for path in ("p/shop/variables", "p/shop/variables?environment=main", "p/shop", "p/shop/e/main"):
        page.goto(page.url.split("/console/")[0] + "/console/" + path)
        assert SECRET not in page.content()
    for name, env in (("env:DB_PASSWORD", []), ("env:MAIN_PASSWORD", ["-e", "main"])):
        stored = json.loads(sw.cli("variable:get", name, "-p", "shop", *env, "--format",
                                   "json").stdout)
        assert stored["is_sensitive"] is True  # saved, and saved as sensitive
    bodies = [_body(r) for r in responses]
    assert len(bodies) > 10 and not [b for b in bodies if SECRET in b]
    page.context.close()


def _set_sensitive(page: Any, name: str) -> None:
    form = page.locator("#set-variable")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=value]").fill(SECRET)
    assert form.locator("input[name=value]").get_attribute("value") is None  # never pre-filled
    form.locator("input[name=is_sensitive]").check()
    form.locator("button").click()


def _body(request: Any) -> str:
    try:
        response = request.response()
        return response.text() if response else ""
    except Exception:  # a redirect has no body to read
        return ""


def test_w1_viewer_sees_no_buttons_and_a_forged_post_is_403(console: Any) -> None:
    sw, _, _, browser = console
    page = sign_in(browser, sw, VIEWER, phone=True)
    page.goto(page.url + "p/shop")
    page.wait_for_selector("#tree li[data-env=main]")
    assert page.locator("#tree button").count() == 0
    assert page.locator("#tree form").count() == 0
    shot(page, "viewer-phone")
    csrf = csrf_of(page.content())  # the viewer's own, valid token: only the role refuses
    before = len(_activities(sw))
    answer = page.request.post(page.url + "/e/main/do/redeploy", form={"csrf": csrf})
    assert answer.status == 403
    assert "viewer" in answer.text()
    answer = page.request.post(page.url + "/e/main/branch", form={"csrf": csrf, "name": "sneaky"})
    assert answer.status == 403
    page.goto(page.url + "/e/main")
    assert page.locator("button[data-action=rollback]").count() == 0
    assert len(_activities(sw)) == before
    page.context.close()


def test_w2_a_push_from_a_laptop_appears_in_the_feed_and_streams(console: Any) -> None:
    """The feed refreshes itself (htmx polling); the new push's page streams its log."""
    sw, _, repo, browser = console
    page = sign_in(browser, sw, ADMIN)
    page.goto(page.url + "p/shop")
    expect(page.locator("#tree li[data-env=feature-x].depth-1")).to_have_count(1)  # main's child
    # main has several releases now: the tree offers a rollback (with a with-data option).
    assert page.locator("#tree li[data-env=main] button[data-action=rollback]").count() == 1
    shot(page, "tree")
    before = page.locator("#feed li").count()
    (repo / "laptop.txt").write_text("from a laptop\n")
    commit(repo, "from a laptop")
    pusher = threading.Thread(target=push, args=(repo, "shipway"))
    pusher.start()
    try:
        expect(page.locator("#feed li")).to_have_count(before + 1, timeout=30_000)
        page.locator("#feed li a").first.click()
        page.wait_for_url(re.compile(r".*/console/p/shop/a/\w+$"))
        expect(page.locator("#state")).to_contain_text("complete", timeout=120_000)
        expect(page.locator("#log")).to_contain_text("post_deploy end")
    finally:
        pusher.join()
    page.context.close()


def test_w2_logs_page_follows_the_deploy_log(console: Any) -> None:
    sw, _, _, browser = console
    page = sign_in(browser, sw, ADMIN)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "part=1" in r.url else None)
    page.goto(page.url + "p/shop/e/main/logs/deploy?follow=1")
    expect(page.locator("#logtext")).to_contain_text("deploy hook ran", timeout=10_000)
    page.wait_for_timeout(3000)
    # htmx re-fetches the followed log every second and swaps it in place.
    assert len(polls) >= 2
    expect(page.locator("#logtext")).to_contain_text("deploy hook ran")
    page.goto(page.url.split("?")[0])  # without follow: no polling, readable without JS
    assert page.locator("#logtext[hx-get]").count() == 0
    page.context.close()


def test_w3_pages_read_without_javascript(console: Any) -> None:
    """W3: with JavaScript off the tree, an activity's log and a redeploy still work."""
    sw, _, _, browser = console
    context = browser.new_context(ignore_https_errors=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(login_url(sw, ADMIN))
    page.click("#sign-in")
    page.goto(page.url + "p/shop")
    row = page.locator("#tree li[data-env=main]")
    assert "production" in row.inner_text()
    assert row.locator("a.url").count() == 1  # the environment's URL
    row.locator("button[data-action=redeploy]").click()
    page.wait_for_url(re.compile(r".*/console/p/shop/a/\w+$"))
    assert page.locator("#log").count() == 1
    context.close()


def test_w2_admin_pages_users_and_a_token_shown_once(console: Any) -> None:
    sw, _, _, browser = console
    page = sign_in(browser, sw, ADMIN)
    page.goto(page.url + "p/shop/users")
    assert VIEWER in page.inner_text("#users")
    page.fill("#add-user input[name=email]", "new@example.com")
    page.fill("#add-user input[name=roles]", "viewer development:contributor")
    page.click("button[data-action=add-user]")
    expect(page.locator("#users")).to_contain_text("new@example.com")
    page.goto(page.url.split("/console/")[0] + "/console/me")
    page.fill("input[name=name]", "from-console")
    page.locator("form[action='/console/me/tokens'] button").click()
    assert page.locator("#new-token").count() == 1, page.inner_text("main")
    token = page.inner_text("#new-token")
    assert token.startswith("shipway_")
    page.goto(page.url.split("/console/")[0] + "/console/me")
    assert "from-console" in page.content() and token not in page.content()
    listed = sw.cli("api-token:list", "--format", "json").stdout
    assert "from-console" in listed
    page.context.close()
