"""Each deploy's state on disk (S6), so a restarted control plane knows what it left.

One row per deploy, keyed by its activity; the state moves only through
deploy/states.py's table, each move its own transaction, so a `kill -9`
leaves the last step that was taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shipway.deploy.states import FINAL, next_state
from shipway.errors import NotFound
from shipway.state.store import Store, dumps, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS deploys (
    activity TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    environment TEXT NOT NULL,
    state TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    builds TEXT NOT NULL,
    config TEXT NOT NULL,
    trigger TEXT NOT NULL,
    previous INTEGER,
    sets_head INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class DeployRecord:
    activity: str
    project: str
    environment: str
    state: str
    commit: str
    builds: dict[str, str]
    config: dict[str, Any]  # the release's config part, recorded if the deploy is finished
    trigger: str
    previous: int | None  # the release that served before, if any
    sets_head: bool  # a push: the branch moves to `commit` once it is deployed


class Deploys:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.execute(SCHEMA)

    def begin(self, activity: str, project: str, environment: str, commit: str,
              builds: dict[str, str], config: dict[str, Any], trigger: str,
              previous: int | None, sets_head: bool) -> None:
        self._store.execute(
            "INSERT INTO deploys VALUES (?, ?, ?, 'holding', ?, ?, ?, ?, ?, ?, ?)",
            activity, project, environment, commit, dumps(builds), dumps(config), trigger,
            previous, int(sets_head), now(),
        )

    def fire(self, activity: str, event: str) -> str:
        """Apply `event`; an illegal one raises and changes nothing."""
        with self._store.transaction() as db:
            row = db.execute("SELECT state FROM deploys WHERE activity = ?", (activity,)).fetchone()
            if row is None:
                raise NotFound(f"no deploy for activity {activity!r}")
            state = next_state(row["state"], event)
            db.execute("UPDATE deploys SET state = ? WHERE activity = ?", (state, activity))
        return state

    def state(self, activity: str) -> str | None:
        """The deploy's state; None if it never began."""
        row = self._store.one("SELECT state FROM deploys WHERE activity = ?", activity)
        return row["state"] if row else None

    def get(self, activity: str) -> DeployRecord:
        row = self._store.one("SELECT * FROM deploys WHERE activity = ?", activity)
        if row is None:
            raise NotFound(f"no deploy for activity {activity!r}")
        return _record(row)

    def unfinished(self) -> list[DeployRecord]:
        rows = self._store.all("SELECT * FROM deploys ORDER BY created_at")
        return [_record(r) for r in rows if r["state"] not in FINAL]


def _record(row: dict[str, Any]) -> DeployRecord:
    return DeployRecord(
        activity=row["activity"], project=row["project"], environment=row["environment"],
        state=row["state"], commit=row["commit_sha"], builds=json.loads(row["builds"]),
        config=json.loads(row["config"]), trigger=row["trigger"], previous=row["previous"],
        sets_head=bool(row["sets_head"]),
    )
