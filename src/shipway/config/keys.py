"""Keys the schemas do not use: warn about each, never drop one silently.

A key is either accepted by Platform.sh but not implemented by shipway (the
PENDING lists, dotted paths where `*` stands for any name), or unknown to
both. Platform.sh ignores unknown top-level app keys (reference §0), so
neither is an error. Schema fields are found by walking the pydantic models
alongside the data.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable
from inspect import isclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from .sourcemap import KeyPath, Notes

NOT_IMPLEMENTED = "accepted by Platform.sh but not implemented by shipway yet; ignored"

APP_PENDING = frozenset({
    "size", "runtime.sizing_hints", "runtime.xdebug",
    "runtime.request_terminate_timeout", "additional_hosts", "firewall", "operations",
    "container_profile", "preflight", "toolstack", "resources",
    "source.operations",
    "web.commands.stop",
    "web.move_to_root",
    "web.locations.*.request_buffering",
    "workers.*.size", "workers.*.access", "workers.*.container_profile",
    "crons.*.commands.stop", "crons.*.timeout",
})
SERVICE_PENDING = frozenset({"size", "relationships", "container_profile"})
ROUTE_PENDING = frozenset({"cache", "ssi", "sticky"})


def report_keys(data: Any, schema: type[BaseModel], pending: frozenset[str], notes: Notes,
                path: KeyPath = ()) -> None:
    """Warn about every key in `data` (and below) that `schema` does not use."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        here = path + (key,)
        field = schema.model_fields.get(key)
        if _is_pending(here, pending):
            notes.warn(here, NOT_IMPLEMENTED)
        elif field is None:
            notes.warn(here, _unknown(key, list(schema.model_fields), top=not path))
        else:
            _descend(value, field.annotation, pending, notes, here)


def _descend(value: Any, annotation: Any, pending: frozenset[str], notes: Notes,
             path: KeyPath) -> None:
    annotation = _bare(annotation)
    if isclass(annotation) and issubclass(annotation, BaseModel):
        report_keys(value, annotation, pending, notes, path)
    elif get_origin(annotation) is dict and isinstance(value, dict):
        item_type = _bare(get_args(annotation)[1])
        if isclass(item_type) and issubclass(item_type, BaseModel):
            for name, item in value.items():
                report_keys(item, item_type, pending, notes, path + (name,))


def _bare(annotation: Any) -> Any:
    """`X` from `Annotated[X, …]`, `X | None` and their combinations."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            others = [a for a in get_args(annotation) if a is not type(None)]
            if len(others) != 1:
                return annotation
            annotation = others[0]
        else:
            return annotation


def _is_pending(path: KeyPath, pending: Iterable[str]) -> bool:
    return any(_matches(path, pattern.split(".")) for pattern in pending)


def _matches(path: KeyPath, pattern: list[str]) -> bool:
    return len(path) == len(pattern) and all(
        want in ("*", part) for part, want in zip(path, pattern, strict=True)
    )


def _unknown(key: str, known: list[str], top: bool) -> str:
    message = "unknown key; ignored"
    if top:
        message += " (Platform.sh ignores unknown top-level keys)"
    close = difflib.get_close_matches(key, known, n=1)
    return message + (f"; did you mean '{close[0]}'?" if close else "")
