"""What each configuration key may hold, checked by pydantic.

The input is the normalized plain dict (legacy forms already translated by
normalize.py), so these schemas know only the current forms. Strict mode:
YAML already gives real types, and a number where a string belongs is a
mistake to report, not to convert. Keys not declared here are accepted but
not implemented, or unknown: `extra="allow"` leaves them to keys.py.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from .paths import app_path, check_text, dir_path, file_name_path, instance_name, passthru_problem
from .sourcemap import Notes
from .stack import parse_stack

RUNTIMES = ("python", "nodejs", "php", "ruby", "golang", "java", "dotnet", "elixir", "rust",
            "lisp", "bun", "deno", "composable")
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+_-]*")
_KIND = re.compile(r"[a-z][a-z0-9-]*")
_EXPIRES = re.compile(r"-?[0-9]+(ms|s|m|h|d|w|M|y)?")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?H-]+")
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _app_name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(f"invalid app name '{value}'; allowed: lowercase letters, digits, "
                         "'-' and '_', starting with a letter or digit")
    return value


def _app_type(value: str) -> str:
    runtime, colon, version = value.partition(":")
    if runtime == "composable" and colon and _VERSION.fullmatch(version):
        return value  # its runtimes are in `stack` (config/stack.py, C8)
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime type '{value}'; allowed: {', '.join(RUNTIMES)} "
                         "(written '<runtime>:<version>', e.g. 'python:3.12')")
    if not colon or not _VERSION.fullmatch(version):
        raise ValueError(f"type must be '<runtime>:<version>', e.g. '{runtime}:<version>'; "
                         f"got '{value}'")
    return value


def _service_type(value: str) -> str:
    kind, colon, version = value.partition(":")
    if not colon or not _KIND.fullmatch(kind) or not _VERSION.fullmatch(version):
        raise ValueError(f"type must be '<service>:<version>', e.g. 'postgresql:15'; "
                         f"got '{value}'")
    return value


def _passthru(value: Any) -> bool | str:
    if isinstance(value, str) and value.startswith("/"):
        check_text(value)
        value = _router_text(value)
        problem = passthru_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    if isinstance(value, bool):
        return value
    raise ValueError("must be true, false, or the URL path of a front controller such as "
                     f"'/index.php'; got {shown(value)}")


def _expires(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value}s"
    if isinstance(value, str) and _EXPIRES.fullmatch(value):
        return value
    raise ValueError("must be a duration such as '1h', '30m', '7d' or -1 (no caching); units: "
                     f"ms, s, m, h, d, w, M, y; got {shown(value)}")


def _cron_spec(value: str) -> str:
    fields = value.split()
    if value.strip() in _CRON_MACROS or (
        len(fields) == 5 and all(_CRON_FIELD.fullmatch(f) for f in fields)
    ):
        return value
    raise ValueError(f"must be a 5-field cron schedule such as '*/10 * * * *'; got '{value}'")


def _prefix_group(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise ValueError("every variable must be grouped under a prefix, e.g. "
                     f"variables: {{env: {{NAME: value}}}}; got {shown(value)}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ROUTE_PLACEHOLDERS = re.compile(r"\{(default|all)\}")


def _router_text(value: str) -> str:
    """A value the router (Caddy) is given as is: Caddy expands `{...}` in it, and
    `{file./path}` or `{env.NAME}` would serve its own files and environment."""
    if "{" in value or "}" in value:
        raise ValueError(f"must not contain '{{' or '}}': the router would read them as its "
                         f"placeholders (such as {{file.*}}, which reads a file); got "
                         f"{shown(value)}")
    if _CONTROL.search(value):
        raise ValueError(f"must not contain control characters; got {shown(value)}")
    return value


def _redirect_target(value: str) -> str:
    """A redirect's `to`: `{default}` and `{all}` are shipway's; nothing else may reach Caddy."""
    _router_text(_ROUTE_PLACEHOLDERS.sub("", value))
    return value


def _location_root(value: str) -> str:
    return app_path(_router_text(value))


def _index_file(value: str) -> str:
    return file_name_path(_router_text(value))


def _cache(value: Any) -> Any:
    if value is None or isinstance(value, bool | dict):
        return value
    raise ValueError(f"must be a mapping or true/false; got {shown(value)}")


def _empty_if_null(value: Any) -> Any:
    # A key written with nothing under it (`hooks:`) means "none", not an error.
    return {} if value is None else value


T = TypeVar("T")
Section = Annotated[T, BeforeValidator(_empty_if_null)]
# Bounds far above any real value, so that no later arithmetic or syscall sees 10**100.
DiskMB = Annotated[int, Field(ge=1, le=10_000_000)]  # 10 TB
Seconds = Annotated[int, Field(ge=0, le=86_400)]
Passthru = Annotated[Any, AfterValidator(_passthru)]
Expires = Annotated[Any, AfterValidator(_expires)]
Variables = dict[str, Annotated[Any, AfterValidator(_prefix_group)]]
MountSource = Literal["local", "storage", "instance", "tmp", "service"]
# Paths, normalised by paths.py (S1): a model built from these holds no `..`.
AppPath = Annotated[str, AfterValidator(app_path)]
MountPath = Annotated[str, AfterValidator(dir_path)]
IndexFile = Annotated[str, AfterValidator(_index_file)]
LocationRoot = Annotated[str, AfterValidator(_location_root)]
RouterText = Annotated[str, AfterValidator(_router_text)]
Headers = dict[RouterText, RouterText]
RedirectTarget = Annotated[str, AfterValidator(_redirect_target)]
WorkerName = Annotated[str, AfterValidator(instance_name)]


class _Schema(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class HooksSchema(_Schema):
    build: str | None = None
    deploy: str | None = None
    post_deploy: str | None = None


class BuildSchema(_Schema):
    flavor: str | None = None


class SourceSchema(_Schema):
    root: AppPath | None = None


class MountSchema(_Schema):
    source: MountSource
    source_path: AppPath | None = None
    service: str | None = None


class RelationshipSchema(_Schema):
    service: str
    endpoint: str | None = None


Mounts = dict[MountPath, MountSchema]
Relationships = dict[str, RelationshipSchema]


class WebCommandsSchema(_Schema):
    start: str | None = None
    pre_start: str | None = None
    post_start: str | None = None


class UpstreamSchema(_Schema):
    socket_family: Literal["tcp", "unix"] | None = None
    protocol: Literal["http", "fastcgi"] | None = None


class RuleSchema(_Schema):
    passthru: Passthru | None = None
    scripts: bool | None = None
    expires: Expires | None = None
    allow: bool | None = None
    headers: Headers | None = None


class LocationSchema(_Schema):
    root: LocationRoot | None = None
    passthru: Passthru = False
    expires: Expires | None = None
    allow: bool = True
    scripts: bool | None = None  # PHP: run scripts under the root (None: yes)
    index: list[IndexFile] | None = None
    headers: Section[Headers] = {}
    rules: Section[dict[str, Section[RuleSchema]]] = {}


class WebSchema(_Schema):
    commands: Section[WebCommandsSchema] = WebCommandsSchema()
    upstream: Section[UpstreamSchema] = UpstreamSchema()
    locations: Section[dict[str, Section[LocationSchema]]] = {}


class WorkerCommandsSchema(_Schema):
    start: str


class WorkerSchema(_Schema):
    """None means "inherit the app's"; a worker overrides a whole key or nothing."""

    commands: WorkerCommandsSchema
    mounts: Mounts | None = None
    relationships: Relationships | None = None
    variables: Variables | None = None
    disk: DiskMB | None = None


class CronCommandsSchema(_Schema):
    start: str


class CronSchema(_Schema):
    spec: Annotated[str, AfterValidator(_cron_spec)]
    commands: CronCommandsSchema
    shutdown_timeout: Seconds | None = None


class AccessSchema(_Schema):
    """Who may `shipway ssh` into the app (A4): the least environment role, as on Platform.sh."""

    ssh: Literal["admin", "contributor", "viewer"] = "contributor"


class RuntimeSchema(_Schema):
    """PHP's modules (C6), checked against the host's at push (php/extensions.py)."""

    extensions: list[str | dict[str, Any]] = []
    disabled_extensions: list[str | dict[str, Any]] = []


def _stack(value: Any) -> Any:
    if value is not None:
        parse_stack(value)
    return value


class AppSchema(_Schema):
    name: Annotated[str, AfterValidator(_app_name)]
    type: Annotated[str, AfterValidator(_app_type)] | None = None  # absent with an Upsun `stack`
    stack: Annotated[Any, AfterValidator(_stack)] = None
    source: Section[SourceSchema] = SourceSchema()
    build: Section[BuildSchema] = BuildSchema()
    dependencies: Section[dict[str, Section[dict[str, str]]]] = {}
    hooks: Section[HooksSchema] = HooksSchema()
    mounts: Section[Mounts] = {}
    relationships: Section[Relationships] = {}
    web: Section[WebSchema] = WebSchema()
    workers: Section[dict[WorkerName, WorkerSchema]] = {}
    variables: Section[Variables] = {}
    disk: DiskMB | None = None
    crons: Section[dict[str, CronSchema]] = {}
    timezone: str | None = None  # read by the cron scheduler (D10)
    access: Section[AccessSchema] = AccessSchema()  # read by `shipway ssh` (A4)
    runtime: Section[RuntimeSchema] = RuntimeSchema()

    @property
    def runtime_type(self) -> str:
        """The primary runtime as a `type`: `type` itself, or the first of `stack` (C8)."""
        if self.stack is not None:
            return parse_stack(self.stack).primary.type
        return self.type or ""

    @property
    def stack_types(self) -> tuple[str, ...]:
        """Every runtime of the app as a `type`, the primary first."""
        if self.stack is None:
            return (self.type,) if self.type else ()
        return tuple(r.type for r in parse_stack(self.stack).runtimes)


class ServiceSchema(_Schema):
    type: Annotated[str, AfterValidator(_service_type)]
    disk: DiskMB | None = None
    configuration: Section[dict[str, Any]] = {}


class PathRedirectSchema(_Schema):
    to: RedirectTarget
    regexp: bool = False
    prefix: bool = True
    append_suffix: bool = True
    code: Literal[301, 302, 307, 308] = 302
    expires: Expires | None = None


class RedirectsSchema(_Schema):
    expires: Expires | None = None
    paths: Section[dict[str, Section[PathRedirectSchema]]] = {}


class HstsSchema(_Schema):
    enabled: bool | None = None
    include_subdomains: bool = False
    preload: bool = False


class TlsSchema(_Schema):
    min_version: Literal["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"] | None = None
    strict_transport_security: Section[HstsSchema] = HstsSchema()
    client_authentication: Literal["request", "require"] | None = None
    client_certificate_authorities: Section[list[str]] = []


class RouteSchema(_Schema):
    type: Literal["upstream", "redirect", "proxy"]
    upstream: str | None = None
    to: RedirectTarget | None = None
    id: str | None = None
    primary: bool | None = None
    attributes: Section[dict[str, Any]] = {}
    redirects: Section[RedirectsSchema] = RedirectsSchema()
    cache: Annotated[Any, AfterValidator(_cache)] = None
    tls: Section[TlsSchema] = TlsSchema()  # T2: applied by the router


M = TypeVar("M", bound=BaseModel)


def validate(schema: type[M], data: Any, notes: Notes) -> M | None:
    """`data` as a `schema` instance, or None after reporting every problem in it."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            # A bad mapping key is reported at the key itself.
            notes.error(loc[:-1] if loc[-1:] == ("[key]",) else loc, describe(error))
        return None


_MESSAGES = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
}


def describe(error: Any) -> str:
    """A pydantic error in the YAML user's words: what is wrong, what is allowed."""
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        text = f"must be {error['ctx']['expected']}"
    else:
        text = _MESSAGES.get(kind, error["msg"])
    return f"{text}; got {shown(error['input'])}"


def shown(value: Any) -> str:
    """A short YAML-flavoured description of a value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
