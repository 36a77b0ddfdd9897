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
class RunHook:
    app: str
    hook: str  # "post_start" | "deploy" | "post_deploy"


@dataclass(frozen=True)
class Serve:
    apps: tuple[str, ...]


Action = Hold | StopProcesses | MountFileSystems | ExposeServices | StartProcesses | RunHook | Serve


@dataclass(frozen=True)
class DeployPlanInput:
    apps: tuple[str, ...]
    deploy_hooks: frozenset[str]  # apps that have a deploy hook
    post_deploy_hooks: frozenset[str]
    rerun_deploy_hook: bool  # False for a redeploy of the same commit (D8)
    post_start: frozenset[str] = frozenset()  # apps with web.commands.post_start


@dataclass(frozen=True)
class DeployOutcome:
    failed_hooks: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failed_hooks


def deploy_flow(plan: DeployPlanInput) -> Generator[Action, object, DeployOutcome]:
    apps = plan.apps
    failed: list[str] = []
    yield Hold(apps)
    yield StopProcesses(apps)
    yield MountFileSystems(apps)
    yield ExposeServices(apps)
    yield StartProcesses(apps)
    for app in apps:
        if app in plan.post_start and (yield RunHook(app, "post_start")) != 0:
            failed.append(f"{app}: post_start")
    if plan.rerun_deploy_hook:
        for app in apps:
            if app in plan.deploy_hooks and (yield RunHook(app, "deploy")) != 0:
                failed.append(f"{app}: deploy hook")
    yield Serve(apps)
    for app in apps:
        if app in plan.post_deploy_hooks and (yield RunHook(app, "post_deploy")) != 0:
            failed.append(f"{app}: post_deploy hook")
    return DeployOutcome(tuple(failed))
