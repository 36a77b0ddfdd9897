"""Automated backups (BK4), decided here without I/O: when one is due, and which
automated backups a retention policy keeps — as Platform.sh's tiers, the newest backup
of each of the last `keep_daily` days that have one, and of each of the last
`keep_weekly` ISO weeks. Manual backups are never pruned by a policy."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shipway.errors import UsageError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_SECONDS = 5


@dataclass(frozen=True)
class Policy:
    every_seconds: int
    keep_daily: int
    keep_weekly: int

    def __post_init__(self) -> None:
        if self.every_seconds < MIN_SECONDS:
            raise UsageError(f"backups at most every {MIN_SECONDS} s, not every {self.every_seconds} s")
        if self.keep_daily < 1 or self.keep_weekly < 0:
            raise UsageError("keep at least 1 daily backup, and 0 or more weekly ones")

    def as_json(self) -> dict[str, Any]:
        return {"every_seconds": self.every_seconds, "keep_daily": self.keep_daily,
                "keep_weekly": self.keep_weekly}


def parse_interval(text: str) -> int:
    """`1d`, `12h`, `30m`, `10s` (a bare number is seconds) as seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"an interval looks like 1d, 12h, 30m or 10s, not {text!r}")
    return int(match.group(1)) * UNITS[match.group(2) or "s"]


def due(policy: Policy, last_run: float | None, now: float) -> bool:
    return last_run is None or now - last_run >= policy.every_seconds


def to_forget(backups: Iterable[tuple[str, float]], policy: Policy) -> list[str]:
    """The ids of automated backups (id, unix time) the policy no longer keeps."""
    newest_first = sorted(backups, key=lambda b: b[1], reverse=True)
    keep: set[str] = set()
    for bucket_of, count in ((_day, policy.keep_daily), (_week, policy.keep_weekly)):
        seen: list[str] = []
        for backup_id, taken in newest_first:
            bucket = bucket_of(taken)
            if bucket not in seen:
                seen.append(bucket)
                if len(seen) > count:
                    break
                keep.add(backup_id)
    return [backup_id for backup_id, _ in newest_first if backup_id not in keep]


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _week(ts: float) -> str:
    year, week, _ = datetime.fromtimestamp(ts, UTC).isocalendar()
    return f"{year}-W{week:02d}"
