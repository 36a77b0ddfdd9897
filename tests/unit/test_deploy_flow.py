"""The deploy flow's order and failure rules (D1, D6–D8, S6), driven with recorded outcomes."""

from __future__ import annotations

import pytest

from shipway.deploy.flow import (
    Advance,
    AwaitStart,
    DeployOutcome,
    DeployPlanInput,
    Failed,
    RunHook,
    deploy_flow,
)
from shipway.deploy.states import TRANSITIONS, next_state


def _drive(plan: DeployPlanInput, failing: frozenset[tuple[str, str]] = frozenset(),
           start_failures: tuple[str, ...] = (), raising: str = "") -> tuple[list[str], DeployOutcome]:
    flow = deploy_flow(plan)
    steps: list[str] = []
    outcome: object = None
    try:
        while True:
            action = flow.send(outcome)
            outcome = None
            if isinstance(action, RunHook):
                steps.append(f"{action.hook}:{action.app}")
                outcome = 1 if (action.app, action.hook) in failing else 0
            elif isinstance(action, Advance):
                steps.append(f"Advance:{action.event}")
            else:
                steps.append(type(action).__name__)
                if isinstance(action, AwaitStart):
                    outcome = start_failures
                if type(action).__name__ == raising:
                    outcome = Failed(f"{raising} broke")
    except StopIteration as done:
        return steps, done.value


PLAN = DeployPlanInput(apps=("api", "web"), deploy_hooks=frozenset({"web"}),
                       post_deploy_hooks=frozenset({"api"}), rerun_deploy_hook=True,
                       post_start=frozenset({"api"}), has_previous=True)


def _without_progress(steps: list[str]) -> list[str]:
    return [s for s in steps if not s.startswith("Advance:")]


def test_post_start_runs_after_the_start_and_before_the_deploy_hook() -> None:
    steps, outcome = _drive(PLAN)
    assert _without_progress(steps) == [
        "Hold", "StopProcesses", "MountFileSystems", "ExposeServices", "StartProcesses",
        "AwaitStart", "post_start:api", "deploy:web", "Serve", "post_deploy:api"]
    assert outcome.ok


def test_a_failing_post_start_is_reported_and_the_deploy_goes_on() -> None:
    steps, outcome = _drive(PLAN, failing=frozenset({("api", "post_start")}))
    assert "Serve" in steps and _without_progress(steps)[-1] == "post_deploy:api"
    assert outcome.failed_hooks == ("api: post_start",)


def test_a_redeploy_of_the_same_commit_skips_the_deploy_hook_only() -> None:
    steps, _ = _drive(DeployPlanInput(**{**PLAN.__dict__, "rerun_deploy_hook": False}))
    assert "deploy:web" not in steps and "post_start:api" in steps


# S6: new processes that do not start. (has_previous, expected steps after AwaitStart, restored)
START_FAILS = [
    (True, ["Advance:start_failed", "StopProcesses", "StartPrevious", "ServePrevious",
            "Advance:restored"], True),
    (False, ["Advance:start_failed", "StopProcesses", "Advance:restored"], False),
]


@pytest.mark.parametrize(("has_previous", "after", "restored"), START_FAILS)
def test_a_release_that_does_not_start_gives_way_to_the_previous_one(
        has_previous: bool, after: list[str], restored: bool) -> None:
    plan = DeployPlanInput(**{**PLAN.__dict__, "has_previous": has_previous})
    steps, outcome = _drive(plan, start_failures=("web: exited at start",))
    assert steps[steps.index("AwaitStart") + 1:] == after
    assert not any(s.startswith(("deploy:", "post_start:", "post_deploy:")) for s in steps)
    assert "Serve" not in steps
    assert outcome.start_failures == ("web: exited at start",)
    assert outcome.restored is restored and not outcome.ok


@pytest.mark.parametrize("failures", [(), ("web: exited at start",)])
def test_every_progress_event_is_legal_in_the_order_the_flow_fires_them(
        failures: tuple[str, ...]) -> None:
    steps, _ = _drive(PLAN, start_failures=failures)
    state = "holding"
    for step in steps:
        if step.startswith("Advance:"):
            state = next_state(state, step.removeprefix("Advance:"))
    assert state == ("failed" if failures else "done")


def test_progress_is_recorded_before_the_previous_release_is_stopped() -> None:
    steps, _ = _drive(PLAN)
    assert steps.index("Advance:replace") < steps.index("StopProcesses")
    assert steps.index("Advance:started") < steps.index("post_start:api")
    assert steps.index("Serve") < steps.index("Advance:serve") < steps.index("post_deploy:api")


def test_the_transition_table_is_closed() -> None:
    for events in TRANSITIONS.values():
        assert set(events.values()) <= set(TRANSITIONS)


@pytest.mark.parametrize("step", ["MountFileSystems", "ExposeServices", "StartProcesses"])
def test_a_step_that_raises_while_the_new_release_comes_up_brings_the_previous_back(
        step: str) -> None:
    steps, outcome = _drive(PLAN, raising=step)
    assert steps[steps.index(step) + 1:] == START_FAILS[0][1]
    assert outcome.start_failures == (f"{step} broke",) and outcome.restored
