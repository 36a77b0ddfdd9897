"""BK4 pure parts: intervals, when a backup is due, and which automated backups a
retention policy (keep N daily, M weekly) keeps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipway.backups.schedule import Policy, due, parse_interval, to_forget
from shipway.errors import UsageError


def ts(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("text", "seconds"), [
    ("1d", 86400), ("12h", 43200), ("30m", 1800), ("10s", 10), ("45", 45), (" 2d ", 172800)])
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "1w", "-1d", "1.5h", "daily"])
def test_parse_interval_refuses(text: str) -> None:
    with pytest.raises(UsageError):
        parse_interval(text)


@pytest.mark.parametrize(("args", "message"), [
    ((1, 7, 4), "at most every"), ((60, 0, 4), "at least 1 daily"), ((60, 1, -1), "weekly")])
def test_policy_is_valid_from_birth(args: tuple[int, int, int], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Policy(*args)


@pytest.mark.parametrize(("last", "now", "expected"), [
    (None, 0.0, True), (100.0, 150.0, False), (100.0, 160.0, True), (100.0, 99.0, False)])
def test_due(last: float | None, now: float, expected: bool) -> None:
    assert due(Policy(60, 1, 0), last, now) is expected


DAILY = [(f"d{i:02d}", ts(f"2026-11-{i:02d}")) for i in range(1, 31)]  # one a day, November


@pytest.mark.parametrize(("backups", "policy", "kept"), [
    ([], Policy(60, 7, 4), set()),
    # 7 daily: the last 7 days; 4 weekly: the newest of each of the last 4 ISO weeks
    # (Nov 29 Sun = end of W48, Nov 22 = W47, Nov 15 = W46; the newest of W49 is Nov 30).
    (DAILY, Policy(60, 7, 4), {"d24", "d25", "d26", "d27", "d28", "d29", "d30", "d22", "d15"}),
    (DAILY, Policy(60, 1, 0), {"d30"}),
    # several a day: only the newest of each day counts
    ([("a", ts("2026-11-30", 1)), ("b", ts("2026-11-30", 5)), ("c", ts("2026-11-29", 23))],
     Policy(60, 1, 0), {"b"}),
    ([("a", ts("2026-11-30", 1)), ("b", ts("2026-11-30", 5)), ("c", ts("2026-11-29", 23))],
     Policy(60, 2, 0), {"b", "c"}),
])
def test_retention(backups: list[tuple[str, float]], policy: Policy, kept: set[str]) -> None:
    forgotten = to_forget(backups, policy)
    assert set(forgotten) == {b for b, _ in backups} - kept
    assert len(forgotten) == len(set(forgotten))
