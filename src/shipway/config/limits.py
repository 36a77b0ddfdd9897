"""Caps on what parsing one project's configuration may cost (S5).

Theory of operation: config is parsed by the root control plane, so a pushed
file must not be able to take its memory or time. Real configs are a few kB,
a few hundred nodes and under ten levels deep; the caps sit two to three
orders of magnitude above that. As ruamel's composer takes each event from
the parser (which is iterative: neither depth nor size costs it a stack
frame), a `Meter` counts what the tree will hold once every alias is
expanded: an anchor's expanded size is known when its node ends, and each
`*alias` adds that size again. A billion-laughs bomb is refused at its first
aliases past the cap, and a deep nesting at level 65, long before the
recursive composer could exhaust Python's stack. `Budget` carries the
totals across the files and `!include`s of one project, since each include
is read and expanded again wherever it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    ScalarEvent,
)

from shipway.errors import ConfigIssue

MiB = 1024 * 1024
MAX_FILE_BYTES = 1 * MiB        # one file (real: a few kB)
MAX_TOTAL_BYTES = 4 * MiB       # every file and include read for one project
MAX_INCLUDES = 256              # !include resolutions per project
MAX_DEPTH = 64                  # nesting of mappings and lists, across includes too
MAX_NODES = 50_000              # values once aliases are expanded, per project
MAX_TEXT = 8 * MiB              # characters of scalars once aliases are expanded


class LimitExceeded(Exception):
    """A cap was reached; carries the issue that names the file, line and cap."""

    def __init__(self, issue: ConfigIssue) -> None:
        super().__init__(str(issue))
        self.issue = issue


@dataclass
class Budget:
    """What one project's parsing has spent so far."""

    bytes: int = 0
    includes: int = 0
    nodes: int = 0
    text: int = 0

    def read(self, rel: str, size: int) -> None:
        """Account for reading `rel` (`size` bytes) before it is read."""
        if size > MAX_FILE_BYTES:
            _refuse(rel, None, f"the file is {_mib(size)}; a configuration file may be at most "
                    f"{_mib(MAX_FILE_BYTES)}")
        self.bytes += size
        if self.bytes > MAX_TOTAL_BYTES:
            _refuse(rel, None, f"the configuration files and includes read so far add up to "
                    f"{_mib(self.bytes)}; at most {_mib(MAX_TOTAL_BYTES)} may be read")

    def include(self, rel: str, line: int | None) -> None:
        self.includes += 1
        if self.includes > MAX_INCLUDES:
            _refuse(rel, line, f"more than {MAX_INCLUDES} !include resolutions in one project "
                    "(counting each time an included value is used again through an alias)")

    def spend(self, rel: str, line: int, nodes: int, text: int) -> None:
        self.nodes += nodes
        self.text += text
        if self.nodes > MAX_NODES:
            _refuse(rel, line, f"the configuration expands to more than {MAX_NODES:,} values "
                    "(YAML aliases are counted as copies of their anchor)")
        if self.text > MAX_TEXT:
            _refuse(rel, line, f"the configuration expands to more than {_mib(MAX_TEXT)} of "
                    "text (YAML aliases are counted as copies of their anchor)")


class Meter:
    """Sees one file's parser events in order; raises LimitExceeded at the first
    cap the file would pass. The parser calls `see()` as the composer takes each
    event, so nothing beyond the cap is ever built."""

    def __init__(self, rel: str, budget: Budget) -> None:
        self.rel = rel
        self.budget = budget
        self._anchors: dict[str, tuple[int, int]] = {}
        self._open: list[list[Any]] = []  # [anchor, nodes, text] of each open collection

    def see(self, event: Any) -> None:
        line = event.start_mark.line + 1
        if isinstance(event, DocumentStartEvent):
            self._anchors.clear()
        elif isinstance(event, CollectionStartEvent):
            if len(self._open) >= MAX_DEPTH:
                _refuse(self.rel, line, f"nested more than {MAX_DEPTH} levels deep")
            self._open.append([event.anchor, 1, 0])
            self.budget.spend(self.rel, line, 1, 0)
        elif isinstance(event, CollectionEndEvent):
            anchor, nodes, text = self._open.pop()
            self._ended(anchor, (nodes, text))  # already spent, child by child
        elif isinstance(event, ScalarEvent):
            size = (1, len(event.value))
            self.budget.spend(self.rel, line, *size)
            self._ended(event.anchor, size)
        elif isinstance(event, AliasEvent):
            # A copy of the anchor's whole expanded value; an undefined alias is
            # left for the composer to report.
            size = self._anchors.get(event.anchor, (1, 0))
            self.budget.spend(self.rel, line, *size)
            self._ended(None, size)

    def _ended(self, anchor: str | None, size: tuple[int, int]) -> None:
        if anchor is not None:
            self._anchors[anchor] = size
        if self._open:
            self._open[-1][1] += size[0]
            self._open[-1][2] += size[1]


def scan(events: Any, rel: str, budget: Budget) -> None:
    """Meter a whole event stream (as a parser would feed it)."""
    meter = Meter(rel, budget)
    for event in events:
        meter.see(event)


def _refuse(rel: str, line: int | None, message: str) -> None:
    raise LimitExceeded(ConfigIssue(rel, line, "", message))


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size >= MiB else f"{size:,} bytes"
