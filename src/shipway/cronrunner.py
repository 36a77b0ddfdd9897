"""Running crons (D10): on the web instance, with dash, one at a time per app.

Theory of operation: a thread wakes every few seconds and, for each deployed
environment that is not deploying, starts the crons that fell due since its
last look, each as an activity of its own. A deploy asks `drain(env)` first:
it waits for running crons up to a limit, then cancels them (SIGTERM to the
whole process group, SIGKILL after a grace), and the cron's activity says
so — Platform.sh deploys get stuck behind crons; ours do not.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shipway.deploy.crons import due
from shipway.deploy.instances import run_script
from shipway.errors import Cancelled, ShipwayError

if TYPE_CHECKING:
    from shipway.environments.registry import Environment
    from shipway.platform import Platform

TICK_SECONDS = 5.0


@dataclass
class _Running:
    activity: str
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    why: str = ""  # set with `cancel`: said in the cron's log


class CronRunner:
    def __init__(self, platform: Platform, deploy_wait: float) -> None:
        self._platform = platform
        self._deploy_wait = deploy_wait
        self._running: dict[tuple[str, str, str], _Running] = {}  # (project, env, app)
        self._lock = threading.Lock()
        self._last = datetime.now(UTC)
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="crons").start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            now = datetime.now(UTC)
            try:
                self.tick(self._last, now)
            except Exception as exc:  # a broken environment must not stop every cron
                print(f"shipway: cron scheduler: {exc}", flush=True)
            self._last = now

    def tick(self, since: datetime, now: datetime) -> None:
        for env in self._platform.registry.environments():
            if env.status != "active" or not env.current_release:
                continue
            if self._platform.env_busy(env):
                continue  # deploying: the cron waits for the next tick
            for app, name, cron in self._platform.crons_of(env):
                if due(cron.spec, since, now, app.raw.get("timezone")):
                    self._launch(env, app.name, name, cron.start)

    def _launch(self, env: Environment, app: str, name: str, command: str) -> None:
        key = (env.project, env.name, app)
        with self._lock:
            if key in self._running:
                return  # one at a time per app
            activity = self._platform.activities.create(
                env.project, env.name, "environment.cron", f"cron {name} of {app}")
            running = self._running[key] = _Running(activity.id)
        threading.Thread(target=self._run, args=(env, app, command, running, key),
                         daemon=True, name=f"cron-{activity.id}").start()

    def _run(self, env: Environment, app: str, command: str, running: _Running,
             key: tuple[str, str, str]) -> None:
        activities = self._platform.activities
        log = self._platform.activity_log(running.activity, env)
        activities.fire(running.activity, "start")
        result = "failure"
        try:
            launch = self._platform.web_launch(env, app)
            code = run_script(launch, command, log, launch.instance.log("cron.log"), running.cancel)
            result = "success" if code == 0 else "failure"
            log(f"cron exited with status {code}")
        except Cancelled:
            log(f"E: stopped: {running.why}")
            result = "cancelled"
        except ShipwayError as exc:
            log(f"E: {exc}")
        finally:
            activities.fire(running.activity, "finish", result)
            with self._lock:
                self._running.pop(key, None)
            running.done.set()

    def cancel(self, env: Environment) -> None:
        """The environment stops (deactivate): its running crons end now, not after a wait."""
        with self._lock:
            mine = [r for (p, e, _), r in self._running.items() if (p, e) == (env.project, env.name)]
        for running in mine:
            running.why = "its environment was deactivated"
            running.cancel.set()
        for running in mine:
            running.done.wait(10)

    def drain(self, env: Environment, log: Callable[[str], None]) -> None:
        """Before a deploy: let running crons finish within the limit, then stop them."""
        with self._lock:
            mine = [r for (p, e, _), r in self._running.items() if (p, e) == (env.project, env.name)]
        if not mine:
            return
        log(f"Waiting up to {self._deploy_wait:.0f} s for {len(mine)} running cron(s)")
        deadline = time.monotonic() + self._deploy_wait
        for running in mine:
            if not running.done.wait(max(0.0, deadline - time.monotonic())):
                log(f"W: stopping cron activity {running.activity}: it ran past the wait limit")
                running.why = ("a deploy of this environment needed it to end "
                               f"(waited {self._deploy_wait:.0f} s)")
                running.cancel.set()
                running.done.wait(10)
