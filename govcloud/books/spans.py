"""A span of months from the store (``report chargeback --from/--to``, the exporter's year to
date): the months recorded as recorded (closed ones frozen), the month under way to date, and
the months not begun forecast at the latest month run's rate (``finance.span``)."""

from __future__ import annotations

from decimal import Decimal

from govcloud.books import records as stored
from govcloud.books.accounts import book_for, charges_for, names_of
from govcloud.clock import clock
from govcloud.core.model import Estate
from govcloud.errors import GovcloudError
from govcloud.finance.chargeback import ZERO
from govcloud.finance.period import Month, Span
from govcloud.finance.pricebook import PriceBook
from govcloud.finance.span import FORECAST, RECORDED, TO_DATE, Rate, totals, year
from govcloud.reports import views
from govcloud.state.store import Store


def span_report(estate: Estate, store: Store, span: Span,
                recorded_only: bool = False) -> views.Report:
    """Each department's charges month by month over ``span``: months recorded as recorded
    (closed ones frozen), the month under way to date, months not begun (and the month under
    way before any usage is collected) as a forecast; for a span from January, the year's
    figure. A month gone by with no usage is refused. ``recorded_only`` keeps only the months
    with usage recorded and forecasts nothing (the exporter's year to date)."""
    book = book_for(estate)
    have = set(stored.months(store))
    if recorded_only:
        got = [charges_for(estate, store, m, book) for m in span if m in have]
        return views.span(names_of(estate, store), totals(got), span, None)
    now = Month.of(clock())
    _refuse_unrecorded(store, [m for m in span if m < now], have)
    recorded = {m: charges_for(estate, store, m, book) for m in span if _is_recorded(store, m,
                                                                                     have)}
    later = [Month(span.last.year, i) for i in range(span.last.month + 1, 13)]
    ahead = [m for m in span if m not in recorded] + later
    rate = None
    if ahead or any(run < full for run, full in (m.hours or (0, 0) for m in recorded.values())):
        rate = _rate(estate, store, book, have, now, needed=bool(ahead))
    months, basis = [], []
    for m in span:
        if m in recorded:
            run, full = recorded[m].hours or (m.hours,) * 2
            months.append(recorded[m])
            basis.append(TO_DATE if run < full else RECORDED)
        else:
            assert rate is not None  # _rate refuses a forecast with nothing to start from
            months.append(rate.month(m))
            basis.append(FORECAST)
    t = totals(months, basis, rate)
    rest = [rate.month(m) for m in later] if rate is not None and all(m > now for m in later) \
        else None
    early = [(m, *got.hours) for m, got in recorded.items()
             if m < now and got.hours and got.hours[0] < got.hours[1]]
    return views.span(names_of(estate, store), t, span, year(t, rest) if rest is not None else None,
                      early)


def _is_recorded(store: Store, m: Month, have: set[Month]) -> bool:
    return m in have or stored.closing(store, m) is not None


def _rate(estate: Estate, store: Store, book: PriceBook, have: set[Month], now: Month,
          needed: bool) -> Rate | None:
    """The latest month run (with usage recorded, up to this month) as the forecast's rate;
    when a forecast is ``needed`` and no month has usage yet, refused with the fix."""
    runs = sorted(m for m in have if m <= now)
    if not runs:
        if not needed:
            return None
        raise GovcloudError(f"no usage is recorded yet, so there is no month to forecast "
                            f"{now} onwards from",
                            f"collect the month under way first: govcloud usage collect "
                            f"--period {now}")
    base = runs[-1]
    return Rate.of(charges_for(estate, store, base, book), _adjusted(store, base))


def _adjusted(store: Store, month: Month) -> dict[str, Decimal]:
    """Each department's adjustments in ``month`` (the frozen ones of a closed month)."""
    frozen = stored.closing(store, month)
    made = frozen.statement.adjustments if frozen is not None else \
        stored.adjustments(store, month)
    got: dict[str, Decimal] = {}
    for a in made:
        got[a.department] = got.get(a.department, ZERO) + a.yuan
    return got


def _refuse_unrecorded(store: Store, gone: list[Month], have: set[Month]) -> None:
    """The months gone by (``gone``, before this month) with no usage and not closed, named
    at once; when they come before the first month with usage, where to start the range
    instead."""
    missing = [m for m in gone if not _is_recorded(store, m, have)]
    if not missing:
        return

    def count(m: Month) -> int:
        return m.year * 12 + m.month

    if len(missing) == 1:
        named = str(missing[0])
    elif len(missing) == count(missing[-1]) - count(missing[0]) + 1:
        named = f"{missing[0]} to {missing[-1]}"
    else:
        named = ", ".join(str(m) for m in missing)
    later = sorted(m for m in have if m > missing[-1])
    if later and all(m < min(have) for m in missing):
        raise GovcloudError(f"no usage is recorded for {named} (the first month with usage is "
                            f"{later[0]})",
                            f"start the range there: --from {later[0]}; or, if the estate "
                            f"ran then, govcloud usage collect --period {missing[0]}")
    raise GovcloudError(f"no usage is recorded for {named}",
                        f"run govcloud usage collect --period {missing[0]} first")

