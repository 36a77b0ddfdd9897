"""The deploy flow (D1, D6, D7, D8), as a generator of actions. Pure.

Theory of operation: `deploy_flow` yields one action at a time and receives
its outcome back (`outcome = yield action`), so each decision is taken on
fresh facts, and tests can drive the same flow with a fake driver. The order
is Platform.sh's: hold requests, stop the previous release, mount file
systems, expose services, start the new processes, run post_start (Upsun's
web.commands.post_start: a readiness check), run the deploy hook,
serve (release the held requests), then run post_deploy while traffic flows.
A failing deploy or post_deploy hook marks the deploy failed but never stops
it: only the build can refuse a release.

New processes that do not start (S6) are the one failure that stops a
deploy (their mounts, services or start raised, or they never listen):
before any hook runs, they are stopped and the previous release is
started and served again, so the held requests are answered by it. Each
step that changes which release may run is recorded first (`Advance`, an
event of deploy/states.py), so a restarted control plane knows what to do.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass


@dataclass(frozen=True)
class Hold:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class StopProcesses:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class MountFileSystems:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class ExposeServices:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class StartProcesses:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class AwaitStart:
    """Outcome: the reasons apps did not start (empty: all listen)."""

    apps: tuple[str, ...]


@dataclass(frozen=True)
class StartPrevious:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class ServePrevious:
    apps: tuple[str, ...]


@dataclass(frozen=True)
class Failed:
    """The outcome of a step that raised (mounting, exposing, starting): why."""

    reason: str


@dataclass(frozen=True)
class Advance:
    """Record the deploy's progress durably (an event of deploy/states.py)."""

    event: str


@dataclass(frozen=True)
class RunHook:
    app: str
    hook: str  # "post_start" | "deploy" | "post_deploy"


@dataclass(frozen=True)
class Serve:
    apps: tuple[str, ...]


Action = (Hold | StopProcesses | MountFileSystems | ExposeServices | StartProcesses | AwaitStart
          | StartPrevious | ServePrevious | Advance | RunHook | Serve)


@dataclass(frozen=True)
class DeployPlanInput:
    apps: tuple[str, ...]
    deploy_hooks: frozenset[str]  # apps that have a deploy hook
    post_deploy_hooks: frozenset[str]
    rerun_deploy_hook: bool  # False for a redeploy of the same commit (D8)
    post_start: frozenset[str] = frozenset()  # apps with web.commands.post_start
    has_previous: bool = False  # a release served before this deploy


@dataclass(frozen=True)
class DeployOutcome:
    failed_hooks: tuple[str, ...]
    start_failures: tuple[str, ...] = ()  # non-empty: the new release did not start
    restored: bool = False  # ... and the previous release serves again

    @property
    def ok(self) -> bool:
        return not self.failed_hooks and not self.start_failures


def deploy_flow(plan: DeployPlanInput) -> Generator[Action, object, DeployOutcome]:
    apps = plan.apps
    yield Hold(apps)
    yield Advance("replace")
    yield StopProcesses(apps)
    for step in (MountFileSystems(apps), ExposeServices(apps), StartProcesses(apps)):
        result = yield step
        if isinstance(result, Failed):
            return (yield from _bring_back(plan, (result.reason,)))
    failures = yield AwaitStart(apps)
    if failures:
        return (yield from _bring_back(plan, tuple(failures)))  # type: ignore[arg-type]
    yield Advance("started")
    failed: list[str] = []
    for app in apps:
        if app in plan.post_start and (yield RunHook(app, "post_start")) != 0:
            failed.append(f"{app}: post_start")
    if plan.rerun_deploy_hook:
        for app in apps:
            if app in plan.deploy_hooks and (yield RunHook(app, "deploy")) != 0:
                failed.append(f"{app}: deploy hook")
    yield Serve(apps)
    yield Advance("serve")
    for app in apps:
        if app in plan.post_deploy_hooks and (yield RunHook(app, "post_deploy")) != 0:
            failed.append(f"{app}: post_deploy hook")
    yield Advance("finish")
    return DeployOutcome(tuple(failed))


def _bring_back(plan: DeployPlanInput, failures: tuple[str, ...]
                ) -> Generator[Action, object, DeployOutcome]:
    """The new release did not start: no hook of it runs, the previous one serves again."""
    yield Advance("start_failed")
    yield StopProcesses(plan.apps)
    if plan.has_previous:
        yield StartPrevious(plan.apps)
        yield ServePrevious(plan.apps)
    yield Advance("restored")
    return DeployOutcome((), start_failures=failures, restored=plan.has_previous)
