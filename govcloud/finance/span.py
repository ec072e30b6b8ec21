"""Several months at once: each department's charges month by month and in total over a
span (``--from``/``--to``, year to date), and a forecast of the year. Pure: built from the
months' statements (closed ones as frozen).

Forecast method (stated on the report): run rate — the year's spend so far divided by the
hours of the year that have run, times the hours of the whole year. It assumes the rest of
the year costs what the months so far cost on average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import ZERO, MonthCharges, fen
from govcloud.finance.period import Month

FORECAST_METHOD = ("run rate: the spend so far ÷ the hours of the year run so far × the hours "
                   "of the whole year")


@dataclass(frozen=True)
class SpanTotals:
    months: tuple[Month, ...]
    closed: tuple[bool, ...]
    charges: dict[str, tuple[Decimal, ...]]  # department → a total per month
    idle: tuple[Decimal, ...]
    platform: tuple[Decimal, ...]
    hours: tuple[tuple[int, int], ...]  # hours run, hours in the month
    adjustments: tuple[Decimal, ...] = ()  # Σ adjustments a month (inside ``charges``)

    def total(self, department: str) -> Decimal:
        return sum(self.charges[department], ZERO)

    @property
    def charged(self) -> Decimal:
        return sum((sum(v, ZERO) for v in self.charges.values()), ZERO)

    def forecast(self, year_hours: int) -> Decimal | None:
        """The year's platform cost by the run rate, when the span is one year from January."""
        if not self.months or self.months[0].month != 1 or \
                len({m.year for m in self.months}) != 1:
            return None
        run = sum(h for h, _ in self.hours)
        return fen(sum(self.platform, ZERO) / run * year_hours) if run else None

    def as_dict(self) -> dict[str, Any]:
        return {"months": [str(m) for m in self.months], "closed": list(self.closed),
                "departments": {d: {"months": [str(x) for x in v], "total": str(sum(v, ZERO))}
                                for d, v in self.charges.items()},
                "idle": [str(x) for x in self.idle], "platform_cost": [str(x) for x in
                                                                      self.platform],
                "charged": str(self.charged), "hours": [list(h) for h in self.hours],
                "total_platform_cost": str(sum(self.platform, ZERO)),
                "total_idle": str(sum(self.idle, ZERO)),
                "adjustments": [str(x) for x in self.adjustments],
                "total_adjustments": str(sum(self.adjustments, ZERO))}


def totals(months: Sequence[MonthCharges]) -> SpanTotals:
    """The span from its months in brief (``MonthCharges.of`` a statement, or
    ``month_charges``)."""
    deps = sorted({d for m in months for d in m.charges})
    charges: dict[str, list[Decimal]] = {d: [ZERO] * len(months) for d in deps}
    for i, m in enumerate(months):
        for d, total in m.charges.items():
            charges[d][i] = total
    return SpanTotals(tuple(m.month for m in months), tuple(m.closed for m in months),
                      {d: tuple(v) for d, v in charges.items()},
                      tuple(m.idle for m in months),
                      tuple(m.platform_cost for m in months),
                      tuple(m.hours or (m.month.hours,) * 2 for m in months),
                      tuple(m.adjustments for m in months))
