"""Who the current request acts for, so every activity it starts records them (A1).

The API's guard sets it for the duration of one request; Starlette's thread
pool copies context variables into the worker thread, so the platform call
made for the request sees it. Work started by the platform itself (crons,
scheduled backups) runs with none set."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from shipway.access.model import Actor

_acting: ContextVar[Actor | None] = ContextVar("shipway_acting", default=None)


def current() -> Actor | None:
    return _acting.get()


def label() -> str | None:
    actor = _acting.get()
    return actor.label if actor else None


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _acting.set(actor)
    try:
        yield
    finally:
        _acting.reset(token)
