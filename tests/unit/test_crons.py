"""D10: when a cron is due (pure)."""

from datetime import UTC, datetime

import pytest

from shipway.deploy.crons import due
from shipway.errors import UserError

T0 = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(("spec", "seconds", "tz", "expected"), [
    ("* * * * *", 29, None, False),   # next minute not reached yet
    ("* * * * *", 31, None, True),
    ("*/5 * * * *", 60, None, False),  # 10:01:30 — next is 10:05
    ("*/5 * * * *", 300, None, True),
    ("0 11 * * *", 3600, None, True),
    ("0 11 * * *", 3600, "Europe/Paris", False),  # 11:00 Paris is 10:00 UTC: already past
    ("@hourly", 3600, None, True),
])
def test_due(spec: str, seconds: int, tz: str | None, expected: bool) -> None:
    now = datetime.fromtimestamp(T0.timestamp() + seconds, UTC)
    assert due(spec, T0, now, tz) is expected


def test_invalid_spec_is_a_user_error() -> None:
    with pytest.raises(UserError, match="invalid cron spec"):
        due("61 * * * *", T0, T0, None)
