"""Who is acting (A1): the operator (root on the server) or a user, and their records."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shipway.access.roles import Grant
from shipway.errors import UsageError

EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+-]{0,63}@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,63}")
TOKEN_PREFIX = "shipway_"  # recognisable in a leaked file or a secret scanner's rules
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")


@dataclass(frozen=True)
class Actor:
    kind: str  # "operator" (root on the server) | "user"
    email: str | None = None
    user_id: str | None = None

    @property
    def label(self) -> str:
        return "root" if self.kind == "operator" else (self.email or "?")

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


OPERATOR = Actor("operator")


def check_email(email: str) -> str:
    """An email as a user id: lowercased, plain ASCII, no spaces, quotes or control bytes."""
    email = email.lower()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise UsageError(f"not an email address: {email[:80]!r}")
    return email


def check_name(name: str, what: str = "name") -> str:
    if not NAME.fullmatch(name):
        raise UsageError(f"invalid {what} {name[:80]!r}: letters, digits, space, . _ @ -, "
                         "at most 64 characters")
    return name


@dataclass(frozen=True)
class Member:
    """A user as one project sees them."""

    user_id: str
    email: str
    project: str
    grant: Grant

    def as_json(self) -> dict[str, Any]:
        return {"id": self.user_id, "email": self.email, "project": self.project,
                "role": self.grant.project_role, "environment_types": dict(self.grant.env_roles),
                "roles": self.grant.describe()}


@dataclass(frozen=True)
class SshKey:
    id: str
    user_id: str
    email: str
    fingerprint: str
    public_key: str  # "TYPE BASE64 [comment]", one line, checked (keys.py)
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.email, "fingerprint": self.fingerprint,
                "type": self.public_key.split()[0],
                "comment": " ".join(self.public_key.split()[2:])}


@dataclass(frozen=True)
class ApiToken:
    id: str
    user_id: str
    email: str
    name: str
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.email, "name": self.name}
