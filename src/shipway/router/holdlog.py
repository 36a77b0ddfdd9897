"""How many requests a deploy held, and for how long, read from Caddy's access log (D2).

Theory of operation. Caddy writes one JSON line per request when it is
answered: `ts` (wall clock, end of the request), `duration` (seconds) and
`request.host`. A request *waited* when it arrived inside the deploy's hold
window and went to an app through `reverse_proxy` (Caddy adds a `Via` header
to every proxied response) — static files, redirects and 404s are answered
at once and never wait. A request the router answered 503 itself (no `Via`)
after arriving in the window was *shed*: it reached the hold limit.

The window is wall-clock time (`time.time()`): from just before the first
gate closed to just after the last one opened. A request that arrives after
the gates opened but before `end` was taken counts, with a wait of a few
milliseconds; it never changes the longest wait.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HoldFigures:
    """`waited`: requests that arrived during the hold (shed ones included);
    `longest`: the longest of their times from arrival to answer, in seconds;
    `shed`: those answered 503 by the router at the hold limit."""

    waited: int = 0
    longest: float = 0.0
    shed: int = 0

    def summary(self) -> str:
        text = f"held {self.waited} request{'' if self.waited == 1 else 's'}, longest {self.longest:.3f} s"
        return text + (f", {self.shed} shed at the hold limit (503)" if self.shed else "")


def hold_figures(lines: Iterable[str], start: float, end: float, hosts: Collection[str]) -> HoldFigures:
    """Figures for the requests to `hosts` that arrived in [start, end]. Pure."""
    wanted = {h.lower() for h in hosts}
    waited, shed, longest = 0, 0, 0.0
    for entry in _entries(lines):
        duration = float(entry.get("duration") or 0.0)
        arrived = float(entry["ts"]) - duration
        if not start <= arrived <= end or not _host_in(_request_host(entry), wanted):
            continue
        proxied = "Via" in (entry.get("resp_headers") or {})
        if proxied or entry.get("status") == 503:
            waited += 1
            shed += 0 if proxied else 1
            longest = max(longest, duration)
    return HoldFigures(waited, round(longest, 6), shed)


def log_offset(access_log: Path) -> int:
    """Where the log ends now: take it before a hold, read from it after."""
    try:
        return access_log.stat().st_size
    except FileNotFoundError:
        return 0


def read_hold_figures(access_log: Path, start: float, end: float, hosts: Collection[str],
                      offset: int = 0) -> HoldFigures:
    """`hold_figures` over the access log from byte `offset` on.

    Caddy rolls the log at 100 MB; a file now shorter than `offset` was
    rolled, so it is read from its start (lines in the rolled part are lost).
    """
    try:
        with access_log.open("rb") as log:
            if os.fstat(log.fileno()).st_size >= offset:
                log.seek(offset)
            data = log.read()
    except FileNotFoundError:
        return HoldFigures()
    return hold_figures(data.decode("utf-8", errors="replace").splitlines(), start, end, hosts)


class HoldWindow:
    """One deploy's hold, as the deploy sees it: call `begin` just before the
    first gate closes, `finish` just after the last one opens, then `figures`.
    """

    # Held requests are answered, and logged, just after the gates open; give
    # the last of them this long to reach the log.
    SETTLE = 0.5

    def __init__(self, access_log: Path, hosts: Collection[str],
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.access_log, self.hosts = access_log, frozenset(hosts)
        self._clock, self._sleep = clock, sleep
        self.offset = log_offset(access_log)
        self.start: float | None = None
        self.end: float | None = None

    def begin(self) -> None:
        if self.start is None:
            self.start = self._clock()

    def finish(self) -> None:
        self.end = self._clock()

    def figures(self) -> HoldFigures | None:
        """The hold's figures; None if nothing was held (the deploy failed before)."""
        if self.start is None:
            return None
        end = self.end if self.end is not None else self._clock()
        self._sleep(max(0.0, end + self.SETTLE - self._clock()))
        return read_hold_figures(self.access_log, self.start, end, self.hosts, self.offset)


def _entries(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line Caddy is still writing, or not ours
        if isinstance(entry, dict) and isinstance(entry.get("ts"), int | float):
            yield entry


def _request_host(entry: dict[str, Any]) -> str:
    host = str((entry.get("request") or {}).get("host") or "").lower()
    name, colon, port = host.rpartition(":")
    # Strip a port, but not the tail of a bracketed IPv6 address.
    return name if colon and port.isdigit() and not name.endswith(":") else host


def _host_in(host: str, wanted: set[str]) -> bool:
    if host in wanted:
        return True
    _, dot, parent = host.partition(".")
    return bool(dot) and f"*.{parent}" in wanted


def access_lines(lines: Iterable[str], hosts: Collection[str], errors_only: bool = False) -> list[str]:
    """`shipway log access|error`: the router's requests for these hosts, one readable line
    each; `errors_only` keeps the 5xx answers."""
    wanted = {h.lower() for h in hosts}
    out = []
    for entry in _entries(lines):
        if not _host_in(_request_host(entry), wanted):
            continue
        status = int(entry.get("status") or 0)
        if errors_only and status < 500:
            continue
        request = entry.get("request") or {}
        stamp = datetime.fromtimestamp(float(entry["ts"]), UTC).strftime("%Y-%m-%d %H:%M:%S")
        method, host, uri = (_printable(request.get(key, default))
                             for key, default in (("method", "?"), ("host", ""), ("uri", "")))
        out.append(f"{stamp} {method} {host}{uri} {status} {float(entry.get('duration') or 0):.3f}s")
    return out


def _printable(value: object) -> str:
    """A client sent it: an escape sequence in a URI or Host must reach the
    operator's terminal as text, never as a command to it (as config/load.py does)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
