"""SQLite state (X2). Only the control plane opens it.

Every write is its own transaction, so a `kill -9` at any moment leaves the
last committed state; the journal is WAL so readers never block the writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENVIRONMENTS = """CREATE TABLE IF NOT EXISTS environments (
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    machine_name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    parent TEXT,
    head_commit TEXT,
    slot INTEGER,
    current_release INTEGER,
    PRIMARY KEY (project, name)
)"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL
);
""" + ENVIRONMENTS + """;
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    environment TEXT,
    type TEXT NOT NULL,
    state TEXT NOT NULL,
    result TEXT,
    description TEXT NOT NULL,
    created_at REAL NOT NULL,
    completed_at REAL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS builds (
    key TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    app TEXT NOT NULL,
    tree_id TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    project TEXT NOT NULL,
    environment TEXT NOT NULL,
    number INTEGER NOT NULL,
    commit_sha TEXT NOT NULL,
    builds TEXT NOT NULL,
    config TEXT NOT NULL,
    activity TEXT NOT NULL,
    trigger TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (project, environment, number)
);
CREATE TABLE IF NOT EXISTS variables (
    project TEXT NOT NULL,
    environment TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    is_json INTEGER NOT NULL,
    is_sensitive INTEGER NOT NULL,
    visible_build INTEGER NOT NULL,
    visible_runtime INTEGER NOT NULL,
    is_inheritable INTEGER NOT NULL,
    is_enabled INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (project, environment, name)
);
CREATE TABLE IF NOT EXISTS domains (
    name TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ports (
    port INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    environment TEXT NOT NULL,
    app TEXT NOT NULL,
    UNIQUE (project, environment, app)
);
"""


class Store:
    """A thread-safe handle on the state database."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after the first release of a table."""
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(projects)").fetchall()}
        if "version_policy" not in columns:
            self._db.execute("ALTER TABLE projects ADD COLUMN version_policy TEXT")
        if "config_dir" not in columns:
            self._db.execute("ALTER TABLE projects ADD COLUMN config_dir TEXT")
        columns = {r["name"] for r in self._db.execute("PRAGMA table_info(activities)").fetchall()}
        if "triggered_by" not in columns:  # A1: who started it (None: the platform itself)
            self._db.execute("ALTER TABLE activities ADD COLUMN triggered_by TEXT")
        self._free_inactive_slots()

    def _free_inactive_slots(self) -> None:
        """S5: only running environments hold a slot, each its own (the column was NOT NULL)."""
        slot = next(r for r in self._db.execute("PRAGMA table_info(environments)").fetchall()
                    if r["name"] == "slot")
        if slot["notnull"]:
            columns = ("project, name, machine_name, type, status, parent, head_commit, slot,"
                       " current_release")
            self._db.executescript(
                "BEGIN IMMEDIATE;"
                "ALTER TABLE environments RENAME TO environments_old;"
                f"{ENVIRONMENTS};"
                f"INSERT INTO environments ({columns}) SELECT {columns} FROM environments_old;"
                "DROP TABLE environments_old;"
                "UPDATE environments SET slot = NULL WHERE status != 'active';"
                "COMMIT;")
        self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS environments_slot"
                         " ON environments (slot) WHERE slot IS NOT NULL")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return dict(row) if row else None

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def execute(self, sql: str, *args: Any) -> int:
        with self.transaction() as db:
            return db.execute(sql, args).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


def now() -> float:
    return time.time()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
