"""Keeping Caddy's config in step with the environments, without hurting held requests.

Any Caddy config change fails the requests held at that moment, on every host
(NOTES.md). Deploys register their hold here; a config change waits until no
hold is active (bounded by the hold limit), and a config equal to the one
loaded is never sent at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shipway.router.caddyconfig import render
from shipway.router.table import Site
from shipway.router.tls import Acme


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
    ) -> None:
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

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Mark a deploy's hold; config changes wait until it ends."""
        with self._cond:
            self._holds += 1
        try:
            yield
        finally:
            with self._cond:
                self._holds -= 1
                self._cond.notify_all()

    def apply(self, sites: Sequence[Site]) -> bool:
        """Load the config for `sites` if it differs from Caddy's; True if it changed."""
        config = render(sites, **self._render_args)  # type: ignore[arg-type]
        with self._cond:
            if self._loaded is None:
                self._loaded = self._current()
            if config == self._loaded:
                return False
            deadline = time.monotonic() + self._hold_limit
            while self._holds and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            self._load(config)
            self._loaded = config
        return True
