"""A1: a push is authorised per updated ref before anything changes or builds.

The push arrives as the root-run pre-receive hook sends it: on the unix socket,
with X-Shipway-Actor naming the pushing user (the SSH gateway sets it)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from .access_helpers import activities, api_platform, heads, local, user_id
from .conftest import Shipway

pytestmark = pytest.mark.e2e
NEW = "1" * 40


@pytest.fixture(scope="module")
def sw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipway]:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests need root")
    with api_platform(tmp_path_factory.mktemp("push")) as (platform, _):
        platform.cli("user:add", "alice@example.com", "-p", "shop", "--role", "viewer",
                     "--role", "development:contributor", "--role", "production:viewer")
        platform.cli("user:add", "val@example.com", "-p", "shop", "--role", "viewer")
        yield platform


def _head(sw: Shipway, branch: str) -> str:
    line = next(x for x in heads(sw).splitlines() if x.endswith(f"refs/heads/{branch}"))
    return line.split()[0]


def _push(sw: Shipway, email: str, *updates: tuple[str, str, str]) -> tuple[int, str]:
    body = {"updates": [{"ref": r, "old": o, "new": n} for r, o, n in updates],
            "git_env": {}, "push_options": []}
    with local(sw, user_id(sw, email)) as client:
        r = client.post("/projects/shop/push", json=body)
    return r.status_code, r.text


def test_a1_contributor_push_to_production_is_refused_and_nothing_changes(sw: Shipway) -> None:
    before, acts = heads(sw), activities(sw)
    status, text = _push(sw, "alice@example.com", ("refs/heads/main", _head(sw, "main"), NEW))
    assert status == 403
    assert "alice@example.com" in text and "production:viewer" in text
    assert "production:contributor" in text
    assert heads(sw) == before and activities(sw) == acts


def test_a1_one_refused_ref_refuses_the_whole_push(sw: Shipway) -> None:
    before, acts = heads(sw), activities(sw)
    status, _ = _push(sw, "alice@example.com", ("refs/heads/feat", _head(sw, "feat"), NEW),
                      ("refs/heads/main", _head(sw, "main"), NEW))
    assert status == 403
    assert heads(sw) == before and activities(sw) == acts


@pytest.mark.parametrize(("email", "update", "needed"), [
    ("val@example.com", ("refs/heads/feat", None, NEW), "development:contributor"),
    ("val@example.com", ("refs/heads/brand-new", "0" * 40, NEW), "development:contributor"),
    ("alice@example.com", ("refs/heads/feat", None, "0" * 40), "development:admin"),
    ("alice@example.com", ("refs/tags/v1", "0" * 40, NEW), "project admin"),
])
def test_a1_push_needs_per_ref(sw: Shipway, email: str, update: tuple, needed: str) -> None:
    ref, old, new = update
    before = heads(sw)
    status, text = _push(sw, email, (ref, old or _head(sw, "feat"), new))
    assert status == 403 and needed in text, text
    assert heads(sw) == before


def test_a1_a_removed_user_cannot_act_through_the_hook(sw: Shipway) -> None:
    gone = user_id(sw, "val@example.com")
    sw.cli("user:delete", "val@example.com", "-p", "shop")
    with local(sw, gone) as client:
        r = client.get("/projects/shop/environments")
    assert r.status_code == 401


def test_a1_a_push_that_is_not_a_fast_forward_needs_admin(sw: Shipway) -> None:
    """Platform.sh: contributors push and branch, only admins force-push (rewrite history)."""
    bare = str(sw.home / "git" / "shop.git")
    head = _head(sw, "feat")
    tree = subprocess.run(["git", "-C", bare, "rev-parse", f"{head}^{{tree}}"], check=True,
                          capture_output=True, text=True).stdout.strip()
    rewritten = subprocess.run(  # the same files with no history: not a descendant of head
        ["git", "-C", bare, "-c", "user.name=x", "-c", "user.email=x@example.com",
         "commit-tree", tree, "-m", "rewritten"],
        check=True, capture_output=True, text=True).stdout.strip()
    before, acts = heads(sw), activities(sw)
    status, text = _push(sw, "alice@example.com", ("refs/heads/feat", head, rewritten))
    assert status == 403, text
    assert "development:contributor" in text and "development:admin" in text
    assert heads(sw) == before and activities(sw) == acts
