"""The variables an app sees at run time (D5). Pure.

Precedence, lowest first, as Platform.sh: app-config variables, project
variables, environment variables, then the platform's own. `.environment` is
sourced by dash after all of them (see `with_dot_environment`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipway.build.steps import GLOBAL_PATH_DIRS
from shipway.config.model import AppConfig
from shipway.encoding import b64json, env_value

SOCKET_PATH = "/run/shipway/sock/app.sock"


@dataclass(frozen=True)
class RunContext:
    project_id: str
    project_entropy: str
    branch: str
    machine_name: str
    environment_type: str
    tree_id: str
    routes: Mapping[str, Any]  # PLATFORM_ROUTES document
    relationships: Mapping[str, Any]
    user_variables: Mapping[str, Any]  # runtime-visible, name as written ("env:X", "x:y")
    port: int | None  # for socket_family tcp


def runtime_environment(app: AppConfig, ctx: RunContext, path_dirs: tuple[str, ...]) -> dict[str, str]:
    env_vars: dict[str, Any] = dict(app.variables.get("env", {}))
    platform_vars = {
        f"{prefix}:{name}": value
        for prefix, names in app.variables.items() if prefix != "env"
        for name, value in names.items()
    }
    for name, value in ctx.user_variables.items():
        if name.startswith("env:"):
            env_vars[name.removeprefix("env:")] = value
        else:
            platform_vars[name] = value
    env = {k: env_value(v) for k, v in env_vars.items()}
    env.update({
        "HOME": "/app",
        "PATH": ":".join([*GLOBAL_PATH_DIRS, *path_dirs, "/app/.local/bin",
                          "/usr/local/bin", "/usr/bin", "/bin"]),
        "PLATFORM_APP_DIR": "/app",
        "PLATFORM_APPLICATION_NAME": app.name,
        "PLATFORM_APPLICATION": b64json(app.platform_application(build_time=False)),
        "PLATFORM_PROJECT": ctx.project_id,
        "PLATFORM_PROJECT_ENTROPY": ctx.project_entropy,
        "PLATFORM_TREE_ID": ctx.tree_id,
        "PLATFORM_BRANCH": ctx.branch,
        "PLATFORM_ENVIRONMENT": ctx.machine_name,
        "PLATFORM_ENVIRONMENT_TYPE": ctx.environment_type,
        "PLATFORM_DOCUMENT_ROOT": document_root(app),
        "PLATFORM_ROUTES": b64json(ctx.routes),
        "PLATFORM_RELATIONSHIPS": b64json(ctx.relationships),
        "PLATFORM_VARIABLES": b64json(platform_vars),
        "PLATFORM_APP_COMMAND": app.web.start or "",
        "PLATFORM_PRE_APP_COMMAND": app.web.pre_start or "",
        "PLATFORM_POST_APP_COMMAND": app.web.post_start or "",
        # Outgoing email is not offered: empty, as Platform.sh leaves it when
        # email is disabled for an environment.
        "PLATFORM_SMTP_HOST": "",
    })
    if app.web.socket_family == "unix":
        env["SOCKET"] = SOCKET_PATH
    elif ctx.port is not None:
        env["PORT"] = str(ctx.port)
    return env


def document_root(app: AppConfig) -> str:
    root_location = app.web.locations.get("/")
    if root_location is None or not root_location.root:
        return "/app"
    return "/app/" + root_location.root.strip("/")


def with_dot_environment(script: str) -> tuple[str, ...]:
    """A dash command that sources /app/.environment first, as Platform.sh does.

    umask 007: files and sockets stay within the app's group, which the
    router belongs to (deploy/gate.py).
    """
    prelude = "umask 007\nif [ -f /app/.environment ]; then . /app/.environment; fi\n"
    return ("/bin/sh", "-c", prelude + script)

