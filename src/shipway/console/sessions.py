"""Console sign-in links and sessions (W1), stored hashed in the control plane's SQLite.

Theory of operation. `shipway console:login --user EMAIL` asks the control plane
for a one-time link: a random secret whose SHA-256 is stored with the user and
an expiry of LINK_SECONDS. Posting it to /console/login consumes it (single
use: the row is deleted in the same statement that finds it) and starts a
session: another random secret, set as an HttpOnly Secure SameSite=Strict
cookie, stored as its SHA-256 with an expiry. The CSRF token of a session is
an HMAC of the session secret, so it needs no storage and changes with the
session. A session names a user id: the user's roles are read afresh on every
request (removing a user ends what their session may do at once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from shipway.state.store import Store, now

LINK_SECONDS = 600.0
SESSION_SECONDS = 8 * 3600.0
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS console_links (
        hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS console_sessions (
        hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at REAL NOT NULL)""",
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def csrf_token(session_secret: str) -> str:
    return hmac.new(session_secret.encode(), b"shipway-console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_secret: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(csrf_token(session_secret), str(sent))


@dataclass(frozen=True)
class Session:
    secret: str
    user_id: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.secret)


class ConsoleSessions:
    def __init__(self, store: Store, clock: Callable[[], float] = now,
                 session_seconds: float = SESSION_SECONDS) -> None:
        self._store = store
        self._session_seconds = session_seconds
        self._clock = clock
        with store.transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def new_link(self, user_id: str) -> str:
        secret = secrets.token_urlsafe(32)
        self._store.execute("DELETE FROM console_links WHERE expires_at < ?", self._clock())
        self._store.execute("INSERT INTO console_links VALUES (?, ?, ?)", digest(secret), user_id,
                            self._clock() + LINK_SECONDS)
        return secret

    def redeem(self, link_secret: str) -> Session | None:
        """The link's session, once; None for an unknown, used or expired link."""
        if not link_secret or len(link_secret) > 200:
            return None
        with self._store.transaction() as db:
            row = db.execute("DELETE FROM console_links WHERE hash = ? RETURNING user_id, expires_at",
                             (digest(link_secret),)).fetchone()
        if row is None or row["expires_at"] < self._clock():
            return None
        secret = secrets.token_urlsafe(32)
        self._store.execute("INSERT INTO console_sessions VALUES (?, ?, ?)", digest(secret),
                            row["user_id"], self._clock() + self._session_seconds)
        return Session(secret, row["user_id"])

    def session(self, secret: str | None) -> Session | None:
        if not secret or len(secret) > 200:
            return None
        row = self._store.one("SELECT user_id, expires_at FROM console_sessions WHERE hash = ?",
                              digest(secret))
        if row is None or row["expires_at"] < self._clock():
            return None
        return Session(secret, row["user_id"])

    def end(self, secret: str) -> None:
        self._store.execute("DELETE FROM console_sessions WHERE hash = ?", digest(secret))
