"""Every console template renders from API-shaped data, escapes what it shows (W1) and
never writes a sensitive variable's value (W2). Pure: no platform, no browser."""

from __future__ import annotations

from typing import Any

import pytest

from shipway.access.model import Actor
from shipway.console.views import Bar, buttons, tree
from shipway.console.web import ENV

EVIL = "<script>alert(1)</script>"
ME = Actor("user", "ada@example.com", "u1")
ENVS = [{"name": "main", "type": "production", "status": "active", "parent": None,
         "current_release": "v2"},
        {"name": "feat", "type": "development", "status": "active", "parent": "main",
         "current_release": "v1"}]
ACTIVITY = {"id": "a1", "project": "shop", "environment": "main", "type": "environment.push",
            "state": "complete", "result": "success", "description": EVIL,
            "created_at": "2026-01-01T00:00:00+00:00", "triggered_by": "ada@example.com",
            "details": {"held_requests": 3, "longest_hold_seconds": 0.25, "held_seconds": 1.5}}
CONTEXTS: dict[str, dict[str, Any]] = {
    "projects.html": {"projects": [{"name": "shop", "id": "p1"}]},
    "project.html": {"project": "shop", "rows": tree(ENVS, [ACTIVITY]), "buttons": buttons,
                     "allowed": {"main": {"redeploy", "branch", "rollback"}, "feat": {"merge"}},
                     "activities": [ACTIVITY], "admin": True, "urls": {"main": "https://x/"}},
    "environment.html": {"project": "shop", "env": ENVS[0], "may_rollback": True,
                         "kinds": ["app"], "urls": [{"url": "https://x/", "primary": True}],
                         "releases": [{"id": "v1", "commit": "abc", "trigger": "push",
                                       "created_at": "t", "current": False}]},
    "activity.html": {"project": "shop", "activity": ACTIVITY, "lines": [EVIL],
                      "bars": [Bar("Hold", 0.5, 100.0)]},
    "logs.html": {"project": "shop", "env": "main", "kind": "app", "text": EVIL, "follow": True,
                  "kinds": ["app"]},
    "variables.html": {"project": "shop", "env": None, "envs": ENVS, "may": True,
                       "variables": [{"name": "env:SECRET", "level": "project", "is_sensitive": True},
                                     {"name": "env:PLAIN", "level": "project", "value": EVIL,
                                      "is_sensitive": False}]},
    "users.html": {"project": "shop", "admin": True,
                   "members": [{"email": "vic@example.com", "roles": "viewer"}]},
    "me.html": {"keys": [{"id": "k1", "fingerprint": "SHA256:x"}],
                "tokens": [{"id": "t1", "name": EVIL}], "new_token": None},
    "backups.html": {"project": "shop", "backups": [{"id": "b1", "environment": "main"}]},
    "error.html": {"status_code": 403, "message": EVIL},
    "login.html": {"token": "", "next": "/console/"},
}


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_w1_every_template_renders_and_escapes(name: str) -> None:
    html = ENV.get_template(name).render(csrf="tok", me=ME, request=None, **CONTEXTS[name])
    assert "<script>alert" not in html
    if EVIL in repr(CONTEXTS[name]):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 2  # only our two script files, by src


def test_w1_every_form_carries_the_csrf_token() -> None:
    for name, context in CONTEXTS.items():
        html = ENV.get_template(name).render(csrf="tok123", me=ME, request=None, **context)
        for form in html.split('<form method="post"')[1:]:
            body = form.split("</form>", 1)[0]
            if 'action="/console/login"' in body:
                continue  # the one-time code is the sign-in form's secret
            assert 'name="csrf" value="tok123"' in body, (name, body[:200])


def test_w2_a_sensitive_value_has_nowhere_to_appear() -> None:
    html = ENV.get_template("variables.html").render(csrf="t", me=ME, request=None,
                                                     **CONTEXTS["variables.html"])
    assert "sensitive (write-only)" in html
    assert 'type="password"' in html and 'name="value" value' not in html


def test_w1_a_viewer_gets_no_forms_in_the_tree() -> None:
    context = {**CONTEXTS["project.html"], "allowed": {"main": set(), "feat": set()}}
    html = ENV.get_template("project.html").render(csrf="t", me=ME, request=None, **context)
    tree_html = html.split('id="tree"', 1)[1].split("</ul>", 1)[0]
    assert "<form" not in tree_html and "<button" not in tree_html
