"""Validated schema objects → the frozen model, with every default filled in.

Nothing here can fail: schema.py and checks.py have accepted the input.
`raw` is the data as written (normalized) with the model's resolved values
laid on top, so keys shipway does not use are kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .checks import DEPENDENCY_MANAGERS, resolve_flavor
from .frozen import deep_merge, freeze, thaw
from .model import (
    AppConfig,
    Cron,
    Hooks,
    Location,
    Mount,
    Relationship,
    RouteConfig,
    ServiceConfig,
    Web,
    Worker,
)
from .routes import normalize_template
from .schema import (
    AppSchema,
    LocationSchema,
    MountSchema,
    RelationshipSchema,
    RouteSchema,
    ServiceSchema,
    WebSchema,
    WorkerSchema,
)
from .stack import parse_stack

# With no locations written, everything goes to the app: the default Platform.sh
# shows in a normalized app (reference §1.1).
_PASS_ALL = MappingProxyType({"/": Location(passthru=True, allow=False)})


def _packages(app: AppSchema) -> tuple[str, ...]:
    return parse_stack(app.stack).packages if app.stack is not None else ()


def make_app(app: AppSchema, data: Mapping[str, Any], config_file: str,
             default_root: str) -> AppConfig:
    runtime, _, version = app.runtime_type.partition(":")
    mounts = _mounts(app.mounts)
    relationships = _relationships(app.relationships)
    variables = freeze(app.variables)
    parts: dict[str, Any] = dict(
        name=app.name, type=app.runtime_type, runtime=runtime, runtime_version=version,
        stack=app.stack_types, packages=_packages(app),
        source_root=default_root if app.source.root is None else _root(app.source.root),
        config_file=config_file,
        build_flavor=resolve_flavor(runtime, app.build.flavor),
        dependencies=MappingProxyType({m: MappingProxyType(dict(p))
                                       for m, p in app.dependencies.items()
                                       if m in DEPENDENCY_MANAGERS}),
        hooks=Hooks(app.hooks.build, app.hooks.deploy, app.hooks.post_deploy),
        mounts=mounts, relationships=relationships, web=_web(app.web, runtime),
        workers=MappingProxyType({
            name: _worker(w, mounts, relationships, variables, app.disk)
            for name, w in app.workers.items()
        }),
        variables=variables, disk=app.disk,
        crons=MappingProxyType({
            name: Cron(c.spec, c.commands.start, c.shutdown_timeout)
            for name, c in app.crons.items()
        }),
    )
    raw = deep_merge(data, _raw_known(parts, app.workers))
    return AppConfig(**parts, raw=freeze(raw))


def _root(path: str) -> str:
    stripped = path.strip("/")
    return "" if stripped in ("", ".") else stripped


def _mounts(mounts: Mapping[str, MountSchema]) -> Mapping[str, Mount]:
    return MappingProxyType({
        path: Mount(m.source, path if m.source_path is None else m.source_path.strip("/"),
                    m.service)
        for path, m in mounts.items()
    })


def _relationships(rels: Mapping[str, RelationshipSchema]) -> Mapping[str, Relationship]:
    return MappingProxyType({name: Relationship(r.service, r.endpoint) for name, r in rels.items()})


def _web(web: WebSchema, runtime: str) -> Web:
    php = runtime == "php"
    locations = {path: _location(loc) for path, loc in web.locations.items()}
    return Web(
        start=web.commands.start, pre_start=web.commands.pre_start,
        post_start=web.commands.post_start,
        socket_family=web.upstream.socket_family or ("unix" if php else "tcp"),
        protocol=web.upstream.protocol or ("fastcgi" if php else "http"),
        locations=MappingProxyType(locations) if locations else _PASS_ALL,
    )


def _location(loc: LocationSchema) -> Location:
    return Location(
        root=None if loc.root is None else _root(loc.root), passthru=loc.passthru,
        expires=loc.expires, allow=loc.allow, scripts=loc.scripts,
        index=None if loc.index is None else tuple(loc.index),
        headers=MappingProxyType(dict(loc.headers)),
        rules=freeze({rx: rule.model_dump(exclude_none=True) for rx, rule in loc.rules.items()}),
    )


def _worker(worker: WorkerSchema, mounts: Mapping[str, Mount],
            relationships: Mapping[str, Relationship], variables: Mapping[str, Any],
            disk: int | None) -> Worker:
    return Worker(
        start=worker.commands.start,
        mounts=mounts if worker.mounts is None else _mounts(worker.mounts),
        relationships=relationships if worker.relationships is None
        else _relationships(worker.relationships),
        variables=variables if worker.variables is None else freeze(worker.variables),
        disk=disk if worker.disk is None else worker.disk,
    )


def _raw_known(parts: Mapping[str, Any], written_workers: Mapping[str, WorkerSchema]) -> dict:
    """The model's resolved values in the shape of the config file."""
    web: Web = parts["web"]
    return {
        "name": parts["name"], "type": parts["type"],
        "source": {"root": parts["source_root"]},
        "build": {"flavor": parts["build_flavor"]},
        "dependencies": thaw(parts["dependencies"]),
        "hooks": _plain(parts["hooks"]),
        "mounts": _plain_map(parts["mounts"]),
        "relationships": _plain_map(parts["relationships"]),
        "web": {"commands": {"start": web.start},
                "upstream": {"socket_family": web.socket_family, "protocol": web.protocol},
                "locations": _plain_map(web.locations)},
        "workers": {name: _raw_worker(w, written_workers[name])
                    for name, w in parts["workers"].items()},
        "variables": thaw(parts["variables"]), "disk": parts["disk"],
        "crons": {name: {"spec": c.spec, "commands": {"start": c.start},
                         "shutdown_timeout": c.shutdown_timeout}
                  for name, c in parts["crons"].items()},
    }


def _raw_worker(worker: Worker, written: WorkerSchema) -> dict[str, Any]:
    """Only what the worker itself sets: inherited keys would make the build key
    depend on top-level values twice (workers' mounts are build-relevant)."""
    raw: dict[str, Any] = {"commands": {"start": worker.start}}
    for key in ("mounts", "relationships", "variables", "disk"):
        if getattr(written, key) is not None:
            value = getattr(worker, key)
            raw[key] = _plain_map(value) if key in ("mounts", "relationships") else thaw(value)
    return raw


def _plain(obj: Any) -> dict[str, Any]:
    return {name: thaw(value) for name, value in vars(obj).items()}


def _plain_map(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _plain(value) for key, value in mapping.items()}


def make_service(name: str, service: ServiceSchema) -> ServiceConfig:
    kind, _, version = service.type.partition(":")
    return ServiceConfig(name=name, type=service.type, kind=kind, version=version,
                         disk=service.disk, configuration=freeze(service.configuration))


def make_route(template: str, route: RouteSchema) -> RouteConfig:
    return RouteConfig(
        template=normalize_template(template), type=route.type, upstream=route.upstream,
        to=route.to, id=route.id, primary=route.primary, attributes=freeze(route.attributes),
        redirects=freeze(route.redirects.model_dump(exclude_none=True)), cache=freeze(route.cache),
        tls=freeze(route.tls.model_dump(exclude_none=True)),
    )
