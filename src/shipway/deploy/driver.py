"""Runs the deploy flow's actions against this host, and times each phase."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from shipway.deploy.flow import (
    Action,
    Advance,
    AwaitStart,
    DeployOutcome,
    DeployPlanInput,
    ExposeServices,
    Failed,
    Hold,
    MountFileSystems,
    RunHook,
    Serve,
    ServePrevious,
    StartPrevious,
    StartProcesses,
    StopProcesses,
    deploy_flow,
)
from shipway.deploy.instances import (
    Instance,
    Launch,
    check_mounts,
    mount_binds,
    prepare_dirs,
    run_hook,
    start_process,
    stop_all,
)
from shipway.errors import ShipwayError

Log = Callable[[str], None]


@dataclass(frozen=True)
class Previous:
    """The release that served before this deploy: what to start if the new one cannot."""

    launches: dict[str, Launch] = field(default_factory=dict)
    workers: list[Launch] = field(default_factory=list)

PHASE_TITLES = {
    Hold: "Holding requests",
    StopProcesses: "Stopping the previous release",
    MountFileSystems: "Mounting file systems",
    ExposeServices: "Exposing services",
    StartProcesses: "Starting processes",
    AwaitStart: "Waiting for the new processes to listen",
    StartPrevious: "The new release did not start: starting the previous release again",
    ServePrevious: "Serving requests with the previous release",
    RunHook: "Running hook",
    Serve: "Serving requests",
}


class Driver:
    def __init__(
        self,
        launches: dict[str, Launch],
        workers: list[Launch],
        previous: list[Instance],
        log: Log,
        *,
        hold: Callable[[Instance], None],
        serve: Callable[[Launch, Log], None],
        holding: Callable[[], AbstractContextManager[None]],
        expose: Callable[[], list[str]],
        before_mount: Callable[[], None] = lambda: None,
        before_hooks: Callable[[], None] = lambda: None,
        await_start: Callable[[Launch], str | None] = lambda _: None,
        advance: Callable[[str], None] = lambda _: None,
        restore: Previous | None = None,
    ) -> None:
        self.launches = launches
        self.workers = workers
        self.previous = previous
        self.log = log
        self._hold, self._serve, self._holding, self._expose = hold, serve, holding, expose
        self._before_mount, self._before_hooks = before_mount, before_hooks
        self._await_start, self._advance = await_start, advance
        self.restore = restore or Previous()
        self.timeline: list[tuple[str, float]] = []
        self.held_seconds = 0.0

    def run(self, plan: DeployPlanInput, on_serve: Callable[[], object]) -> DeployOutcome:
        for launch in [*self.launches.values(), *self.workers]:
            check_mounts(launch)  # S1: before the previous release is stopped
        flow = deploy_flow(plan)
        hold_ctx = self._holding()
        held_at = None
        result: object = None
        try:
            while True:
                action = flow.send(result)
                if isinstance(action, Hold):
                    hold_ctx.__enter__()
                    held_at = time.monotonic()
                result = self._advance(action.event) if isinstance(action, Advance) \
                    else self._step(action)
                if isinstance(action, Serve | ServePrevious):
                    if isinstance(action, Serve):
                        on_serve()
                    self.held_seconds = time.monotonic() - (held_at or time.monotonic())
                    hold_ctx.__exit__(None, None, None)
                    held_at = None
                    self.log(f"  Requests were held for {self.held_seconds:.3f} s")
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            if held_at is not None:
                hold_ctx.__exit__(None, None, None)

    def _step(self, action: Action) -> object:
        """Run `action`; a failure to bring the new release up is the flow's to handle."""
        if not isinstance(action, MountFileSystems | ExposeServices | StartProcesses):
            return self._timed(action)
        try:
            return self._timed(action)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the previous release comes back
            why = str(exc) if isinstance(exc, ShipwayError) else f"{type(exc).__name__}: {exc}"
            self.log(f"E: {PHASE_TITLES[type(action)].lower()} failed: {why}")
            return Failed(why)

    def _timed(self, action: Action) -> object:
        title = PHASE_TITLES[type(action)]
        name = f"{title} ({action.app}: {action.hook})" if isinstance(action, RunHook) else title
        self.log(f"{_stamp()} {name}")
        started = time.monotonic()
        result = self._do(action)
        phase = f"{action.hook} hook" if isinstance(action, RunHook) else type(action).__name__
        self.timeline.append((phase, time.monotonic() - started))
        return result

    def _do(self, action: Action) -> object:  # noqa: C901 - one branch per action kind
        if isinstance(action, Hold):
            for inst in {*self.previous, *(lx.instance for lx in self.launches.values())}:
                self._hold(inst)
        elif isinstance(action, StopProcesses):
            for inst in {*self.previous, *(lx.instance for lx in self.launches.values())}:
                stop_all(inst)
        elif isinstance(action, MountFileSystems):
            self._before_mount()
            for launch in [*self.launches.values(), *self.workers]:
                prepare_dirs(launch)
                for bind in mount_binds(launch):
                    self.log(f"    {launch.app.name} {launch.process}: {bind.dest}")
        elif isinstance(action, ExposeServices):
            for line in self._expose() or ["no services"]:
                self.log(f"    {line}")
        elif isinstance(action, StartProcesses):
            for launch in [*self.launches.values(), *self.workers]:
                start_process(launch)
            self._before_hooks()
        elif isinstance(action, AwaitStart):
            return tuple(why for launch in self.launches.values()
                         if (why := self._await_start(launch)) is not None)
        elif isinstance(action, StartPrevious):
            for launch in [*self.restore.launches.values(), *self.restore.workers]:
                prepare_dirs(launch)
                start_process(launch)
        elif isinstance(action, ServePrevious):
            for launch in self.restore.launches.values():
                self._serve(launch, self.log)
        elif isinstance(action, RunHook):
            code = run_hook(self.launches[action.app], action.hook, self.log)
            if code != 0:
                self.log(f"W: the {action.hook} hook of '{action.app}' failed with status {code}")
            return code
        elif isinstance(action, Serve):
            for launch in self.launches.values():
                self._serve(launch, self.log)
        return None


def _stamp() -> str:
    return time.strftime("[%H:%M:%S]", time.gmtime())
