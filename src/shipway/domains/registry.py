"""The domains each project owns (T1), kept in the control plane's SQLite.

A name is the table's primary key, so two projects can never own the same
one: the second `add` is refused inside the insert itself, not after a
racy look-up. A project's default domain is its oldest one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from shipway.domains.names import check_domain
from shipway.errors import NotFound, UsageError
from shipway.state.store import Store, now


@dataclass(frozen=True)
class Domain:
    name: str
    project: str
    created_at: float
    is_default: bool


# Each name is a certificate the router asks an ACME CA for: a project adding
# thousands would spend the machine's CA rate limits (and Caddy's memory).
MAX_DOMAINS = 100


class Domains:
    def __init__(self, store: Store, platform_domain: str,
                 reserved: frozenset[str] = frozenset()) -> None:
        self._store = store
        self._platform_domain = platform_domain
        self._reserved = reserved  # the platform's own names (W1: the console host)

    def add(self, project: str, raw: str) -> Domain:
        name = check_domain(raw, self._platform_domain, self._reserved)
        if len(self.list(project)) >= MAX_DOMAINS:
            raise UsageError(f"project {project!r} already has {MAX_DOMAINS} domains, the most "
                             "one project may have; delete one first")
        try:
            self._store.execute("INSERT INTO domains (name, project, created_at) VALUES (?, ?, ?)",
                                name, project, now())
        except sqlite3.IntegrityError:
            owner = self._owner(name)
            # Whose it is stays unsaid when it is another project's: that is
            # none of this caller's business.
            if owner == project:
                raise UsageError(f"domain {name!r} is already a domain of project {project!r}") from None
            raise UsageError(f"domain {name!r} is already claimed by another project") from None
        return self.get(project, name)

    def list(self, project: str) -> list[Domain]:
        rows = self._store.all("SELECT * FROM domains WHERE project = ? ORDER BY created_at, name",
                               project)
        return [Domain(**row, is_default=i == 0) for i, row in enumerate(rows)]

    def get(self, project: str, raw: str) -> Domain:
        name = raw.strip().lower().removesuffix(".")
        for domain in self.list(project):
            if domain.name == name:
                return domain
        raise NotFound(f"project {project!r} has no domain {raw[:80]!r}; "
                       "`domain:list` shows its domains")

    def delete(self, project: str, raw: str) -> Domain:
        domain = self.get(project, raw)
        self._store.execute("DELETE FROM domains WHERE name = ? AND project = ?",
                            domain.name, project)
        return domain

    def names(self, project: str) -> tuple[str, ...]:
        """The project's domains, its default first."""
        return tuple(d.name for d in self.list(project))

    def foreign(self, project: str) -> frozenset[str]:
        """Every domain some other project owns."""
        rows = self._store.all("SELECT name FROM domains WHERE project != ?", project)
        return frozenset(row["name"] for row in rows)

    def _owner(self, name: str) -> str | None:
        row = self._store.one("SELECT project FROM domains WHERE name = ?", name)
        return row["project"] if row else None
