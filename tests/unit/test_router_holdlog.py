"""Held-request figures per deploy, from Caddy's JSON access log (D2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shipway.router.holdlog import (
    HoldFigures,
    HoldWindow,
    access_lines,
    hold_figures,
    log_offset,
    read_hold_figures,
)

HOSTS = {"main-abc.shop.localhost", "*.main-abc.shop.localhost"}
START, END = 1000.0, 1010.0


def _line(arrived: float, duration: float, *, host: str = "main-abc.shop.localhost:8080",
          status: int = 200, proxied: bool = True) -> str:
    headers: dict[str, Any] = {"Content-Type": ["text/plain"]}
    if proxied:
        headers["Via"] = ["1.1 Caddy"]
    return json.dumps({
        "level": "info", "ts": arrived + duration, "logger": "http.log.access.shipway_access",
        "msg": "handled request", "request": {"method": "POST", "host": host, "uri": "/"},
        "duration": duration, "status": status, "resp_headers": headers,
    })


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([], HoldFigures(0, 0.0, 0)),
        # Arrived in the window, answered by the app once released.
        ([_line(1001, 9.2), _line(1009.5, 0.8)], HoldFigures(2, 9.2, 0)),
        # Before the window, after it, or for another host: not this hold's.
        ([_line(999.9, 0.5), _line(1010.1, 0.01), _line(1002, 8.5, host="other.localhost")],
         HoldFigures(0, 0.0, 0)),
        # Wildcard routes and a host without a port.
        ([_line(1003, 7.0, host="www.main-abc.shop.localhost"),
          _line(1004, 6.0, host="MAIN-ABC.shop.localhost")], HoldFigures(2, 7.0, 0)),
        # Static files and redirects are answered by the router at once: never held.
        ([_line(1005, 0.001, proxied=False), _line(1005, 0.001, status=301, proxied=False)],
         HoldFigures(0, 0.0, 0)),
        # The router's own 503 at the hold limit: waited and shed.
        ([_line(1001, 300.0, status=503, proxied=False), _line(1002, 9.0)], HoldFigures(2, 300.0, 1)),
        # The app's own 503 went through the proxy: it waited, it was not shed.
        ([_line(1001, 9.5, status=503)], HoldFigures(1, 9.5, 0)),
        # Garbage and half-written lines are skipped.
        (["not json", '{"ts": "x"}', _line(1001, 9.0)[:40], _line(1001, 9.0)], HoldFigures(1, 9.0, 0)),
    ],
)
def test_hold_figures(lines: list[str], expected: HoldFigures) -> None:
    assert hold_figures(lines, START, END, HOSTS) == expected


def test_summary_reads_as_a_log_line() -> None:
    assert HoldFigures(3, 2.5, 0).summary() == "held 3 requests, longest 2.500 s"
    assert HoldFigures(1, 300.0, 1).summary() == (
        "held 1 request, longest 300.000 s, 1 shed at the hold limit (503)")


def test_reader_starts_at_the_offset_taken_before_the_hold(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    assert log_offset(log) == 0
    assert read_hold_figures(log, START, END, HOSTS) == HoldFigures()
    log.write_text(_line(1001, 9.0) + "\n")
    offset = log_offset(log)
    with log.open("a") as out:
        out.write(_line(1002, 3.0) + "\n")
    assert read_hold_figures(log, START, END, HOSTS, offset) == HoldFigures(1, 3.0, 0)
    assert read_hold_figures(log, START, END, HOSTS) == HoldFigures(2, 9.0, 0)


def test_a_rolled_log_is_read_from_its_start(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_line(1001, 4.0) + "\n")
    assert read_hold_figures(log, START, END, HOSTS, offset=10_000) == HoldFigures(1, 4.0, 0)


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_hold_window_counts_what_arrived_between_begin_and_finish(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(_line(990, 1.0) + "\n")  # an earlier deploy's: before the offset
    clock = _Clock(START)
    window = HoldWindow(log, HOSTS, clock=clock, sleep=clock.sleep)
    assert window.figures() is None, "no hold began"
    window.begin()
    clock.now = 1002
    window.begin()  # a second app's hold does not move the start
    clock.now = END
    window.finish()
    with log.open("a") as out:
        out.write(_line(1001, 9.3) + "\n" + _line(1000.5, 9.0) + "\n")
    assert window.figures() == HoldFigures(2, 9.3, 0)
    assert clock.slept == [HoldWindow.SETTLE], "waits for the last held answers to be logged"


def _request(uri: str, method: str = "GET") -> str:
    return json.dumps({"ts": 1001.0, "request": {"method": method, "host": "main-abc.shop.localhost",
                                                 "uri": uri}, "status": 200, "duration": 0.01})


@pytest.mark.parametrize(
    ("uri", "method", "shown"),
    [
        ("/plain?a=1", "GET", "GET main-abc.shop.localhost/plain?a=1 200"),
        # A client's escape sequence or newline reaches the operator's terminal as text.
        ("/\x1b]0;owned\x07\x1b[2J", "GET", "GET main-abc.shop.localhost/\\x1b]0;owned\\x07\\x1b[2J 200"),
        ("/a\nfake line\r", "GET", "GET main-abc.shop.localhost/a\\nfake line\\r 200"),
        ("/\u009b31m", "G\x1bET", "G\\x1bET main-abc.shop.localhost/\\x9b31m 200"),
    ],
)
def test_access_lines_never_print_a_control_character(uri: str, method: str, shown: str) -> None:
    [line] = access_lines([_request(uri, method)], HOSTS)
    assert shown in line
    assert line.isprintable()
