"""The deploy flow's order and failure rules (D1, D6–D8), driven with recorded outcomes."""

from __future__ import annotations

from shipway.deploy.flow import (
    DeployOutcome,
    DeployPlanInput,
    RunHook,
    Serve,
    StartProcesses,
    deploy_flow,
)


def _drive(plan: DeployPlanInput, failing: frozenset[tuple[str, str]] = frozenset()
           ) -> tuple[list[str], DeployOutcome]:
    flow = deploy_flow(plan)
    steps: list[str] = []
    outcome: object = None
    try:
        while True:
            action = flow.send(outcome)
            if isinstance(action, RunHook):
                steps.append(f"{action.hook}:{action.app}")
                outcome = 1 if (action.app, action.hook) in failing else 0
            else:
                steps.append(type(action).__name__)
                outcome = None
    except StopIteration as done:
        return steps, done.value


PLAN = DeployPlanInput(apps=("api", "web"), deploy_hooks=frozenset({"web"}),
                       post_deploy_hooks=frozenset({"api"}), rerun_deploy_hook=True,
                       post_start=frozenset({"api"}))


def test_post_start_runs_after_the_start_and_before_the_deploy_hook() -> None:
    steps, outcome = _drive(PLAN)
    assert steps == ["Hold", "StopProcesses", "MountFileSystems", "ExposeServices",
                     StartProcesses.__name__, "post_start:api", "deploy:web", Serve.__name__,
                     "post_deploy:api"]
    assert outcome.ok


def test_a_failing_post_start_is_reported_and_the_deploy_goes_on() -> None:
    steps, outcome = _drive(PLAN, failing=frozenset({("api", "post_start")}))
    assert "Serve" in steps and steps[-1] == "post_deploy:api"
    assert outcome.failed_hooks == ("api: post_start",)


def test_a_redeploy_of_the_same_commit_skips_the_deploy_hook_only() -> None:
    steps, _ = _drive(DeployPlanInput(**{**PLAN.__dict__, "rerun_deploy_hook": False}))
    assert "deploy:web" not in steps and "post_start:api" in steps
