"""Rules that involve more than one key: within an app, and across the project.

Types are already checked (schema.py); these checks see validated schema
objects and report through Notes, so each message names file, line and key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shipway.encoding import b64json, is_env_name

from .keys import NOT_IMPLEMENTED
from .model import AppConfig, RouteConfig
from .nesting import Where, nested_problem, outer_of
from .regex import rule_problem
from .routes import platform_routes, resolve_routes
from .schema import AppSchema, MountSchema, RelationshipSchema, shown
from .sourcemap import KeyPath, Notes
from .stack import parse_stack

DEFAULT_FLAVORS = {"nodejs": "default", "php": "composer"}
FLAVORS = {
    "nodejs": ("default", "none"),
    "php": ("composer", "default", "none", "symfony", "drupal"),
}
# What the router refuses in a path prefix (router/table.py), and why: `{` is a
# Caddy placeholder, `*` a matcher wildcard, `?#` never reach a path.
_NOT_IN_URL_PATH = re.compile(r"[?#{}*\s\x00-\x1f\x7f]")
# Linux's MAX_ARG_STRLEN: no argv or environment string may be longer.
MAX_ENV_STRING = 128 * 1024
_APP_VAR = "PLATFORM_APPLICATION"
# <environment>.<project>.<domain>, as routes expand {default}: a long one (the
# real one is not known before deploy, which must still refuse cleanly past this).
_LONGEST_HOST = 64
DEPENDENCY_MANAGERS = ("php", "python", "python2", "python3", "nodejs", "ruby")


def resolve_flavor(runtime: str, written: str | None) -> str:
    """The build flavor that runs: the runtime's default unless one is named."""
    if written is None or written == "default":
        return DEFAULT_FLAVORS.get(runtime, "none")
    # Legacy: symfony was composer under another name (reference §4.2).
    return "composer" if (runtime, written) == ("php", "symfony") else written


@dataclass(frozen=True)
class LoadedApp:
    config: AppConfig
    schema: AppSchema
    notes: Notes


@dataclass(frozen=True)
class LoadedRoute:
    config: RouteConfig
    notes: Notes


def _passes_through(app: AppSchema) -> bool:
    """A location or rule sends requests to the app; none written means `/` does."""
    locations = app.web.locations
    if not locations:
        return True
    return any(loc.passthru or any(rule.passthru for rule in loc.rules.values())
               for loc in locations.values())


def _no_start_with_passthru(app: AppSchema, notes: Notes) -> None:
    """No start, yet a location passes through (C7). With a root to serve, Upsun
    serves its files and nothing answers the rest (upsun/demo-js's Astro app):
    a warning. With no root anywhere nothing could answer at all: refused."""
    where = ("web", "commands", "start")
    if any(loc.root for loc in app.web.locations.values()):
        notes.warn(where, "absent, so nothing runs to answer passthru: the router serves "
                   "the locations' files and answers other requests 404 (C7)")
        return
    notes.error(where, "web.commands.start is required (the command that starts the app, "
                "e.g. 'gunicorn app:app') when a location passes requests through to the "
                "app; without one only static files are served (C7): give a location a "
                "root, set passthru: false on every location, or add workers only")


def check_type(app: AppSchema, notes: Notes) -> bool:
    """`type`, or Upsun's `composable:<release>` with a `stack` (C8); False stops the app."""
    composable = (app.type or "").startswith("composable:")
    if app.stack is None and not app.type:
        pass  # reported before validation, with the other missing keys (load.py)
    elif app.stack is None and composable:
        notes.error(("stack",), "is required with a composable type, e.g. "
                    "stack: [\"nodejs@22\", \"python@3.12\"]")
    elif app.stack is not None and app.type and not composable:
        notes.error(("type",), f"must be 'composable:<release>' (or absent) with a `stack`; "
                    f"got {shown(app.type)}")
    else:
        _warn_stack_extensions(app, notes)
        return True
    return False


def _warn_stack_extensions(app: AppSchema, notes: Notes) -> None:
    if app.stack is None:
        return
    for runtime in parse_stack(app.stack).runtimes:
        if runtime.extensions or runtime.disabled_extensions:
            notes.warn(("stack",), f"{runtime.language}@{runtime.version}: extensions are not "
                       "switched per app by shipway yet; the host's PHP loads every extension "
                       "installed on it (Debian's php<version>-<extension> packages)")


def check_app(app: AppSchema, notes: Notes, repo: Path) -> None:
    runtime = app.runtime_type.partition(":")[0]
    _check_flavor(app, runtime, notes)
    _check_source_root(app.source.root, notes, repo)
    if app.web.commands.start is None and not app.workers and runtime != "php" \
            and _passes_through(app):
        _no_start_with_passthru(app, notes)
    for path, location in app.web.locations.items():
        if not path.startswith("/") or _NOT_IN_URL_PATH.search(path):
            notes.error(("web", "locations", path), f"a location must be a plain URL path "
                        f"starting with '/' (no ?, #, {{, }}, *, spaces or control "
                        f"characters); got {shown(path)}")
        for pattern in location.rules:
            problem = rule_problem(pattern)
            if problem:
                notes.error(("web", "locations", path, "rules", pattern),
                            f"rule pattern {problem}")
    for manager in app.dependencies:
        if manager not in DEPENDENCY_MANAGERS:
            notes.warn(("dependencies", manager), f"unknown dependency manager; ignored; "
                       f"allowed: {', '.join(DEPENDENCY_MANAGERS)}")
    for prefix, mounts in _mount_sets(app):
        _check_mounts(mounts, prefix, notes)
    _check_env_names(app, notes)


def _check_env_names(app: AppSchema, notes: Notes) -> None:
    sets = [((), app.variables)] + [(("workers", name), w.variables)
                                    for name, w in app.workers.items() if w.variables]
    for prefix, variables in sets:
        for name in variables.get("env", {}):
            if not is_env_name(name):
                notes.error(prefix + ("variables", "env", name), "an environment variable's "
                            "name must be letters, digits and '_', not starting with a digit")


def check_routes_size(routes: Sequence[RouteConfig], loaded: Sequence[LoadedRoute]) -> None:
    """Apps read the routes as one environment variable, which Linux caps."""
    if not loaded:
        return
    table = platform_routes(resolve_routes(routes, "x" * _LONGEST_HOST))
    size = len(b64json(table)) + len("PLATFORM_ROUTES") + 1
    if size > MAX_ENV_STRING:
        loaded[0].notes.error((), f"the routes are {size // 1024} KiB as PLATFORM_ROUTES "
                              f"(base64 JSON); Linux passes at most {MAX_ENV_STRING // 1024} "
                              "KiB in one environment variable: fewer routes or redirects")


def check_env_size(app: AppConfig, notes: Notes) -> None:
    """The app reaches its processes as one environment variable, which Linux caps."""
    size = len(b64json(app.platform_application(build_time=False))) + len(_APP_VAR) + 1
    if size > MAX_ENV_STRING:
        notes.error((), f"the app's configuration is {size // 1024} KiB as {_APP_VAR} (base64 "
                    f"JSON); Linux passes at most {MAX_ENV_STRING // 1024} KiB in one "
                    "environment variable: move large values (variables, hooks) into files")


def _check_flavor(app: AppSchema, runtime: str, notes: Notes) -> None:
    written = app.build.flavor
    allowed = FLAVORS.get(runtime, ("none", "default"))
    if written is not None and written not in allowed:
        notes.error(("build", "flavor"), f"unknown build flavor '{written}' for {runtime}; "
                    f"allowed: {', '.join(allowed)}")
    elif written == "drupal":
        notes.warn(("build", "flavor"), NOT_IMPLEMENTED)


def _check_source_root(root: str | None, notes: Notes, repo: Path) -> None:
    """`root` is already normalised and free of `..` (paths.py)."""
    if root is None:
        return
    full = repo / root
    if full.is_symlink() or not full.resolve().is_relative_to(repo.resolve()):
        notes.error(("source", "root"), f"'{root}' is a symlink; source.root must be a "
                    "directory in the repository")
    elif not full.is_dir():
        notes.error(("source", "root"), f"'{root}' is not a directory in the repository "
                    "(source.root is relative to the repository root)")


def _check_mounts(mounts: Mapping[str, MountSchema], prefix: KeyPath, notes: Notes) -> None:
    for path, mount in mounts.items():
        if mount.source == "service" and mount.service is None:
            notes.error(prefix + (path, "service"), "is required when source is 'service' "
                        "(the network-storage service to mount)")
        other = outer_of(path, mounts)
        if other is not None:
            problem = nested_problem(path, _where(path, mount), other, _where(other, mounts[other]))
            if problem:
                notes.error(prefix + (path,), problem)


def _where(path: str, mount: MountSchema) -> Where:
    # As the host joins it (assemble.py, instances.mount_binds): empty is the key.
    return Where(mount.source, mount.service, (mount.source_path or "").strip("/") or path)


def _mount_sets(app: AppSchema) -> Iterator[tuple[KeyPath, Mapping[str, MountSchema]]]:
    yield ("mounts",), app.mounts
    for name, worker in app.workers.items():
        if worker.mounts is not None:
            yield ("workers", name, "mounts"), worker.mounts


def _relationship_sets(
    app: AppSchema,
) -> Iterator[tuple[KeyPath, Mapping[str, RelationshipSchema]]]:
    yield ("relationships",), app.relationships
    for name, worker in app.workers.items():
        if worker.relationships is not None:
            yield ("workers", name, "relationships"), worker.relationships


def check_project(apps: Sequence[LoadedApp], routes: Sequence[LoadedRoute],
                  app_names: set[str], service_names: set[str]) -> None:
    """Cross-references. The name sets include entities that failed validation,
    so that their own errors are not echoed as "no such app" elsewhere."""
    _check_names(apps)
    for app in apps:
        _check_relationships(app, app_names, service_names)
        _check_mount_services(app, app_names, service_names)
    _check_cycles(apps)
    _check_routes(routes, app_names)


def _check_names(apps: Sequence[LoadedApp]) -> None:
    first: dict[str, LoadedApp] = {}
    for app in apps:
        earlier = first.setdefault(app.config.name, app)
        if earlier is not app:
            where = earlier.notes.entity.where(("name",))
            app.notes.error(("name", ), f"app name '{app.config.name}' is already defined in "
                            f"{where.file}:{where.line}; app names must be unique")


def _check_relationships(app: LoadedApp, apps: set[str], services: set[str]) -> None:
    for prefix, relationships in _relationship_sets(app.schema):
        for name, rel in relationships.items():
            here = prefix + (name,)
            if rel.service in apps and rel.endpoint is None:
                app.notes.error(here, f"'{rel.service}' is an app, which has no default "
                                f"endpoint; write '{rel.service}:http'")
            elif rel.service == app.config.name:
                app.notes.error(here, "an app cannot have a relationship to itself")
            elif rel.service not in apps and rel.service not in services:
                app.notes.error(here, f"'{rel.service}' is neither a service "
                                f"({_listed(services)}) nor an app ({_listed(apps)})")


def _check_mount_services(app: LoadedApp, apps: set[str], services: set[str]) -> None:
    for prefix, mounts in _mount_sets(app.schema):
        for path, mount in mounts.items():
            target = mount.service
            if target is not None and target not in services and target not in apps:
                app.notes.error(prefix + (path, "service"), f"'{target}' is neither a service "
                                f"({_listed(services)}) nor an app ({_listed(apps)})")


def _check_cycles(apps: Sequence[LoadedApp]) -> None:
    """Relationships between apps must not be circular (reference §1.4)."""
    by_name = {app.config.name: app for app in apps}
    edges = {name: [(prefix + (rel_name,), rel.service)
                    for prefix, rels in _relationship_sets(app.schema)
                    for rel_name, rel in rels.items()
                    if rel.service in by_name and rel.service != name]
             for name, app in by_name.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for path, target in edges[name]:
            if state.get(target) == "open":
                cycle = " → ".join(trail[trail.index(target):] + [name, target])
                by_name[name].notes.error(path, f"relationships between apps must not be "
                                          f"circular: {cycle}")
            elif target not in state:
                visit(target, trail + [name])
        state[name] = "done"

    for name in edges:
        if name not in state:
            visit(name, [])


def _check_routes(routes: Sequence[LoadedRoute], apps: set[str]) -> None:
    primary: LoadedRoute | None = None
    for route in routes:
        upstream = route.config.upstream
        if route.config.type == "upstream" and upstream is not None:
            if upstream.partition(":")[0] not in apps:
                route.notes.error(("upstream",), f"'{upstream}' names no app; apps: "
                                  f"{_listed(apps)}")
        if route.config.primary:
            if primary is not None:
                route.notes.error(("primary",), f"only one route may be primary; "
                                  f"'{primary.config.template}' already is")
            primary = primary or route


def _listed(names: Iterable[str]) -> str:
    found = sorted(names)
    return ", ".join(found) if found else "none defined"
