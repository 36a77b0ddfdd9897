"""What a restarted control plane does with a deploy it finds unfinished (S6), as a table."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipway.deploy.progress import Deploys
from shipway.deploy.states import RECOVERY, TRANSITIONS, Recovery, next_state, recovery
from shipway.errors import PlatformError
from shipway.state.store import Store

B, F, N = Recovery.BRING_BACK, Recovery.FINISH_NEW, Recovery.NOTHING

# (state at the kill, the new commit is stored in git, decision)
CASES = [
    ("holding", True, B),     # the previous release still runs: open its gate
    ("holding", False, B),
    ("replacing", True, B),   # stopped or half-started: nothing of the new release ran a hook
    ("replacing", False, B),
    ("restoring", True, B),   # it had already failed to start
    ("started", True, F),     # a hook may have migrated data: keep the new code, rerun nothing
    ("started", False, B),    # its push was refused and the code is gone: only the old can run
    ("serving", True, F),     # post_deploy was running: the new release is current
    ("serving", False, B),
    ("done", True, N),
    ("failed", True, N),
    ("failed", False, N),
]


@pytest.mark.parametrize(("state", "stored", "expected"), CASES)
def test_recovery_decision(state: str, stored: bool, expected: Recovery) -> None:
    assert recovery(state, stored) is expected


def test_every_state_has_a_recovery() -> None:
    assert set(RECOVERY) == set(TRANSITIONS)


@pytest.mark.parametrize(("state", "event", "expected"), [
    ("holding", "replace", "replacing"),
    ("replacing", "started", "started"),
    ("replacing", "start_failed", "restoring"),
    ("restoring", "restored", "failed"),
    ("started", "serve", "serving"),
    ("serving", "finish", "done"),
    ("started", "abort", "failed"),
])
def test_transitions(state: str, event: str, expected: str) -> None:
    assert next_state(state, event) == expected


@pytest.mark.parametrize(("state", "event"), [
    ("holding", "serve"), ("serving", "abort"), ("done", "finish"), ("failed", "replace"),
    ("nonsense", "replace"),
])
def test_an_illegal_event_raises(state: str, event: str) -> None:
    with pytest.raises(PlatformError):
        next_state(state, event)


def test_deploy_progress_is_stored_and_only_legal_events_move_it(tmp_path: Path) -> None:
    deploys = Deploys(Store(tmp_path / "state.db"))
    deploys.begin("a1", "p", "main", "c0ffee", {"app": "k"}, {"variables": {}}, "push",
                  previous=3, sets_head=True)
    assert deploys.fire("a1", "replace") == "replacing"
    with pytest.raises(PlatformError):
        deploys.fire("a1", "serve")  # not started yet
    again = Deploys(Store(tmp_path / "state.db"))  # as a restarted control plane sees it
    [record] = again.unfinished()
    assert (record.state, record.previous, record.sets_head, record.builds) == (
        "replacing", 3, True, {"app": "k"})
    assert again.fire("a1", "recover_back") == "failed"
    assert again.unfinished() == []
