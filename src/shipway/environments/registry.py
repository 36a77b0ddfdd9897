"""Projects and environments as records (E1): one environment per branch."""

from __future__ import annotations

import re
import secrets
import sqlite3
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipway.environments.names import check_environment_name
from shipway.environments.slots import lowest_free_slot
from shipway.errors import NotFound, UsageError
from shipway.state.store import Store, now

PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # fullmatch: "$" would let "a\n" in
PRODUCTION_BRANCH = "main"


CONFIG_DIRS = (".upsun", ".platform")


@dataclass(frozen=True)
class Project:
    name: str
    id: str
    created_at: float
    version_policy: str | None = None  # None: the platform's setting
    config_dir: str | None = None  # .platform or .upsun when a repository has both (C10); None: .upsun

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.id, "version_policy": self.version_policy,
                "config_dir": self.config_dir}

    @property
    def entropy(self) -> str:
        # Stable for the life of the project, as Platform.sh's.
        return (self.id * 5)[:56]


@dataclass(frozen=True)
class Environment:
    project: str
    name: str
    machine_name: str
    type: str
    status: str
    parent: str | None
    head_commit: str | None
    slot: int | None  # None while inactive: only a running environment holds uids (S5)
    current_release: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.name, "name": self.name, "machine_name": self.machine_name,
            "type": self.type, "status": self.status, "parent": self.parent,
            "head_commit": self.head_commit, "current_release":
                f"v{self.current_release}" if self.current_release else None,
        }


def machine_name(branch: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")[:32] or "env"
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(7))
    return f"{slug}-{suffix}"


class Registry:
    def __init__(self, store: Store, on_slot: Callable[[int], None] | None = None) -> None:
        """`on_slot(slot)` runs as an environment takes a slot, inside the transaction:
        raising refuses the slot (S5: its uids must have no process left)."""
        self._store = store
        self._on_slot = on_slot or (lambda slot: None)

    def create_project(self, name: str) -> Project:
        if not PROJECT_NAME.fullmatch(name):
            raise UsageError(
                f"invalid project name {name!r}: use lowercase letters, digits and '-', "
                "starting with a letter or digit, at most 40 characters"
            )
        if self._store.one("SELECT name FROM projects WHERE name = ?", name):
            raise UsageError(f"project {name!r} already exists")
        project_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(13))
        self._store.execute("INSERT INTO projects (name, id, created_at) VALUES (?, ?, ?)",
                            name, project_id, now())
        return self.project(name)

    def set_version_policy(self, name: str, policy: str) -> None:
        if policy not in ("exact", "nearest"):
            raise UsageError(f"version_policy is exact or nearest, not {policy!r}")
        self._store.execute("UPDATE projects SET version_policy = ? WHERE name = ?", policy, name)

    def set_config_dir(self, name: str, choice: str) -> None:
        if choice not in CONFIG_DIRS:
            raise UsageError(f"config_dir is {' or '.join(CONFIG_DIRS)}, not {choice!r}")
        self._store.execute("UPDATE projects SET config_dir = ? WHERE name = ?", choice, name)

    def project(self, name: str) -> Project:
        row = self._store.one("SELECT * FROM projects WHERE name = ?", name)
        if row is None:
            raise NotFound(f"no project {name!r}; `shipway project:list` shows them")
        return Project(**row)

    def projects(self) -> list[Project]:
        return [Project(**r) for r in self._store.all("SELECT * FROM projects ORDER BY name")]

    def environment(self, project: str, name: str) -> Environment:
        row = self._store.one(
            "SELECT * FROM environments WHERE project = ? AND name = ?", project, name
        )
        if row is None:
            raise NotFound(
                f"no environment {name!r} in project {project!r}; push the branch first "
                "(`shipway environment:list` shows them)"
            )
        return Environment(**row)

    def environments(self, project: str | None = None) -> list[Environment]:
        if project is None:
            rows = self._store.all("SELECT * FROM environments ORDER BY project, name")
        else:
            rows = self._store.all(
                "SELECT * FROM environments WHERE project = ? ORDER BY name", project
            )
        return [Environment(**r) for r in rows]

    def ensure_environment(self, project: str, branch: str, *, active: bool, type_: str | None,
                           parent: str | None) -> Environment:
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT slot FROM environments WHERE project = ? AND name = ?", (project, branch)
            ).fetchone()
            if row is None:
                check_environment_name(branch)
                production = branch == PRODUCTION_BRANCH
                slot = self._take_slot(db) if production or active else None
                db.execute(
                    "INSERT INTO environments (project, name, machine_name, type, status, parent,"
                    " slot) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (project, branch, machine_name(branch),
                     "production" if production else (type_ or "development"),
                     "active" if production or active else "inactive",
                     None if production else (parent or PRODUCTION_BRANCH), slot),
                )
            elif active:
                slot = row[0] if row[0] is not None else self._take_slot(db)
                db.execute("UPDATE environments SET status = 'active', slot = ?"
                           " WHERE project = ? AND name = ?", (slot, project, branch))
        return self.environment(project, branch)

    def lineage(self, project: str, name: str) -> list[str]:
        """The environment, its parent, the parent's parent… (E3 inheritance)."""
        chain: list[str] = []
        current: str | None = name
        while current and current not in chain:
            chain.append(current)
            current = self.environment(project, current).parent
        return chain

    def deactivate(self, project: str, name: str) -> None:
        """Call once its processes are stopped: the slot (its uids) goes to the next one."""
        self._store.execute(
            "UPDATE environments SET status = 'inactive', current_release = NULL, slot = NULL"
            " WHERE project = ? AND name = ?", project, name,
        )

    def set_type(self, project: str, name: str, type_: str) -> None:
        self._store.execute(
            "UPDATE environments SET type = ? WHERE project = ? AND name = ?", type_, project, name
        )

    def set_head(self, project: str, branch: str, commit: str) -> None:
        self._store.execute(
            "UPDATE environments SET head_commit = ? WHERE project = ? AND name = ?",
            commit, project, branch,
        )


    def _take_slot(self, db: sqlite3.Connection) -> int:
        slot = _free_slot(db)
        self._on_slot(slot)
        return slot


def _free_slot(db: sqlite3.Connection) -> int:
    """Inside the caller's transaction, so two new environments never take one slot."""
    rows = db.execute("SELECT slot FROM environments WHERE slot IS NOT NULL").fetchall()
    return lowest_free_slot(row[0] for row in rows)
