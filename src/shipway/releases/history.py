"""Releases (R1): build + config, numbered per environment, kept for rollback."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shipway.errors import NotFound
from shipway.state.store import Store, dumps, now


@dataclass(frozen=True)
class Release:
    project: str
    environment: str
    number: int
    commit: str
    builds: dict[str, str]  # app name -> build key
    config: dict[str, Any]
    activity: str
    trigger: str
    created_at: float

    @property
    def id(self) -> str:
        return f"v{self.number}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "commit": self.commit,
            "builds": self.builds,
            "activity": self.activity,
            "trigger": self.trigger,
            "created_at": datetime.fromtimestamp(self.created_at, UTC).isoformat(timespec="seconds"),
            "config": _masked(self.config),
        }


class Releases:
    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, project: str, environment: str, commit: str, builds: dict[str, str],
               config: dict[str, Any], activity: str, trigger: str) -> Release:
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE project = ? AND environment = ?",
                (project, environment),
            ).fetchone()
            number = int(row[0])
            db.execute(
                "INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (project, environment, number, commit, dumps(builds), dumps(config),
                 activity, trigger, now()),
            )
            db.execute(
                "UPDATE environments SET current_release = ? WHERE project = ? AND name = ?",
                (number, project, environment),
            )
        return self.get(project, environment, number)

    def make_current(self, project: str, environment: str, number: int | None) -> None:
        """What serves is `number` again (S6: a deploy brought back after a restart)."""
        self._store.execute(
            "UPDATE environments SET current_release = ? WHERE project = ? AND name = ?",
            number, project, environment,
        )

    def get(self, project: str, environment: str, number: int) -> Release:
        row = self._store.one(
            "SELECT * FROM releases WHERE project = ? AND environment = ? AND number = ?",
            project, environment, number,
        )
        if row is None:
            raise NotFound(f"no release v{number} in {project}/{environment}; "
                           "`shipway release:list` shows them")
        return _release(row)

    def list(self, project: str, environment: str) -> list[Release]:
        rows = self._store.all(
            "SELECT * FROM releases WHERE project = ? AND environment = ? ORDER BY number DESC",
            project, environment,
        )
        return [_release(r) for r in rows]


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    """Sensitive variable values never leave the control plane (E3)."""
    hidden = set(config.get("sensitive_variables", []))
    variables = {k: "(sensitive)" if k in hidden else v
                 for k, v in config.get("variables", {}).items()}
    return {**config, "variables": variables}


def _release(row: dict[str, Any]) -> Release:
    return Release(
        project=row["project"], environment=row["environment"], number=row["number"],
        commit=row["commit_sha"], builds=json.loads(row["builds"]), config=json.loads(row["config"]),
        activity=row["activity"], trigger=row["trigger"], created_at=row["created_at"],
    )
