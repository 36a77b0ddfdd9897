"""What each SSH session runs (A2, A4): who is asking, whether they may, then git or a shell.

The decisions are commands.parse (what) and Access.require (may they);
this module only ties them to the platform and starts the processes.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any, Protocol

from shipway.access import commands, shell
from shipway.access.model import OPERATOR, Actor
from shipway.access.sessions import Session

UNKNOWN_KEY = ("this SSH key belongs to no shipway user (never added, or its user was removed); "
               "the operator adds keys with `shipway ssh-key:add`")
DEFAULT_SSH_ROLE = "contributor"
PUSH_ACTOR = "SHIPWAY_PUSH_ACTOR"


class AccessLike(Protocol):
    def actor_for_key(self, fingerprint: str) -> Actor | None: ...

    def require(self, actor: Actor, action: str, project: str,
                environment: str | None = None, *, minimum: str | None = None) -> None: ...


def git_env(actor: Actor) -> dict[str, str]:
    """git's environment: ours without GIT_*, plus who pushes (the hook passes it on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k != PUSH_ACTOR}
    if actor.user_id:
        env[PUSH_ACTOR] = actor.user_id
    return env


def ssh_role(app: Any) -> str:
    """The role an app's `access.ssh` asks for (Platform.sh's default: contributor)."""
    access = app.raw.get("access") or {}
    return str(access.get("ssh") or DEFAULT_SSH_ROLE)


class SessionHandler:
    def __init__(self, platform: Any, access: AccessLike, ssh_uid: int | None) -> None:
        self.platform = platform
        self.access = access
        self.ssh_uid = ssh_uid

    def actor(self, session: Session) -> Actor:
        if session.uid == 0:
            return OPERATOR
        if self.ssh_uid is None or session.uid != self.ssh_uid:
            raise commands.Refused("only root and the shipway SSH user may open sessions")
        actor = self.access.actor_for_key(session.key)
        if actor is None:
            raise commands.Refused(UNKNOWN_KEY)
        return actor

    def __call__(self, session: Session) -> int:
        actor = self.actor(session)
        request = commands.parse(session.command)
        if isinstance(request, commands.GitRequest):
            return self.git(actor, request, session)
        return self.shell(actor, request, session)

    def git(self, actor: Actor, request: commands.GitRequest, session: Session) -> int:
        # The role first: someone with no role on a project learns nothing of it.
        self.access.require(actor, request.action, request.project)
        self.platform.registry.project(request.project)  # NotFound: one line
        repo = self.platform.repo_path(request.project)
        # Per-ref push rights are checked by the push itself (the hook names the actor).
        proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "KILL", "--", "git", request.service.removeprefix("git-"),
             str(repo)],
            stdin=session.fds[0], stdout=session.fds[1], stderr=session.fds[2],
            env=git_env(actor), close_fds=True, start_new_session=True)
        return session.wait(proc)

    def shell(self, actor: Actor, request: commands.ShellRequest, session: Session) -> int:
        self.access.require(actor, "view", request.project)  # before anything of it is read
        launch = self.platform.shell_launch(request.project, request.environment, request.app)
        self.access.require(actor, "ssh", request.project, request.environment,
                            minimum=ssh_role(launch.app))
        return shell.run_session(launch, request.command, session.fds, session.tty,
                                 session.term, session.wait)
