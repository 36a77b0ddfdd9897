"""Users, their grants, SSH keys and API tokens in the control plane's SQLite (A1-A3).

Tokens are stored as their SHA-256 only: the token itself is shown once, when
created, and is in no file afterwards. Deleting a user deletes their grants,
keys and tokens in the same transaction."""

from __future__ import annotations

import json
import secrets
from typing import Any

from shipway.access.model import ApiToken, Member, SshKey
from shipway.access.roles import Grant
from shipway.errors import NotFound, UsageError
from shipway.state.store import Store, now

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS access_users (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, created_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS access_grants (
        user_id TEXT NOT NULL REFERENCES access_users(id), project TEXT NOT NULL,
        project_role TEXT NOT NULL, env_roles TEXT NOT NULL, PRIMARY KEY (user_id, project))""",
    """CREATE TABLE IF NOT EXISTS access_keys (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES access_users(id),
        fingerprint TEXT NOT NULL UNIQUE, public_key TEXT NOT NULL, created_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS access_tokens (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES access_users(id),
        name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL)""",
)
KEY_SQL = ("SELECT k.*, u.email FROM access_keys k JOIN access_users u ON u.id = k.user_id")
TOKEN_SQL = ("SELECT t.id, t.user_id, t.name, t.created_at, u.email FROM access_tokens t"
             " JOIN access_users u ON u.id = t.user_id")


class AccessStore:
    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)

    # -- users and grants ----------------------------------------------------

    def user_id(self, email: str) -> str | None:
        row = self._store.one("SELECT id FROM access_users WHERE email = ?", email)
        return row["id"] if row else None

    def email_of(self, user_id: str) -> str | None:
        row = self._store.one("SELECT email FROM access_users WHERE id = ?", user_id)
        return row["email"] if row else None

    def add_member(self, email: str, project: str, grant: Grant) -> Member:
        with self._store.transaction() as db:
            row = db.execute("SELECT id FROM access_users WHERE email = ?", (email,)).fetchone()
            user_id = row["id"] if row else "u" + secrets.token_hex(6)
            if row is None:
                db.execute("INSERT INTO access_users (id, email, created_at) VALUES (?, ?, ?)",
                           (user_id, email, now()))
            if db.execute("SELECT 1 FROM access_grants WHERE user_id = ? AND project = ?",
                          (user_id, project)).fetchone():
                raise UsageError(f"{email} is already a user of {project}; "
                                 "change their roles with `shipway user:update`")
            db.execute("INSERT INTO access_grants VALUES (?, ?, ?, ?)",
                       (user_id, project, grant.project_role, json.dumps(grant.env_roles)))
        return Member(user_id, email, project, grant)

    def set_grant(self, user_id: str, project: str, grant: Grant) -> None:
        self._store.execute(
            "UPDATE access_grants SET project_role = ?, env_roles = ? WHERE user_id = ? AND project = ?",
            grant.project_role, json.dumps(grant.env_roles), user_id, project)

    def grant(self, user_id: str, project: str) -> Grant | None:
        row = self._store.one("SELECT * FROM access_grants WHERE user_id = ? AND project = ?",
                              user_id, project)
        return _grant(row) if row else None

    def members(self, project: str) -> list[Member]:
        rows = self._store.all(
            "SELECT g.*, u.email FROM access_grants g JOIN access_users u ON u.id = g.user_id"
            " WHERE g.project = ? ORDER BY u.email", project)
        return [Member(r["user_id"], r["email"], project, _grant(r)) for r in rows]

    def remove_member(self, user_id: str, project: str) -> bool:
        """Remove the grant; a user left with no project is deleted with keys and tokens.
        -> whether the user was deleted."""
        with self._store.transaction() as db:
            db.execute("DELETE FROM access_grants WHERE user_id = ? AND project = ?",
                       (user_id, project))
            if db.execute("SELECT 1 FROM access_grants WHERE user_id = ?", (user_id,)).fetchone():
                return False
            for table in ("access_keys", "access_tokens"):
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))  # noqa: S608
            db.execute("DELETE FROM access_users WHERE id = ?", (user_id,))
        return True

    # -- SSH keys ------------------------------------------------------------

    def add_key(self, user_id: str, fingerprint: str, line: str) -> str:
        key_id = "k" + secrets.token_hex(4)
        with self._store.transaction() as db:
            found = db.execute("SELECT user_id FROM access_keys WHERE fingerprint = ?",
                               (fingerprint,)).fetchone()
            if found:
                raise UsageError(f"the key {fingerprint} is already added"
                                 + (" (to this user)" if found["user_id"] == user_id
                                    else " (to another user: one key, one person)"))
            db.execute("INSERT INTO access_keys VALUES (?, ?, ?, ?, ?)",
                       (key_id, user_id, fingerprint, line, now()))
        return key_id

    def keys(self, user_id: str | None = None) -> list[SshKey]:
        if user_id is None:
            rows = self._store.all(KEY_SQL + " ORDER BY k.created_at")
        else:
            rows = self._store.all(KEY_SQL + " WHERE k.user_id = ? ORDER BY k.created_at", user_id)
        return [SshKey(r["id"], r["user_id"], r["email"], r["fingerprint"], r["public_key"],
                       r["created_at"]) for r in rows]

    def key_by_fingerprint(self, fingerprint: str) -> SshKey | None:
        row = self._store.one(KEY_SQL + " WHERE k.fingerprint = ?", fingerprint)
        return SshKey(row["id"], row["user_id"], row["email"], row["fingerprint"],
                      row["public_key"], row["created_at"]) if row else None

    def key(self, key_id: str) -> SshKey:
        row = self._store.one(KEY_SQL + " WHERE k.id = ?", key_id)
        if row is None:
            raise NotFound(f"no SSH key {key_id!r}; `shipway ssh-key:list` shows them")
        return SshKey(row["id"], row["user_id"], row["email"], row["fingerprint"],
                      row["public_key"], row["created_at"])

    def delete_key(self, key_id: str) -> None:
        self._store.execute("DELETE FROM access_keys WHERE id = ?", key_id)

    # -- API tokens ----------------------------------------------------------

    def add_token(self, user_id: str, name: str, digest: str) -> str:
        token_id = "t" + secrets.token_hex(4)
        self._store.execute("INSERT INTO access_tokens VALUES (?, ?, ?, ?, ?)",
                            token_id, user_id, name, digest, now())
        return token_id

    def token_user(self, digest: str) -> tuple[str, str, str] | None:
        """-> (user_id, email, stored hash) of the token with this hash."""
        row = self._store.one("SELECT t.user_id, t.hash, u.email FROM access_tokens t"
                              " JOIN access_users u ON u.id = t.user_id WHERE t.hash = ?", digest)
        return (row["user_id"], row["email"], row["hash"]) if row else None

    def tokens(self, user_id: str | None = None) -> list[ApiToken]:
        if user_id is None:
            rows = self._store.all(TOKEN_SQL + " ORDER BY t.created_at")
        else:
            rows = self._store.all(TOKEN_SQL + " WHERE t.user_id = ? ORDER BY t.created_at", user_id)
        return [ApiToken(r["id"], r["user_id"], r["email"], r["name"], r["created_at"])
                for r in rows]

    def token(self, token_id: str) -> ApiToken:
        row = self._store.one(TOKEN_SQL + " WHERE t.id = ?", token_id)
        if row is None:
            raise NotFound(f"no API token {token_id!r}; `shipway api-token:list` shows them")
        return ApiToken(row["id"], row["user_id"], row["email"], row["name"], row["created_at"])

    def delete_token(self, token_id: str) -> None:
        self._store.execute("DELETE FROM access_tokens WHERE id = ?", token_id)


def _grant(row: dict[str, Any]) -> Grant:
    return Grant(row["project_role"], json.loads(row["env_roles"]))
