"""Activities: one unit of platform work, with a state, a result and a log.

Theory of operation: the lifecycle is the table below and nothing else
assigns `state`. An activity's log is an append-only file written line by line
as the work happens; readers (the push client, `activity:log --follow`) tail
the file until the activity's state is `complete`. The file outlives a crash of
the control plane, and an activity found `in_progress` at start-up is marked
failed with a line saying why.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipway.errors import NotFound, PlatformError
from shipway.state.store import Store, dumps, now

# state -> event -> next state
TRANSITIONS: dict[str, dict[str, str]] = {
    "pending": {"start": "in_progress", "cancel": "complete"},
    "in_progress": {"finish": "complete", "cancel": "complete", "crash": "complete"},
    "complete": {},
}
RESULT_OF_EVENT = {"cancel": "cancelled", "crash": "failure"}


@dataclass(frozen=True)
class Activity:
    id: str
    project: str
    environment: str | None
    type: str
    state: str
    result: str | None
    description: str
    created_at: float
    completed_at: float | None
    details: dict[str, Any]
    triggered_by: str | None = None  # A1: "root", a user's email, or None (crons, schedules)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "environment": self.environment,
            "type": self.type,
            "state": self.state,
            "result": self.result,
            "description": self.description,
            "created_at": _iso(self.created_at),
            "completed_at": _iso(self.completed_at) if self.completed_at else None,
            "details": self.details,
            "triggered_by": self.triggered_by,
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class Activities:
    def __init__(self, store: Store, log_dir: Path) -> None:
        self._store = store
        self._log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)

    def create(self, project: str, environment: str | None, type_: str, description: str,
               triggered_by: str | None = None) -> Activity:
        activity_id = secrets.token_hex(6)
        self._store.execute(
            "INSERT INTO activities (id, project, environment, type, state, description, created_at,"
            " triggered_by) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
            activity_id, project, environment, type_, description, now(), triggered_by,
        )
        self.log_path(activity_id).touch()
        return self.get(activity_id)

    def get(self, activity_id: str) -> Activity:
        row = self._store.one("SELECT * FROM activities WHERE id = ?", activity_id)
        if row is None:
            raise NotFound(f"no activity {activity_id!r}; `shipway activity:list` shows them")
        row["details"] = json.loads(row["details"])
        return Activity(**row)

    def list(self, project: str, environment: str | None = None, limit: int = 20) -> list[Activity]:
        sql = "SELECT id FROM activities WHERE project = ?"
        args: list[Any] = [project]
        if environment:
            sql += " AND environment = ?"
            args.append(environment)
        rows = self._store.all(sql + " ORDER BY created_at DESC LIMIT ?", *args, limit)
        return [self.get(r["id"]) for r in rows]

    def fire(self, activity_id: str, event: str, result: str | None = None) -> Activity:
        """Apply a lifecycle event; an illegal one raises and changes nothing."""
        with self._store.transaction() as db:
            row = db.execute("SELECT state FROM activities WHERE id = ?", (activity_id,)).fetchone()
            if row is None:
                raise NotFound(f"no activity {activity_id!r}")
            nxt = TRANSITIONS[row["state"]].get(event)
            if nxt is None:
                raise PlatformError(f"activity {activity_id}: cannot {event} when {row['state']}")
            result = RESULT_OF_EVENT.get(event, result)
            done = now() if nxt == "complete" else None
            db.execute(
                "UPDATE activities SET state = ?, result = COALESCE(?, result),"
                " completed_at = COALESCE(?, completed_at) WHERE id = ?",
                (nxt, result, done, activity_id),
            )
        return self.get(activity_id)

    def set_details(self, activity_id: str, **details: Any) -> None:
        merged = {**self.get(activity_id).details, **details}
        self._store.execute("UPDATE activities SET details = ? WHERE id = ?", dumps(merged), activity_id)

    def log_path(self, activity_id: str) -> Path:
        return self._log_dir / f"{activity_id}.log"

    def recover_interrupted(self) -> list[str]:
        """Mark activities that were running when the control plane died."""
        ids = [r["id"] for r in self._store.all("SELECT id FROM activities WHERE state != 'complete'")]
        for activity_id in ids:
            ActivityLog(self.log_path(activity_id)).line(
                "E: the control plane stopped while this activity ran; it did not finish"
            )
            state = self.get(activity_id).state
            self.fire(activity_id, "crash" if state == "in_progress" else "cancel")
        return ids


class ActivityLog:
    """Append-only, line-buffered log of one activity; safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock, self.path.open("a", encoding="utf-8", errors="replace") as f:
            f.write(text.rstrip("\n") + "\n")

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8", errors="replace")
