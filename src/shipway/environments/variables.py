"""User variables at project and environment level (E3), as the `platform` CLI has them.

Defaults follow the CLI, not the docs table (reference §5 marks the conflict):
an environment-level variable is not visible at build time unless asked,
because a build-visible variable changes the build key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from shipway.errors import NotFound, UsageError
from shipway.state.store import Store, now

FLAG_NAMES = ("is_json", "is_sensitive", "visible_build", "visible_runtime", "is_inheritable",
              "is_enabled")
NAME = re.compile(r"^[^\s]{1,256}$")
ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")



@dataclass(frozen=True)
class Variable:
    project: str
    environment: str  # "" for project level
    name: str  # as the user wrote it, prefix included ("env:REBUILD_DATE")
    value: str
    is_json: bool = False
    is_sensitive: bool = False
    visible_build: bool = False
    visible_runtime: bool = True
    is_inheritable: bool = True
    is_enabled: bool = True

    @property
    def level(self) -> str:
        return "environment" if self.environment else "project"

    @property
    def typed_value(self) -> Any:
        return json.loads(self.value) if self.is_json else self.value

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "level": self.level, "environment": self.environment or None,
            "value": None if self.is_sensitive else self.value, "is_json": self.is_json,
            "is_sensitive": self.is_sensitive, "visible_build": self.visible_build,
            "visible_runtime": self.visible_runtime, "is_inheritable": self.is_inheritable,
            "is_enabled": self.is_enabled,
        }


def check(var: Variable) -> Variable:
    if not NAME.match(var.name):
        raise UsageError(f"invalid variable name {var.name!r}: 1-256 characters, no spaces")
    if var.name.startswith("env:") and not ENV_NAME.match(var.name[4:]):
        raise UsageError(
            f"invalid environment variable name {var.name[4:]!r}: letters, digits and '_', "
            "starting with a letter"
        )
    if var.is_json:
        try:
            json.loads(var.value)
        except ValueError as exc:
            raise UsageError(f"--json was given but the value is not valid JSON: {exc}") from None
    return var


class Variables:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, project: str, environment: str, name: str) -> Variable:
        row = self._store.one(
            "SELECT * FROM variables WHERE project = ? AND environment = ? AND name = ?",
            project, environment, name,
        )
        if row is None:
            where = f"environment {environment!r}" if environment else f"project {project!r}"
            raise NotFound(f"no variable {name!r} on {where}; `shipway variable:list` shows them")
        return _variable(row)

    def find(self, project: str, environment: str | None, name: str) -> Variable:
        """The variable a command without --level means: the environment's, else the project's."""
        if environment:
            try:
                return self.get(project, environment, name)
            except NotFound:
                pass
        return self.get(project, "", name)

    def put(self, var: Variable, *, create: bool) -> Variable:
        check(var)
        exists = self._store.one(
            "SELECT name FROM variables WHERE project = ? AND environment = ? AND name = ?",
            var.project, var.environment, var.name,
        )
        if create and exists:
            raise UsageError(f"variable {var.name!r} already exists at {var.level} level; "
                             "use variable:update")
        self._store.execute(
            "INSERT OR REPLACE INTO variables VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            var.project, var.environment, var.name, var.value, var.is_json, var.is_sensitive,
            var.visible_build, var.visible_runtime, var.is_inheritable, var.is_enabled, now(),
        )
        return var

    def delete(self, var: Variable) -> None:
        self._store.execute(
            "DELETE FROM variables WHERE project = ? AND environment = ? AND name = ?",
            var.project, var.environment, var.name,
        )

    def list(self, project: str, environment: str | None) -> list[Variable]:
        rows = self._store.all(
            "SELECT * FROM variables WHERE project = ? AND environment IN ('', ?) ORDER BY name",
            project, environment or "",
        )
        return [_variable(r) for r in rows]

    def effective(self, project: str, lineage: list[str]) -> list[Variable]:
        """What an environment sees (precedence §3.1): the project's variables, then
        each ancestor's inheritable ones, oldest first, then its own (`lineage[0]`)."""
        merged = {v.name: v for v in self.list(project, None) if v.is_enabled}
        for depth, env in enumerate(reversed(lineage)):
            own = depth == len(lineage) - 1
            for var in self._store_rows(project, env):
                if var.is_enabled and (own or var.is_inheritable):
                    merged[var.name] = var
        return sorted(merged.values(), key=lambda v: v.name)

    def _store_rows(self, project: str, environment: str) -> list[Variable]:
        rows = self._store.all(
            "SELECT * FROM variables WHERE project = ? AND environment = ? ORDER BY name",
            project, environment,
        )
        return [_variable(r) for r in rows]


def build_visible(variables: list[Variable]) -> dict[str, str]:
    return {v.name: v.value for v in variables if v.visible_build}


def runtime_visible(variables: list[Variable]) -> dict[str, Any]:
    return {v.name: v.typed_value for v in variables if v.visible_runtime}


def updated(var: Variable, **changes: Any) -> Variable:
    if var.is_sensitive and changes.get("is_sensitive") is False:
        raise UsageError(f"variable {var.name!r} is sensitive; that cannot be undone")
    return replace(var, **{k: v for k, v in changes.items() if v is not None})


def _variable(row: dict[str, Any]) -> Variable:
    row = dict(row)
    row.pop("updated_at")
    for key in FLAG_NAMES:
        row[key] = bool(row[key])
    return Variable(**row)
