"""The clock: the one place govcloud asks the time, and the one way it writes a time down.

Every record (applies, usage, requests, the audit trail, sessions) is stamped with ``now()``:
UTC, to the microsecond, sortable as text. ``GOVCLOUD_NOW`` fixes the clock, so tests and
what-if runs can replay a year of changes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def clock() -> datetime:
    """The time now, UTC. ``GOVCLOUD_NOW`` (ISO, e.g. 2026-01-01T00:00:00Z) sets it instead:
    the tests replay a year of applies with it."""
    fixed = os.environ.get("GOVCLOUD_NOW")
    if fixed:
        t = datetime.fromisoformat(fixed.replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=UTC)
    return datetime.now(UTC)


def stamp(t: datetime) -> str:
    utc = t.astimezone(UTC)  # the year padded to four digits: strftime's %Y is not, below 1000
    return f"{utc.year:04d}" + utc.strftime("-%m-%dT%H:%M:%S.%fZ")


def now() -> str:
    return stamp(clock())
