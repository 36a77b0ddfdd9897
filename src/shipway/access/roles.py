"""Who may do what (A1): Platform.sh's roles as one pure table.

Platform.sh (now Upsun) gives each user of a project a *project role*,
`admin` or `viewer`, and, for a project viewer, one role per *environment
type* (`production`, `staging`, `development`): `admin`, `contributor` or
`viewer`, or no access at all to environments of a type not granted.
A project admin may do everything in every environment, including managing
the project's users and settings. Per environment type, its user
documentation ("Manage user permissions", the environment type roles table)
says, in short:

- a viewer may look: see the environment, its activities and logs, and
  use the API to read;
- a contributor may also change code and run things: push code, branch a
  new environment, merge into and synchronise from the parent, redeploy,
  take a backup, and SSH into the apps (the app's `access.ssh` key sets the
  minimum role for SSH, default `contributor`);
- an admin of the type may also force-push (a push that is not a
  fast-forward of the branch), change the environment's settings (`settings`)
  and variables, deactivate (delete) it and restore a backup over it.

Where that table says nothing about one of shipway's actions, the choice
here follows the nearest documented one and is marked below (activate is
like branching an existing branch; rollback deploys code that was already
pushed, like a redeploy). Variables at project level and user management
need the project admin role.

Theory of operation: `decide` is a pure function of the grant, the action
and the environment type; `Access.require` (service.py) does the look-ups and
raises the refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENV_TYPES = ("production", "staging", "development")
ENV_ROLES = ("viewer", "contributor", "admin")  # each includes what the ones before it may do
PROJECT_ROLES = ("viewer", "admin")
PROJECT_ADMIN = "project:admin"

# action -> the least environment-type role that may do it. PROJECT_ADMIN: only a project admin.
MINIMUM: dict[str, str] = {
    "view": "viewer",
    "push": "contributor",
    "branch": "contributor",
    "merge": "contributor",
    "sync": "contributor",
    "activate": "contributor",  # not in Platform.sh's table: like branching (see above)
    "redeploy": "contributor",
    "rollback": "contributor",  # not in Platform.sh's table: like a redeploy (see above)
    "ssh": "contributor",  # the default of an app's `access.ssh`
    "backup": "contributor",
    "deactivate": "admin",
    "force-push": "admin",  # a push that is not a fast-forward: rewrites the branch's history
    "settings": "admin",
    "variables": "admin",
    "restore": "admin",
    PROJECT_ADMIN: PROJECT_ADMIN,
}
ACTIONS = tuple(MINIMUM)


@dataclass(frozen=True)
class Grant:
    """One user's roles on one project."""

    project_role: str = "viewer"
    env_roles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.project_role not in PROJECT_ROLES:
            raise ValueError(f"project role is admin or viewer, not {self.project_role!r}")
        for env_type, role in self.env_roles.items():
            if env_type not in ENV_TYPES or role not in ENV_ROLES:
                raise ValueError(f"bad environment type role {env_type}:{role}")

    def role_for(self, env_type: str | None) -> str | None:
        """The role held on environments of `env_type` (None: no access)."""
        if self.project_role == "admin":
            return "admin"
        return self.env_roles.get(env_type) if env_type else None

    def describe(self) -> str:
        if self.project_role == "admin":
            return "project admin"
        types = ", ".join(f"{t}:{r}" for t, r in sorted(self.env_roles.items()))
        return f"project viewer ({types})" if types else "project viewer"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    held: str  # the role held, as a person reads it
    needed: str  # the role the action needs, as a person reads it


def parse_roles(specs: list[str] | tuple[str, ...], base: Grant | None = None) -> Grant:
    """`--role viewer --role development:contributor` (the platform CLI's syntax) -> Grant.

    `TYPE:none` removes a type's role; a project role alone keeps the type roles."""
    project_role = base.project_role if base else "viewer"
    env_roles = dict(base.env_roles) if base else {}
    for spec in specs:
        spec = spec.strip().lower()
        if ":" not in spec:
            if spec not in PROJECT_ROLES:
                raise ValueError(f"project role is admin or viewer, not {spec!r}")
            project_role = spec
            continue
        env_type, role = spec.split(":", 1)
        if env_type not in ENV_TYPES:
            raise ValueError(f"environment type is one of {', '.join(ENV_TYPES)}, not {env_type!r}")
        if role == "none":
            env_roles.pop(env_type, None)
        elif role in ENV_ROLES:
            env_roles[env_type] = role
        else:
            raise ValueError(f"environment role is admin, contributor, viewer or none, not {role!r}")
    return Grant(project_role, env_roles)


def needed_role(action: str, minimum: str | None = None) -> str:
    if action not in MINIMUM:
        raise ValueError(f"unknown action {action!r}")
    if minimum is not None and MINIMUM[action] != PROJECT_ADMIN:
        if minimum not in ENV_ROLES:
            raise ValueError(f"minimum role is admin, contributor or viewer, not {minimum!r}")
        return minimum
    return MINIMUM[action]


def decide(grant: Grant | None, action: str, env_type: str | None,
           minimum: str | None = None) -> Decision:
    """May a user holding `grant` do `action` on an environment of `env_type`?

    `env_type` None: a project-level action (project variables, users)."""
    needed = needed_role(action, minimum)
    if grant is None:
        return Decision(False, "no role on this project", _say_needed(needed, env_type))
    if grant.project_role == "admin":
        return Decision(True, "project admin", _say_needed(needed, env_type))
    if env_type is None and needed == "viewer":  # any user of a project may look at it
        return Decision(True, grant.describe(), "project viewer")
    if needed == PROJECT_ADMIN or env_type is None:
        return Decision(False, grant.describe(), "project admin")
    held = grant.role_for(env_type)
    allowed = held is not None and ENV_ROLES.index(held) >= ENV_ROLES.index(needed)
    return Decision(allowed, f"{env_type}:{held}" if held else f"no role on {env_type} environments",
                    _say_needed(needed, env_type))


def _say_needed(needed: str, env_type: str | None) -> str:
    if needed == PROJECT_ADMIN or env_type is None:
        return "project admin"
    return f"{env_type}:{needed}"


def refusal(who: str, action: str, where: str, decision: Decision) -> str:
    """The one line a refused user reads."""
    return (f"{who} may not {action} {where}: they have {decision.held}, "
            f"{action} needs {decision.needed} (ask a project admin: `shipway user:update`)")
