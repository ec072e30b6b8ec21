"""Periods: a month, a range of months, and the part of a month that has run.

Pure: parsed once at the edge (the CLI's ``--period``, ``--from``/``--to``, the portal's
paths) and passed down as values; turned back into text (``str(month)``, YYYY-MM) only where
a period is stored or written: the state store's ``period`` column (``books.records``), JSON
(the figures frozen as JSON — ``Statement``, ``Ledger``, ``Utilization``, ``Closing`` — write
their ``period`` so in ``as_dict`` and parse it back in ``from_dict``), CSV and the pages.

The clock is the caller's: ``Window.of(month, now)`` says how much of the month has run at
``now`` — all of it for a finished month (``month_to_date`` False), the hours so far for the
current month, and an error for a month that has not begun.

Billing rule (documented for auditors): a month has ``days × 24`` hours; a resource is billed
from the hour it was created (rounded down) to the hour it was deleted (rounded up), clipped
to the month and to ``now``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from govcloud.errors import GovcloudError

# ASCII digits only (\d also takes other scripts' digits), and a year whose month and the next
# one (and the one before) are dates Python can hold: 0000-01 and 9999-12 would fail in
# ``start`` and ``end``.
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
FIRST_YEAR, LAST_YEAR = 1970, 9998  # no usage predates the Unix epoch


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (UTC)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, what: str = "--period") -> Month:
        m = _MONTH.fullmatch(str(text).strip())
        if not m or not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
            raise GovcloudError(f"{what} {text!r} is not a month",
                                f"write the month as YYYY-MM, e.g. {what} 2026-10")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, when: datetime) -> Month:
        return cls(when.year, when.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant of the next month."""
        return self.next().start

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds()) // 3600

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)


@dataclass(frozen=True)
class Span:
    """The months from ``first`` to ``last``, both included (``--from``/``--to``)."""

    first: Month
    last: Month

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise GovcloudError(f"--to {self.last} is before --from {self.first}",
                                "give the earlier month to --from")

    @classmethod
    def year_to_date(cls, month: Month) -> Span:
        return cls(Month(month.year, 1), month)

    def __iter__(self) -> Iterator[Month]:
        m = self.first
        while m <= self.last:
            yield m
            m = m.next()

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}..{self.last}"


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def ceil_hour(t: datetime) -> datetime:
    f = floor_hour(t)
    return f if f == t else f + timedelta(hours=1)


def parse_time(text: str) -> datetime:
    """An ISO timestamp as UTC (naive ones, as nova writes them, are UTC)."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The part of ``month`` that has run: [month start, ``end``), ``hours`` long; in the
    current month ``end`` is the end of the hour under way (an hour begun is billed)."""

    month: Month
    end: datetime

    @classmethod
    def of(cls, month: Month, now: datetime) -> Window:
        if month.start > now:
            raise GovcloudError(f"{month} has not begun (it is {now:%Y-%m-%d} now)",
                                f"give a month up to {Month.of(now)}")
        end = min(month.end, floor_hour(now) + timedelta(hours=1))  # hours begun
        return cls(month, max(end, month.start))

    @property
    def start(self) -> datetime:
        return self.month.start

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds()) // 3600

    @property
    def month_to_date(self) -> bool:
        return self.end < self.month.end

    def billed_hours(self, created: datetime | None, deleted: datetime | None) -> int:
        """Hours of a resource's life in the window (created hour down, deleted hour up)."""
        lo = max(self.start, floor_hour(created) if created else self.start)
        hi = min(self.end, ceil_hour(deleted) if deleted else self.end)
        return max(int((hi - lo).total_seconds()) // 3600, 0)

    def label(self) -> str:
        if self.month_to_date:
            return f"{self.month} month to date ({self.hours} of {self.month.hours} hours, " \
                   f"to {self.end:%Y-%m-%d %H:00} UTC)"
        return str(self.month)
