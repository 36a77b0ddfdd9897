"""Cron schedules (D10). Pure: is a cron due, given when it was last considered?"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from shipway.errors import UserError


def due(spec: str, since: datetime, now: datetime, timezone: str | None) -> bool:
    """True when `spec` fires in (since, now], read in the app's `timezone` (UTC by default)."""
    zone = ZoneInfo(timezone or "UTC")
    try:
        following = croniter(spec, since.astimezone(zone)).get_next(datetime)
    except (ValueError, KeyError) as exc:
        raise UserError(f"invalid cron spec {spec!r}: {exc}") from None
    return bool(following <= now.astimezone(zone))
