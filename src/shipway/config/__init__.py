"""Reading a repository's Platform.sh / Upsun configuration (pure; SPEC C1–C5).

    load_project(root) -> ProjectConfig        or raises ConfigError(issues)
    resolve_routes(routes, default_host)       -> tuple[ResolvedRoute, ...]
    platform_routes(resolved)                  -> PLATFORM_ROUTES as a dict
"""

from .load import load_project
from .model import (
    AppConfig,
    Cron,
    Hooks,
    Location,
    Mount,
    ProjectConfig,
    Relationship,
    RouteConfig,
    ServiceConfig,
    Web,
    Worker,
)
from .routes import ResolvedRoute, platform_routes, resolve_routes

__all__ = [
    "AppConfig",
    "Cron",
    "Hooks",
    "Location",
    "Mount",
    "ProjectConfig",
    "Relationship",
    "ResolvedRoute",
    "RouteConfig",
    "ServiceConfig",
    "Web",
    "Worker",
    "load_project",
    "platform_routes",
    "resolve_routes",
]
