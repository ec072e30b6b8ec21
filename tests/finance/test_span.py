"""finance.span: each department's charges month by month over a span, the totals, and the
year's forecast by the run rate."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.chargeback import MonthCharges
from govcloud.finance.period import Month
from govcloud.finance.span import totals

YEAR_HOURS = 365 * 24  # 2026


def month(m: Month, charges: dict[str, str], idle: str, hours: tuple[int, int] | None = None,
          closed: bool = False) -> MonthCharges:
    got = {d: Decimal(v) for d, v in charges.items()}
    return MonthCharges(m, got, Decimal(idle), sum(got.values(), Decimal(idle)), hours, closed)


JAN, FEB = Month(2026, 1), Month(2026, 2)


def test_a_department_missing_in_a_month_is_charged_nothing_that_month() -> None:
    t = totals([month(JAN, {"a": "10.00", "b": "5.00"}, "5.00"), month(FEB, {"a": "20.00"}, "0")])
    assert t.months == (JAN, FEB)
    assert t.charges == {"a": (Decimal("10.00"), Decimal("20.00")),
                         "b": (Decimal("5.00"), Decimal(0))}
    assert t.total("a") == 30 and t.total("b") == 5
    assert t.charged == 35  # 10 + 5 + 20
    assert t.platform == (20, 20)  # each month: charges + idle


def test_a_whole_month_s_hours_are_its_calendar_hours() -> None:
    t = totals([month(JAN, {"a": "1"}, "0"), month(FEB, {"a": "1"}, "0", hours=(100, 672))])
    assert t.hours == ((744, 744), (100, 672))  # January 31 × 24; February to date


def test_the_forecast_runs_the_year_at_the_rate_so_far() -> None:
    t = totals([month(JAN, {"a": "100"}, "0"), month(FEB, {"a": "200"}, "0")])
    # 300 yuan over 744 + 672 = 1,416 hours; × 8,760 hours = 1,855.932… → 1,855.93
    assert t.forecast(YEAR_HOURS) == Decimal("1855.93")


def test_no_forecast_for_a_span_not_from_january_or_across_years() -> None:
    feb = totals([month(FEB, {"a": "100"}, "0")])
    assert feb.forecast(YEAR_HOURS) is None
    across = totals([month(JAN, {"a": "1"}, "0"), month(Month(2027, 1), {"a": "1"}, "0")])
    assert across.forecast(YEAR_HOURS) is None


def test_the_span_is_written_with_its_months_as_text() -> None:
    data = totals([month(JAN, {"a": "10.00"}, "2.50", closed=True)]).as_dict()
    assert data["months"] == ["2026-01"] and data["closed"] == [True]
    assert data["departments"] == {"a": {"months": ["10.00"], "total": "10.00"}}
    assert data["total_platform_cost"] == "12.50" and data["total_idle"] == "2.50"
