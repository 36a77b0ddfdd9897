"""Keeping Caddy's config in step with the environments, without hurting held requests.

Any Caddy config change fails the requests held at that moment, on every host
(NOTES.md). Deploys register their hold here. A change made while a hold is
active is not loaded then: the latest one is kept and loaded by the last hold
to end (T3), so every change made during a deploy's hold costs one reload
after it, not one each, and the caller never waits for another environment's
deploy. If holds overlap for longer than the hold limit, a timer loads the
pending config anyway (a held request is past its limit by then). A config
equal to the one loaded is never sent at all.

Outside holds, changes can be coalesced (T3, opt-in): a change loads at once
unless a load happened less than `coalesce_seconds` ago; then the latest config is
loaded when that window ends, so a burst of activations or domain additions
costs one reload per window instead of one each (every reload can fail a
request being accepted at that moment, and closes idle client connections).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipway.errors import PlatformError
from shipway.router.caddyconfig import render
from shipway.router.table import Site
from shipway.router.tls import Acme

# Off by default: with a window, `apply` returns before its change is loaded,
# so an environment just activated may answer from the old routes for up to
# the window. SHIPWAY_ROUTER_COALESCE_MS turns it on (0.5 s merges a loop of
# activations or a script adding domains into one reload per half second).
COALESCE_SECONDS = 0.0


class RouterControl:
    def __init__(
        self,
        load: Callable[[dict[str, Any]], None],
        current: Callable[[], dict[str, Any] | None],
        *,
        http_port: int,
        https_port: int,
        listen_host: str,
        admin_socket: Path,
        storage_dir: Path,
        hold_seconds: float,
        access_log: Path | None,
        listen: Mapping[str, str] | None = None,
        acme: Acme | None = None,
        coalesce_seconds: float = COALESCE_SECONDS,
        platform_sites: Sequence[Site] = (),
    ) -> None:
        # W1: the platform's own sites (the console), in every config from the first.
        self._platform_sites = tuple(platform_sites)
        self._load = load
        self._current = current
        self._render_args = dict(
            http_port=http_port, https_port=https_port, listen_host=listen_host,
            admin_socket=admin_socket, storage_dir=storage_dir, hold_seconds=hold_seconds,
            access_log=access_log, listen=listen, acme=acme,
        )
        self._hold_limit = hold_seconds
        self.acme = acme
        self._holds = 0
        self._cond = threading.Condition()
        self._loaded: dict[str, Any] | None = None
        self._pending: dict[str, Any] | None = None
        self._deferrals = 0
        self._coalesce = coalesce_seconds
        self._last_send = float("-inf")
        self._window: threading.Timer | None = None

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Mark a deploy's hold; config changes are deferred until the last hold ends."""
        with self._cond:
            self._holds += 1
        try:
            yield
        finally:
            with self._cond:
                self._holds -= 1
                if not self._holds:
                    self._flush()
                self._cond.notify_all()

    def apply(self, sites: Sequence[Site]) -> bool:
        """Load the config for `sites` if it differs from Caddy's, now or (while a hold
        is active) when the last hold ends; True if it changes."""
        config = render([*self._platform_sites, *sites], **self._render_args)  # type: ignore[arg-type]
        with self._cond:
            if self._loaded is None:
                self._loaded = self._current()
            if config == self._loaded:
                self._pending = None
                return False
            if self._holds:
                self._defer(config)
                return True
            wait = self._last_send + self._coalesce - time.monotonic()
            if wait > 0:
                self._coalesce_later(config, wait)
                return True
            self._pending = None
            self._send(config)
        return True

    def _coalesce_later(self, config: dict[str, Any], wait: float) -> None:
        self._pending = config
        if self._window is None:
            self._window = threading.Timer(wait, self._window_ends)
            self._window.daemon = True
            self._window.start()

    def _window_ends(self) -> None:
        with self._cond:
            self._window = None
            if not self._holds:
                self._flush()
            elif self._pending is not None:
                # A hold began meanwhile: the last one to end loads it, or the hold limit.
                config, self._pending = self._pending, None
                self._defer(config)

    @property
    def pending(self) -> bool:
        """A change waits for the holds to end."""
        with self._cond:
            return self._pending is not None

    def _defer(self, config: dict[str, Any]) -> None:
        if self._pending is None:
            self._deferrals += 1
            timer = threading.Timer(self._hold_limit, self._overdue, args=(self._deferrals,))
            timer.daemon = True
            timer.start()
        self._pending = config

    def _overdue(self, deferral: int) -> None:
        with self._cond:
            if deferral == self._deferrals:  # not a pending change made since
                self._flush()

    def _flush(self) -> None:
        config, self._pending = self._pending, None
        if config is None or config == self._loaded:
            return
        try:
            self._send(config)
        except PlatformError as error:
            # Raised here it would fail the deploy whose hold just ended; the
            # next change (any sync) renders from full state and tries again.
            print(f"shipway: the router did not take the deferred config: {error}",
                  file=sys.stderr, flush=True)

    def _send(self, config: dict[str, Any]) -> None:
        self._load(config)
        self._loaded = config
        self._last_send = time.monotonic()
