"""Several months at once: each department's charges month by month and in total over a
span (``--from``/``--to``), the months not begun as a forecast, and the year's figure. Pure:
built from the months' statements (closed ones as frozen) and the rate of the latest month run.

Each month of a span has a basis: ``recorded`` (a whole month recorded; closed ones frozen),
``month-to-date`` (the month under way, as recorded so far) or ``forecast`` (not begun, or
under way with no usage collected yet).

Forecast method (stated on the report and in docs/operators.md): prices are per month — a
quantity is billed in unit-months (units × hours ÷ the month's own hours) and a fixed cost
line by the fraction of the month run — so a month of a steady estate costs the same whether
it has 672, 720 or 744 hours. A month not begun is forecast at the latest month run's charges
(adjustments left out: a credit is not repeated) ÷ its hours run × its own hours — its cost for
a whole month, unchanged when that month is whole. The month under way adds the rest of its
hours at its own hourly rate: charge ÷ hours run × hours still to run. Every department's and
the idle line's figure is rounded half-up to the fen; the forecast platform cost is their sum,
so a forecast month adds up like a recorded one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import ZERO, MonthCharges, fen
from govcloud.finance.period import Month

RECORDED, TO_DATE, FORECAST = "recorded", "month-to-date", "forecast"
FORECAST_METHOD = ("a month not begun costs what the latest month run costs for a whole month "
                   "(its charges without adjustments ÷ its hours run × its own hours: prices "
                   "are per month, so February's 672 hours cost a whole month as January's "
                   "744 do); the month under way adds its remaining hours at its own hourly "
                   "rate; each line rounded half-up to the fen, the platform cost their sum")


@dataclass(frozen=True)
class Rate:
    """A month run, as a rate: each department's charge and the idle line without
    adjustments, the hours of the month run (run, whole month) and those before the estate's
    record began (``first``): the charges count the hours run since."""

    base: Month
    charges: dict[str, Decimal]
    idle: Decimal
    hours: tuple[int, int]
    first: int = 0

    @classmethod
    def of(cls, m: MonthCharges, adjustments: Mapping[str, Decimal]) -> Rate:
        charges = {d: v - adjustments.get(d, ZERO) for d, v in m.charges.items()}
        return cls(m.month, {d: v for d, v in charges.items() if v}, m.idle,
                   m.hours or (m.month.hours,) * 2, m.first_hour)

    @property
    def counted(self) -> int:
        """The hours the charges count: run since the estate's record began."""
        return max(self.hours[0] - self.first, 1)

    def scaled(self, month: Month, run: int, hours: int) -> MonthCharges:
        """``hours`` of this rate (whose ``run`` hours cost its charges), as ``month``'s
        figures: each line to the fen, the platform cost their sum."""
        charges = {d: fen(v * hours / run) for d, v in self.charges.items()}
        idle = fen(self.idle * hours / run)
        return MonthCharges(month, charges, idle, sum(charges.values(), idle),
                            (0, month.hours))

    def month(self, month: Month) -> MonthCharges:
        """``month`` (not begun) forecast: the base month's cost for a whole month."""
        return self.scaled(month, self.counted, self.hours[1])

    def rest(self) -> MonthCharges:
        """The base month's hours still to run, at its own hourly rate."""
        run, full = self.hours
        return self.scaled(self.base, self.counted, full - run)


@dataclass(frozen=True)
class SpanTotals:
    months: tuple[Month, ...]
    closed: tuple[bool, ...]
    charges: dict[str, tuple[Decimal, ...]]  # department → a total per month
    idle: tuple[Decimal, ...]
    platform: tuple[Decimal, ...]
    hours: tuple[tuple[int, int], ...]  # hours run, hours in the month
    basis: tuple[str, ...]  # recorded | month-to-date | forecast, per month
    rest: MonthCharges | None = None  # the month under way's remaining hours, forecast
    base: Month | None = None  # the month the forecast's rate is from
    adjustments: tuple[Decimal, ...] = ()  # Σ adjustments a month (inside ``charges``)

    def total(self, department: str) -> Decimal:
        """The department's figure for the span: to date and forecast."""
        return sum(self.lines()[department], ZERO)

    @property
    def charged(self) -> Decimal:
        """Σ the departments' charges in the months recorded and to date (not forecast)."""
        return sum((self._split(v, ZERO)[0] for v in self.charges.values()), ZERO)

    @property
    def forecasting(self) -> bool:
        """Whether any month of the span is (partly) a forecast."""
        return FORECAST in self.basis or self.rest is not None

    def _split(self, values: Sequence[Decimal], rest: Decimal) -> tuple[Decimal, Decimal]:
        """(to date, forecast) of one line: the recorded months, and the months forecast
        plus the rest of the month under way."""
        to_date = sum((v for v, b in zip(values, self.basis, strict=True) if b != FORECAST),
                      ZERO)
        ahead = sum((v for v, b in zip(values, self.basis, strict=True) if b == FORECAST),
                    ZERO)
        return to_date, ahead + rest

    def lines(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Each department's, the idle line's and the platform's (to date, forecast); the
        keys ``(idle)`` and ``(total)`` as in the table."""
        rest = self.rest
        got = {d: self._split(v, rest.charges.get(d, ZERO) if rest else ZERO)
               for d, v in self.charges.items()}
        got["(idle)"] = self._split(self.idle, rest.idle if rest else ZERO)
        got["(total)"] = self._split(self.platform, rest.platform_cost if rest else ZERO)
        return got

    def as_dict(self) -> dict[str, Any]:
        lines = self.lines()

        def line(key: str, values: Sequence[Decimal]) -> dict[str, Any]:
            got: dict[str, Any] = {"months": [str(x) for x in values],
                                   "total": str(sum(lines[key]))}
            if self.forecasting:
                got |= {"to_date": str(lines[key][0]), "forecast": str(lines[key][1])}
            return got

        data = {"months": [str(m) for m in self.months], "closed": list(self.closed),
                "basis": list(self.basis),
                "departments": {d: line(d, v) for d, v in self.charges.items()},
                "idle": [str(x) for x in self.idle], "platform_cost": [str(x) for x in
                                                                      self.platform],
                "charged": str(self.charged), "hours": [list(h) for h in self.hours],
                "total_platform_cost": str(sum(lines["(total)"])),
                "total_idle": str(sum(lines["(idle)"])),
                "adjustments": [str(x) for x in self.adjustments],
                "total_adjustments": str(sum(self.adjustments, ZERO))}
        if self.forecasting:
            data["to_date"] = {"platform_cost": str(lines["(total)"][0]),
                               "idle": str(lines["(idle)"][0])}
            data["rest_of_month"] = None if self.rest is None else {
                "month": str(self.rest.month), "platform_cost": str(self.rest.platform_cost),
                "idle": str(self.rest.idle),
                "departments": {d: str(v) for d, v in self.rest.charges.items()}}
            data["forecast_base"] = str(self.base) if self.base else None
        return data


def totals(months: Sequence[MonthCharges], basis: Sequence[str] = (),
           rate: Rate | None = None) -> SpanTotals:
    """The span from its months in brief (``MonthCharges.of`` a statement, or
    ``month_charges``; a forecast month from ``Rate.month``) and their basis (recorded, or
    month to date by their hours, when not given). ``rate`` is the latest month run's: when
    that month is in the span to date, the rest of its hours are forecast at it."""
    deps = sorted({d for m in months for d in m.charges})
    charges: dict[str, list[Decimal]] = {d: [ZERO] * len(months) for d in deps}
    for i, m in enumerate(months):
        for d, total in m.charges.items():
            charges[d][i] = total
    hours = tuple(m.hours or (m.month.hours,) * 2 for m in months)
    basis = tuple(basis) or tuple(TO_DATE if run < full else RECORDED for run, full in hours)
    rest = None
    if rate is not None and (rate.base, TO_DATE) in zip([m.month for m in months], basis,
                                                        strict=True):
        rest = rate.rest()
    for d in sorted(set(rest.charges) - set(charges)) if rest else ():
        charges[d] = [ZERO] * len(months)
    return SpanTotals(tuple(m.month for m in months), tuple(m.closed for m in months),
                      {d: tuple(charges[d]) for d in sorted(charges)},
                      tuple(m.idle for m in months),
                      tuple(m.platform_cost for m in months), hours, basis, rest,
                      rate.base if rate else None, tuple(m.adjustments for m in months))


def year(t: SpanTotals, later: Sequence[MonthCharges]) -> dict[str, Decimal] | None:
    """The year's figure per line (departments, ``(idle)``, ``(total)``) for a span from
    January: what the span has to date, its forecast (the rest of the month under way, the
    months not begun) and the ``later`` months of the year after the span, forecast. None
    for a span not from January or across years, or with nothing forecast (a year run)."""
    if not t.months or t.months[0].month != 1 or t.months[-1].year != t.months[0].year:
        return None
    if not t.forecasting and not later:
        return None
    got = {k: a + b for k, (a, b) in t.lines().items()}
    for m in later:
        for d, v in m.charges.items():
            got[d] = got.get(d, ZERO) + v
        got["(idle)"] += m.idle
        got["(total)"] += m.platform_cost
    return got
