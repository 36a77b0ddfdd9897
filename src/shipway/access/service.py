"""`Access`: users, roles, SSH keys and API tokens, and the one `require` every
use case calls before it changes anything (A1-A3, A5).

Nothing here deploys, restarts or reruns a hook (A5: access changes never
redeploy); a change of keys only tells the listeners (the sshd's
authorized_keys writer) to rewrite their view."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from typing import Any

from shipway.access import roles
from shipway.access.keys import parse_public_key
from shipway.access.model import (
    TOKEN_PREFIX,
    Actor,
    ApiToken,
    Member,
    SshKey,
    check_email,
    check_name,
)
from shipway.access.store import AccessStore
from shipway.errors import Forbidden, NotFound, UsageError
from shipway.state.store import Store

EnvType = Callable[[str, str], str]
SAY = {"view": "view", "push": "push to", "branch": "branch", "merge": "merge into",
       "sync": "synchronize", "activate": "activate", "deactivate": "deactivate",
       "redeploy": "redeploy", "rollback": "roll back", "variables": "change variables of",
       "ssh": "ssh into", "backup": "back up", "restore": "restore",
       roles.PROJECT_ADMIN: "administer"}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class Access:
    def __init__(self, store: Store, env_type: EnvType) -> None:
        """`env_type(project, env)` -> the environment's type; raises NotFound."""
        self.db = AccessStore(store)
        self._env_type = env_type
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    # -- deciding ------------------------------------------------------------

    def require(self, actor: Actor, action: str, project: str, environment: str | None = None,
                *, minimum: str | None = None, env_type: str | None = None) -> None:
        """Raise Forbidden (one line: user, role held, role needed) unless `actor` may do
        `action`. `env_type` names the type of an environment that does not exist yet."""
        if actor.is_operator:
            roles.needed_role(action, minimum)  # an unknown action is a bug even for root
            return
        grant = self.db.grant(actor.user_id or "", project)
        if grant is None:  # before any look-up: an outsider learns no name or type of it
            roles.needed_role(action, minimum)
            decision = roles.Decision(False, "no role on this project", "a role on this project")
            raise Forbidden(roles.refusal(actor.label, SAY.get(action, action), project, decision))
        kind = env_type or (self._env_type(project, environment) if environment else None)
        decision = roles.decide(grant, action, kind, minimum)
        if not decision.allowed:
            where = f"{project}/{environment}" if environment else project
            raise Forbidden(roles.refusal(actor.label, SAY.get(action, action), where, decision))

    def may(self, actor: Actor, action: str, project: str, environment: str | None = None) -> bool:
        try:
            self.require(actor, action, project, environment)
        except (Forbidden, NotFound):  # an environment gone since: nothing to show
            return False
        return True

    def require_operator_or_self(self, actor: Actor, user_id: str, what: str) -> None:
        if not actor.is_operator and actor.user_id != user_id:
            raise Forbidden(f"{actor.label} may not {what} of another user: only the operator "
                            "(root on the server) or that user may")

    # -- who -----------------------------------------------------------------

    def actor_by_id(self, user_id: str) -> Actor | None:
        email = self.db.email_of(user_id)
        return Actor("user", email, user_id) if email else None

    def actor_for_key(self, fingerprint: str) -> Actor | None:
        key = self.db.key_by_fingerprint(fingerprint)
        return Actor("user", key.email, key.user_id) if key else None

    def actor_for_token(self, token: str) -> Actor | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        found = self.db.token_user(digest)
        # The look-up is by hash, so timing reveals nothing of the token; compare anyway.
        if found is None or not hmac.compare_digest(found[2], digest):
            return None
        return Actor("user", found[1], found[0])

    def _user(self, email: str) -> tuple[str, str]:
        email = check_email(email)
        user_id = self.db.user_id(email)
        if user_id is None:
            raise NotFound(f"no user {email}; add one with `shipway user:add {email} -p PROJECT`")
        return user_id, email

    # -- users (project admin) ---------------------------------------------------

    def add_user(self, actor: Actor, project: str, email: str, specs: list[str]) -> Member:
        self.require(actor, roles.PROJECT_ADMIN, project)
        member = self.db.add_member(check_email(email), project, _parse(specs, None))
        self._changed()
        return member

    def update_user(self, actor: Actor, project: str, email: str, specs: list[str]) -> Member:
        self.require(actor, roles.PROJECT_ADMIN, project)
        member = self.get_user(actor, project, email)
        grant = _parse(specs, member.grant)
        self.db.set_grant(member.user_id, project, grant)
        return Member(member.user_id, member.email, project, grant)

    def get_user(self, actor: Actor, project: str, email: str) -> Member:
        self.require(actor, "view", project)
        user_id, email = self._user(email)
        grant = self.db.grant(user_id, project)
        if grant is None:
            raise NotFound(f"{email} is not a user of {project}")
        return Member(user_id, email, project, grant)

    def list_users(self, actor: Actor, project: str) -> list[Member]:
        self.require(actor, "view", project)
        return self.db.members(project)

    def delete_user(self, actor: Actor, project: str, email: str) -> dict[str, Any]:
        self.require(actor, roles.PROJECT_ADMIN, project)
        member = self.get_user(actor, project, email)
        gone = self.db.remove_member(member.user_id, project)
        self._changed()
        tail = "; they had no other project, so their keys and tokens are deleted too" if gone else ""
        return {"message": f"{member.email} is no longer a user of {project}{tail}"}

    # -- SSH keys (operator, or the user themself) -----------------------------

    def add_key(self, actor: Actor, email: str, data: bytes) -> SshKey:
        user_id, _ = self._user(email)
        self.require_operator_or_self(actor, user_id, "add SSH keys")
        fingerprint, line = parse_public_key(data)
        key_id = self.db.add_key(user_id, fingerprint, line)
        self._changed()
        return self.db.key(key_id)

    def list_keys(self, actor: Actor, email: str | None) -> list[SshKey]:
        user_id = self._user(email)[0] if email else actor.user_id
        if user_id is not None:
            self.require_operator_or_self(actor, user_id, "list the SSH keys")
        return self.db.keys(user_id)

    def delete_key(self, actor: Actor, key_id: str) -> None:
        key = self.db.key(key_id)
        self.require_operator_or_self(actor, key.user_id, "delete the SSH keys")
        self.db.delete_key(key_id)
        self._changed()

    def authorized_keys(self) -> list[tuple[str, str]]:
        return [(k.fingerprint, k.public_key) for k in self.db.keys()]

    def on_keys_changed(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def _changed(self) -> None:
        with self._lock:  # one rewrite at a time, in the order of the changes
            for callback in self._listeners:
                callback()

    # -- API tokens (operator, or the user themself) ----------------------------

    def create_token(self, actor: Actor, email: str, name: str) -> tuple[str, ApiToken]:
        """-> (the token, shown this once; its record). Only its hash is stored."""
        user_id, _ = self._user(email)
        self.require_operator_or_self(actor, user_id, "create API tokens")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = self.db.add_token(user_id, check_name(name, "token name"), token_digest(token))
        return token, self.db.token(token_id)

    def list_tokens(self, actor: Actor) -> list[ApiToken]:
        return self.db.tokens(None if actor.is_operator else actor.user_id)

    def delete_token(self, actor: Actor, token_id: str) -> None:
        token = self.db.token(token_id)
        self.require_operator_or_self(actor, token.user_id, "revoke the API tokens")
        self.db.delete_token(token_id)


def _parse(specs: list[str], base: roles.Grant | None) -> roles.Grant:
    try:
        return roles.parse_roles(specs, base)
    except ValueError as exc:
        raise UsageError(f"--role: {exc}") from None

