"""The configuration model the rest of shipway uses.

Every class is a frozen dataclass whose mappings are read-only; instances are
only made by `load_project()` after validation, so one that exists is valid.
Field meanings follow reference/platform-config.md §1–2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from shipway.errors import ConfigIssue, NotFound

from .frozen import thaw

MountSource = Literal["local", "storage", "instance", "tmp", "service"]
RouteType = Literal["upstream", "redirect", "proxy"]
EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return EMPTY


def no_entries() -> Any:
    """A dataclass field defaulting to an empty read-only mapping."""
    return field(default_factory=_empty)

# PLATFORM_APPLICATION at build time leaves these out (reference §3.1); they are
# also exactly the keys that do not change the build (§4.4, §5).
_RUNTIME_ONLY = ("access", "relationships", "crons")


@dataclass(frozen=True)
class Hooks:
    build: str | None = None
    deploy: str | None = None
    post_deploy: str | None = None


@dataclass(frozen=True)
class Mount:
    source: MountSource
    source_path: str
    service: str | None = None


@dataclass(frozen=True)
class Relationship:
    """`service` names a service or an app; `endpoint` None means the service's default."""

    service: str
    endpoint: str | None = None


@dataclass(frozen=True)
class Location:
    root: str | None = None
    passthru: bool | str = False
    expires: str | None = None
    allow: bool = True
    index: tuple[str, ...] | None = None
    headers: Mapping[str, str] = no_entries()
    scripts: bool | None = None  # PHP only: execute scripts under `root` (None: yes)
    rules: Mapping[str, Mapping[str, Any]] = no_entries()


@dataclass(frozen=True)
class Web:
    """How the web instance listens. With no `locations` written, `/` passes
    everything through to the app (as Platform.sh's normalized config shows)."""

    start: str | None
    socket_family: Literal["tcp", "unix"]
    protocol: Literal["http", "fastcgi"]
    locations: Mapping[str, Location]
    # Upsun's web.commands: set-up run before `start` by the same supervised
    # shell (so the deploy hook does not wait for it), and a check run after
    # the start, before requests are served.
    pre_start: str | None = None
    post_start: str | None = None


@dataclass(frozen=True)
class Worker:
    """A worker instance; mounts, relationships, variables and disk are the app's
    unless the worker overrides them (whole key, no merge)."""

    start: str
    mounts: Mapping[str, Mount]
    relationships: Mapping[str, Relationship]
    variables: Mapping[str, Mapping[str, Any]]
    disk: int | None = None


@dataclass(frozen=True)
class Cron:
    spec: str
    start: str
    shutdown_timeout: int | None = None


@dataclass(frozen=True)
class AppConfig:
    name: str
    type: str
    runtime: str
    runtime_version: str
    source_root: str
    config_file: str
    build_flavor: str
    dependencies: Mapping[str, Mapping[str, str]]
    hooks: Hooks
    mounts: Mapping[str, Mount]
    relationships: Mapping[str, Relationship]
    web: Web
    workers: Mapping[str, Worker]
    variables: Mapping[str, Mapping[str, Any]]
    disk: int | None
    crons: Mapping[str, Cron]
    raw: Mapping[str, Any] = field(repr=False)
    # Upsun composable images (C8): every runtime as a `type`, the primary
    # (`type` above) first; and the extra packages the stack names.
    stack: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    def platform_application(self, build_time: bool) -> dict[str, Any]:
        """The normalized app as PLATFORM_APPLICATION shows it (JSON-able)."""
        app: dict[str, Any] = thaw(self.raw)
        if not build_time:
            return app
        for key in _RUNTIME_ONLY:
            app.pop(key, None)
        app["hooks"] = {"build": app.get("hooks", {}).get("build")}
        web = app.pop("web", None) or {}
        if "mounts" in web:
            app["web"] = {"mounts": web["mounts"]}
        workers = app.pop("workers", None) or {}
        kept = {name: {"mounts": w["mounts"]} for name, w in workers.items() if "mounts" in w}
        if kept:
            app["workers"] = kept
        return app

    def build_relevant(self) -> dict[str, Any]:
        """Everything in the app's config that must change its build key."""
        return self.platform_application(build_time=True)


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    type: str
    kind: str
    version: str
    disk: int | None
    configuration: Mapping[str, Any]


@dataclass(frozen=True)
class RouteConfig:
    """One route as written; `template` is the normalized key (`https://{default}/`)."""

    template: str
    type: RouteType
    upstream: str | None = None
    to: str | None = None
    id: str | None = None
    primary: bool | None = None
    attributes: Mapping[str, Any] = no_entries()
    redirects: Mapping[str, Any] = no_entries()
    cache: Mapping[str, Any] | bool | None = None
    tls: Mapping[str, Any] = no_entries()  # T2: min_version, HSTS, client certificates


@dataclass(frozen=True)
class ProjectConfig:
    apps: tuple[AppConfig, ...]
    services: Mapping[str, ServiceConfig]
    routes: tuple[RouteConfig, ...]
    warnings: tuple[ConfigIssue, ...]
    flavour: Literal["platform", "upsun"]

    def app(self, name: str) -> AppConfig:
        for app in self.apps:
            if app.name == name:
                return app
        known = ", ".join(a.name for a in self.apps)
        raise NotFound(f"no app named '{name}' in this project; apps: {known}")
