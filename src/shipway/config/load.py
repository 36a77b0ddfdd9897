"""`load_project()`: a checked-out repository → one valid ProjectConfig, or a
ConfigError listing every problem found (each with file, line and key).

Stages, per app, service and route: discover (discover.py) → translate legacy
forms (normalize.py) → warn about keys shipway does not use (keys.py) →
check types (schema.py) → check rules spanning keys (checks.py) → build the
frozen model (assemble.py). Cross-references are checked last, once every
app and service is known. A stage that fails for one entity does not stop the
others, so one push reports everything.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import MappingProxyType

from shipway.errors import ConfigError, ConfigIssue, PlatformError

from .assemble import make_app, make_route, make_service
from .checks import (
    LoadedApp,
    LoadedRoute,
    check_app,
    check_env_size,
    check_project,
    check_routes_size,
    check_type,
)
from .discover import Source, discover
from .keys import APP_PENDING, NOT_IMPLEMENTED, ROUTE_PENDING, SERVICE_PENDING, report_keys
from .limits import LimitExceeded
from .model import ProjectConfig, RouteConfig, ServiceConfig
from .normalize import normalize_app
from .routes import parse_template
from .schema import NAME, AppSchema, RouteSchema, ServiceSchema, validate
from .sourcemap import Issues, Notes

IMPLICIT_ROUTE = "https://{default}/"
_log = logging.getLogger(__name__)


def load_project(root: Path, prefer: str = ".upsun") -> ProjectConfig:
    """`prefer`: which configuration a repository with both .platform and .upsun deploys (C10)."""
    issues = Issues()
    try:
        return _load(Path(root), issues, prefer)
    except LimitExceeded as exc:  # a cap stops everything: what was found so far, and it
        raise ConfigError(_ordered(issues.errors) + [exc.issue]) from None
    except ConfigError:
        raise
    except Exception as exc:
        # A bug, or a value no check foresaw: the pusher must not see a traceback
        # (it names the server's paths); the control plane's log keeps it.
        _log.exception("internal error while reading the configuration in %s", root)
        raise PlatformError("shipway failed while reading the configuration files (an internal "
                            f"error, {type(exc).__name__}; the details are in the control "
                            "plane's log); nothing was deployed") from None


def _load(repo: Path, issues: Issues, prefer: str) -> ProjectConfig:
    found = discover(repo, issues, prefer)
    if found is None:
        raise ConfigError(_ordered(issues.errors))
    apps = [app for app in (_load_app(s, repo) for s in found.apps) if app is not None]
    services = {str(s.name): svc for s in found.services
                if (svc := _load_service(s)) is not None}
    routes = [r for r in (_load_route(s) for s in found.routes or ()) if r is not None]
    check_project(apps, routes, _app_names(found.apps), {str(s.name) for s in found.services})
    check_routes_size([r.config for r in routes], routes)
    if issues.errors:
        raise ConfigError(_ordered(issues.errors))
    return ProjectConfig(
        apps=tuple(app.config for app in apps),
        services=MappingProxyType(services),
        routes=tuple(r.config for r in routes) or _implicit_routes(found.routes, apps),
        warnings=tuple(_ordered(issues.warnings)),
        flavour=found.flavour,
    )


def _app_names(sources: list[Source]) -> set[str]:
    datas = [s.data for s in sources if isinstance(s.data, dict)]
    return {d["name"] for d in datas if isinstance(d.get("name"), str)}


def _load_app(source: Source, repo: Path) -> LoadedApp | None:
    notes = source.notes
    if not isinstance(source.data, dict):
        notes.error((), "an app must be a mapping of keys such as name, type and web")
        return None
    if source.name is not None and source.data.get("name") not in (None, source.name):
        notes.error(("name",), f"'{source.data['name']}' differs from the app's key "
                    f"'{source.name}'; in this form the key is the app's name")
    data = normalize_app(source.data, notes)
    report_keys(data, AppSchema, APP_PENDING, notes)
    schema = validate(AppSchema, data, notes)
    if isinstance(data, dict) and data.get("type") is None and data.get("stack") is None:
        notes.error(("type",), "is required (e.g. 'python:3.12'), or a `stack` of runtimes")
        return None
    if schema is None:
        return None
    if not check_type(schema, notes):
        return None
    check_app(schema, notes, repo)
    config_file = notes.entity.where().file
    config = make_app(schema, data, config_file, source.default_root)
    check_env_size(config, notes)
    return LoadedApp(config, schema, notes)


def _load_service(source: Source) -> ServiceConfig | None:
    name, notes = str(source.name), source.notes
    if not NAME.fullmatch(name):
        notes.error((), f"invalid service name '{name}'; allowed: lowercase letters, digits, "
                    "'-' and '_'")
    report_keys(source.data, ServiceSchema, SERVICE_PENDING, notes)
    schema = validate(ServiceSchema, source.data, notes)
    return None if schema is None else make_service(name, schema)


def _load_route(source: Source) -> LoadedRoute | None:
    template, notes = str(source.name), source.notes
    try:
        parse_template(template)
    except ValueError as exc:
        notes.error((), f"invalid route: {exc}")
        return None
    report_keys(source.data, RouteSchema, ROUTE_PENDING, notes)
    schema = validate(RouteSchema, source.data, notes)
    if schema is None:
        return None
    _require_target(schema, notes)
    return LoadedRoute(make_route(template, schema), notes)


def _require_target(route: RouteSchema, notes: Notes) -> None:
    needed = "upstream" if route.type == "upstream" else "to"
    if getattr(route, needed) is None:
        example = "'app:http'" if needed == "upstream" else "'https://www.{default}/'"
        notes.error((needed,), f"is required for a route of type {route.type}, e.g. {example}")
    if route.type == "proxy":
        notes.warn(("type",), f"proxy routes are {NOT_IMPLEMENTED}")


def _implicit_routes(written: list[Source] | None,
                     apps: list[LoadedApp]) -> tuple[RouteConfig, ...]:
    """No routes written and one app: that app serves `https://{default}/` (reference §2.2)."""
    if written is not None or len(apps) != 1:
        return ()
    return (RouteConfig(IMPLICIT_ROUTE, "upstream", upstream=f"{apps[0].config.name}:http"),)


def _ordered(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Sorted by place, the first problem found at each key only (a NUL in a
    path is both bad text and a bad path: one message is enough)."""
    first = {(i.file, i.line, i.key): i for i in reversed(issues)}
    return sorted((_shown(i) for i in issues if first[(i.file, i.line, i.key)] is i),
                  key=lambda issue: (issue.file, issue.line or 0))


def _shown(issue: ConfigIssue) -> ConfigIssue:
    """One printable line of bounded length: messages quote pushed values, and a
    newline or an escape sequence in one must not forge lines of the push output."""
    return ConfigIssue(_line(issue.file, 200), issue.line, _line(issue.key, 200),
                       _line(issue.message, 500))


def _line(text: str, limit: int) -> str:
    if not text.isprintable():
        text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                       for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."
