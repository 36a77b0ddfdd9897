"""The console's pure shaping (W2) and its `next=` check (W1): table-driven."""

from __future__ import annotations

import pytest

from shipway.console.views import buttons, safe_next, timeline, tree


def _env(name: str, parent: str | None = None, status: str = "active") -> dict:
    return {"name": name, "parent": parent, "status": status, "type": "development"}


def test_w2_tree_puts_parents_before_children_with_depth() -> None:
    envs = [_env("b", "main"), _env("main"), _env("a", "main"), _env("a1", "a"), _env("orphan", "gone")]
    rows = tree(envs, [])
    assert [(r.env["name"], r.depth) for r in rows] == [
        ("main", 0), ("a", 1), ("a1", 2), ("b", 1), ("orphan", 0)]


def test_w2_tree_shows_each_environments_newest_activity() -> None:
    activities = [{"id": "2", "environment": "main"}, {"id": "1", "environment": "main"}]
    rows = tree([_env("main"), _env("a", "main")], activities)
    assert rows[0].last_activity == {"id": "2", "environment": "main"}
    assert rows[1].last_activity is None


def test_w5_tree_of_100_environments_is_linear() -> None:
    envs = [_env("main")] + [_env(f"e{i:03}", "main") for i in range(99)]
    rows = tree(envs, [])
    assert len(rows) == 100 and rows[0].env["name"] == "main"


def test_w2_timeline_bars_are_relative_to_the_longest_phase() -> None:
    bars = timeline({"timeline": [{"phase": "Hold", "seconds": 0.5}, {"phase": "Serve", "seconds": 2}]})
    assert [(b.phase, b.percent) for b in bars] == [("Hold", 25.0), ("Serve", 100.0)]
    assert timeline({}) == [] and timeline({"timeline": [{"phase": "x", "seconds": 0}]})[0].percent == 0


@pytest.mark.parametrize("value,expected", [
    (None, "/console/"), ("", "/console/"), ("/console/p/shop", "/console/p/shop"),
    ("/console/p/shop?environment=main", "/console/p/shop?environment=main"),
    ("https://evil.example/", "/console/"), ("//evil.example", "/console/"),
    ("/\\evil.example", "/console/"), ("/console/\\..\\x", "/console/"),
    ("/console//evil.example", "/console/"), ("/other", "/console/"),
    ("javascript:alert(1)", "/console/"), ("/console/\r\nSet-Cookie: a=b", "/console/"),
    ("/console/ x", "/console/"), ("/console/javascript:x", "/console/"),
])
def test_w1_next_stays_inside_the_console(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


@pytest.mark.parametrize("env,allowed,expected", [
    (_env("main"), {"redeploy", "deactivate", "activate"}, ["deactivate", "redeploy"]),
    (_env("a", "main"), {"merge", "sync", "redeploy"}, ["merge", "synchronize", "redeploy"]),
    (_env("a", "main", "inactive"), {"activate", "merge", "sync", "redeploy", "deactivate"},
     ["activate"]),
    (_env("a", "main"), set(), []),  # a viewer: no buttons at all
])
def test_w1_buttons_follow_the_role_and_the_state(env: dict, allowed: set, expected: list) -> None:
    assert buttons(env, allowed) == expected
