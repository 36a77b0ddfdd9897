"""What each API route needs (A1, A3): a pure table, (method, path) -> Rule.

Every route of api/server.py must have a rule: `create_app` refuses to build
an app with a route missing from this table (and a unit test says which), so
a new endpoint cannot be reachable without an authorisation decision.

A rule's `scope` says where the environment (and so its type) comes from:

    operator       only root on the server (the unix socket without X-Shipway-Actor)
    any            any authenticated caller (the handler shows only what is theirs)
    project        the project itself (view: any of its users; others: project admin)
    env            the {env} path parameter
    parent         {env}'s parent: the environment a merge changes and deploys
    new-branch     the new environment `branch` creates (type from the body, else development)
    activity       the environment of the {id} activity
    body-env       the body's (or query's) environment, else the project
    backup-target  the restore's target environment, else the backup's own
    use-case       the use case decides (users, keys and tokens)
    hook           the unix socket only (the root-run git hook), then the use case (per ref)
"""

from __future__ import annotations

from dataclasses import dataclass

SCOPES = ("operator", "any", "project", "env", "parent", "new-branch", "activity", "body-env",
          "backup-target", "use-case", "hook")


@dataclass(frozen=True)
class Rule:
    action: str | None
    scope: str

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown scope {self.scope!r}")


P = "/projects/{project}"
E = P + "/environments/{env}"
RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/projects"): Rule(None, "operator"),
    ("GET", "/projects"): Rule("view", "any"),
    ("POST", P + "/push"): Rule("push", "hook"),
    ("GET", P): Rule("view", "project"),
    ("POST", P): Rule("project:admin", "project"),
    ("GET", "/runtimes"): Rule("view", "any"),
    ("GET", P + "/environments"): Rule("view", "project"),
    ("GET", E): Rule("view", "env"),
    ("GET", E + "/url"): Rule("view", "env"),
    ("GET", E + "/releases"): Rule("view", "env"),
    ("POST", E + "/redeploy"): Rule("redeploy", "env"),
    ("POST", E + "/rollback"): Rule("rollback", "env"),
    ("GET", P + "/variables"): Rule("view", "body-env"),
    ("PUT", P + "/variables"): Rule("variables", "body-env"),
    ("DELETE", P + "/variables"): Rule("variables", "body-env"),
    ("GET", E + "/logs/{kind}"): Rule("view", "env"),
    ("GET", P + "/activities"): Rule("view", "body-env"),
    ("GET", "/activities/{id}"): Rule("view", "activity"),
    ("GET", "/activities/{id}/log"): Rule("view", "activity"),
    ("POST", "/activities/{id}/cancel"): Rule("redeploy", "activity"),
    ("POST", E + "/backups"): Rule("backup", "env"),
    ("POST", E + "/backup-schedule"): Rule("settings", "env"),
    ("GET", P + "/backups"): Rule("view", "body-env"),
    ("GET", P + "/backups/{id}"): Rule("view", "project"),
    ("DELETE", P + "/backups/{id}"): Rule("restore", "project"),  # loses data: project admin
    ("POST", P + "/backups/{id}/restore"): Rule("restore", "backup-target"),
    ("POST", E + "/{action}"): Rule(None, "env"),  # ENV_ACTIONS below
    ("POST", P + "/domains"): Rule("project:admin", "project"),
    ("GET", P + "/domains"): Rule("view", "project"),
    ("GET", P + "/domains/{name}"): Rule("view", "project"),
    ("DELETE", P + "/domains/{name}"): Rule("project:admin", "project"),
    ("POST", "/console-links"): Rule(None, "operator"),  # W1: console:login, root only
    ("GET", "/whoami"): Rule("view", "any"),
    ("GET", "/api-info"): Rule("view", "any"),
    ("POST", P + "/users"): Rule("project:admin", "use-case"),
    ("GET", P + "/users"): Rule("view", "use-case"),
    ("GET", P + "/users/{email}"): Rule("view", "use-case"),
    ("PATCH", P + "/users/{email}"): Rule("project:admin", "use-case"),
    ("DELETE", P + "/users/{email}"): Rule("project:admin", "use-case"),
    ("POST", "/ssh-keys"): Rule(None, "use-case"),
    ("GET", "/ssh-keys"): Rule(None, "use-case"),
    ("DELETE", "/ssh-keys/{id}"): Rule(None, "use-case"),
    ("POST", "/api-tokens"): Rule(None, "use-case"),
    ("GET", "/api-tokens"): Rule(None, "use-case"),
    ("DELETE", "/api-tokens/{id}"): Rule(None, "use-case"),
}

# POST .../environments/{env}/{action}: action name -> Rule
ENV_ACTIONS: dict[str, Rule] = {
    "activate": Rule("activate", "env"),
    "deactivate": Rule("deactivate", "env"),
    "branch": Rule("branch", "new-branch"),
    "merge": Rule("merge", "parent"),
    "synchronize": Rule("sync", "env"),
    "set": Rule("settings", "env"),
}


def rule_for(method: str, path: str, params: dict[str, str]) -> Rule | None:
    """The rule of one request (`path`: the route's template); None: no rule, refuse."""
    rule = RULES.get((method, path))
    if rule is not None and rule.action is None and rule.scope == "env":
        return ENV_ACTIONS.get(params.get("action", ""))
    return rule
