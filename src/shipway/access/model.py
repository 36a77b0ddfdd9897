"""TEMPORARY stand-in (issue 10, H2's branch): H1's access/model.py replaces this file at merge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str
    email: str | None = None
    user_id: str | None = None

    @property
    def label(self) -> str:
        return "root" if self.kind == "operator" else (self.email or "?")


OPERATOR = Actor("operator")
