"""Where the backup schedules live: one small JSON file the control plane owns
(`<SHIPWAY_HOME>/backup/schedules.json`), rewritten atomically; and the ticker thread
that asks the use case to run what is due (BK4)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shipway.backups.schedule import Policy


class Schedules:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def all(self) -> dict[str, dict[str, Any]]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def get(self, project: str, environment: str) -> dict[str, Any] | None:
        return self.all().get(f"{project}/{environment}")

    def put(self, project: str, environment: str, policy: Policy | None) -> None:
        with self._lock:
            found = self.all()
            key = f"{project}/{environment}"
            if policy is None:
                found.pop(key, None)
            else:
                found[key] = {**found.get(key, {}), **policy.as_json()}
            self._write(found)

    def ran(self, project: str, environment: str, at: float) -> None:
        with self._lock:
            found = self.all()
            if f"{project}/{environment}" in found:
                found[f"{project}/{environment}"]["last_run"] = at
                self._write(found)

    def _write(self, found: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(found, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)


def policy_of(entry: dict[str, Any]) -> Policy:
    return Policy(entry["every_seconds"], entry["keep_daily"], entry["keep_weekly"])


def start_ticker(tick: Callable[[], None], seconds: float) -> threading.Event:
    """Call `tick` every `seconds` in a daemon thread; set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                tick()
            except Exception as exc:  # a failing tick must not end the schedule
                print(f"shipway: backup schedule: {exc}", flush=True)

    threading.Thread(target=loop, daemon=True, name="backup-schedules").start()
    return stop
