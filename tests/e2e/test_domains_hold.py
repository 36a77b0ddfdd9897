"""Must-hold 2 of issue 11 (T3) on a real platform: while environment A's
deploy holds requests through a 5 s deploy hook, another project's
environment B is activated and a domain is added. Every request held on A
is answered 200 by A's new release; B and the domain answer afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from .conftest import STDLIB, Shipway, commit, git, make_repo, push, wait_for
from .test_hold_deploy import METHODS, Traffic, _make_app

pytestmark = pytest.mark.e2e

HOOK_SLEEP = 5


def test_platform_changes_during_a_hold_fail_no_held_request_t3(shipway: Shipway,
                                                               tmp_path: Path) -> None:
    remote_a = shipway.create_project("holda")
    repo_a = _make_app(tmp_path / "a", "unix")
    config = repo_a / ".platform.app.yaml"
    config.write_text(config.read_text().replace("deploy: sleep 2.0", f"deploy: sleep {HOOK_SLEEP}"))
    commit(repo_a, "a 5 s deploy hook")
    assert push(repo_a, remote_a).returncode == 0
    remote_b = shipway.create_project("holdb")
    repo_b = make_repo(tmp_path / "b", STDLIB)
    assert push(repo_b, remote_b).returncode == 0
    git(repo_b, "checkout", "-q", "-b", "feature")
    assert git(repo_b, "push", remote_b, "feature", check=False).returncode == 0  # inactive

    (repo_a / "release.txt").write_text("v2\n")
    commit(repo_a, "v2")
    holds = shipway.home / "holds"
    with Traffic(shipway.url("holda")) as traffic:
        traffic.wait_answered(sent_after=0.0)
        pushing = threading.Thread(target=push, args=(repo_a, remote_a))
        pushing.start()
        wait_for(lambda: any(holds.iterdir()) if holds.exists() else False, 120, "A's hold")
        held_from = time.monotonic()
        shipway.cli("environment:activate", "feature", "-p", "holdb")
        shipway.cli("domain:add", "-p", "holdb", "www.holdb.test")
        pushing.join()
        traffic.wait_answered(sent_after=time.monotonic())
    first_v2 = min(s.answered for s in traffic.seen if s.release == "v2")
    window = [s for s in traffic.seen if held_from - 0.5 <= s.sent < first_v2]
    assert [s for s in window if s.status != 200] == []
    held = [s for s in window if s.seconds >= 1.0]  # the old release was stopped: held
    assert len(held) >= len(METHODS), "requests were held on A while the changes were made"
    assert {(s.status, s.release) for s in held} == {(200, "v2")}, held[:5]
    # What is left of the reload (NOT yet T3): the one deferred config load
    # after the hold closes Caddy's idle keep-alive connections, and a request
    # sent on one at that instant fails (at most one per client connection,
    # all at one moment; bench/router_static.py measures it).
    cut = [s for s in traffic.seen if s.status != 200 and s.sent >= first_v2]
    assert len(cut) <= len(METHODS), cut
    assert not cut or max(s.sent for s in cut) - min(s.sent for s in cut) < 1.0, cut
    assert not [s for s in traffic.seen if s.status != 200 and s.sent < held_from - 0.5]
    assert shipway.fetch(shipway.url("holdb", "feature"))[0] == 200
    port = shipway.env["SHIPWAY_HTTPS_PORT"]
    code, body = shipway.fetch(f"https://www.holdb.test:{port}/")
    assert code == 200 and body.startswith("stdlib v1")
