"""finance.span: each department's charges month by month over a span, the totals, the
months not begun forecast calendar-aware, and the year's figure."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.chargeback import MonthCharges
from govcloud.finance.period import Month
from govcloud.finance.span import FORECAST, RECORDED, TO_DATE, Rate, totals, year


def month(m: Month, charges: dict[str, str], idle: str, hours: tuple[int, int] | None = None,
          closed: bool = False) -> MonthCharges:
    got = {d: Decimal(v) for d, v in charges.items()}
    return MonthCharges(m, got, Decimal(idle), sum(got.values(), Decimal(idle)), hours, closed)


JAN, FEB, MAR, APR = Month(2026, 1), Month(2026, 2), Month(2026, 3), Month(2026, 4)


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


def test_a_month_not_begun_costs_a_whole_month_of_the_latest_month_run() -> None:
    """Prices are per month (unit-months, fixed lines by the fraction of the month run): a
    steady estate's February (672 h), March (744 h) and April (720 h) each cost what January
    did. The forecast is January's charge ÷ its 744 hours run × its own 744 hours — for every
    month, not × the later month's hours (that would put April 3.2 % under its bill)."""
    rate = Rate.of(month(JAN, {"a": "607.50", "b": "532.50"}, "3120.00"), {})
    for m in (FEB, MAR, APR):
        got = rate.month(m)
        assert got.charges == {"a": Decimal("607.50"), "b": Decimal("532.50")}
        assert got.idle == Decimal("3120.00") and got.platform_cost == Decimal("4260.00")
        assert got.hours == (0, m.hours)


def test_a_month_to_date_is_a_rate_for_its_own_whole_month() -> None:
    """February to date (349 of 672 hours) cost 100.00: a whole February is 100 × 672 / 349
    = 192.550… → 192.55, and that is what a month not begun is forecast at; the rest of
    February is 100 × 323 / 349 = 92.550… → 92.55."""
    rate = Rate.of(month(FEB, {"a": "100.00"}, "0", hours=(349, 672)), {})
    assert rate.month(APR).charges == {"a": Decimal("192.55")}
    rest = rate.rest()
    assert rest.month == FEB and rest.charges == {"a": Decimal("92.55")}


def test_each_line_is_rounded_to_the_fen_and_the_platform_is_their_sum() -> None:
    # 1.00 over 7 of 744 hours: 106.2857… → 106.29 a line; the platform 3 × 106.29 (not
    # 3.00 × 744 / 7 = 318.857… → 318.86), so the forecast month adds up like a recorded one
    got = Rate.of(month(JAN, {"a": "1.00", "b": "1.00"}, "1.00", hours=(7, 744)), {}
                  ).month(MAR)
    assert got.charges == {"a": Decimal("106.29"), "b": Decimal("106.29")}
    assert got.idle == Decimal("106.29") and got.platform_cost == Decimal("318.87")


def test_an_adjustment_is_not_forecast_again() -> None:
    """A credit of 200.00 to a in January is January's alone: the months ahead are forecast
    at a's charge without it."""
    jan = month(JAN, {"a": "800.00", "b": "100.00"}, "0")  # a: 1,000.00 − 200.00 credit
    assert Rate.of(jan, {"a": Decimal("-200.00")}).month(FEB).charges == {
        "a": Decimal("1000.00"), "b": Decimal("100.00")}


def test_a_span_says_what_is_recorded_to_date_and_forecast() -> None:
    jan = month(JAN, {"a": "10.00"}, "2.00", closed=True)
    feb = month(FEB, {"a": "5.00"}, "1.00", hours=(336, 672))  # half of February run
    rate = Rate.of(feb, {})
    t = totals([jan, feb, rate.month(MAR)], (RECORDED, TO_DATE, FORECAST), rate)
    assert t.basis == ("recorded", "month-to-date", "forecast") and t.base == FEB
    assert t.rest is not None and t.rest.charges == {"a": Decimal("5.00")}
    lines = t.lines()
    assert lines["a"] == (Decimal("15.00"), Decimal("15.00"))  # rest of Feb 5 + March 10
    assert lines["(idle)"] == (Decimal("3.00"), Decimal("3.00"))
    assert lines["(total)"] == (Decimal("18.00"), Decimal("18.00"))
    assert t.total("a") == Decimal("30.00") and t.charged == Decimal("15.00")
    data = t.as_dict()
    assert data["basis"] == ["recorded", "month-to-date", "forecast"]
    assert data["departments"]["a"] == {"months": ["10.00", "5.00", "10.00"],
                                        "total": "30.00", "to_date": "15.00",
                                        "forecast": "15.00"}
    assert data["rest_of_month"]["month"] == "2026-02" and data["forecast_base"] == "2026-02"
    assert data["total_platform_cost"] == "36.00"


def test_the_year_is_to_date_plus_the_forecast_plus_the_months_after_the_span() -> None:
    rate = Rate.of(month(JAN, {"a": "100.00"}, "10.00"), {})
    t = totals([month(JAN, {"a": "100.00"}, "10.00"), rate.month(FEB)],
               (RECORDED, FORECAST), rate)
    got = year(t, [rate.month(Month(2026, i)) for i in range(3, 13)])
    assert got == {"a": Decimal("1200.00"), "(idle)": Decimal("120.00"),
                   "(total)": Decimal("1320.00")}  # 12 × the month, February included


def test_no_year_for_a_span_not_from_january_across_years_or_all_run() -> None:
    rate = Rate.of(month(FEB, {"a": "100"}, "0"), {})
    assert year(totals([month(FEB, {"a": "100"}, "0")]), [rate.month(MAR)]) is None
    across = totals([month(JAN, {"a": "1"}, "0"), month(Month(2027, 1), {"a": "1"}, "0")])
    assert year(across, []) is None
    run = totals([month(Month(2025, i), {"a": "1"}, "0") for i in range(1, 13)])
    assert year(run, []) is None  # the year has run: nothing to forecast


def test_the_span_is_written_with_its_months_as_text() -> None:
    data = totals([month(JAN, {"a": "10.00"}, "2.50", closed=True)]).as_dict()
    assert data["months"] == ["2026-01"] and data["closed"] == [True]
    assert data["departments"] == {"a": {"months": ["10.00"], "total": "10.00"}}
    assert data["total_platform_cost"] == "12.50" and data["total_idle"] == "2.50"


def test_the_month_the_estate_began_is_a_rate_over_the_hours_it_ran() -> None:
    """February to date, 349 hours run of which the estate's record began at hour 249: its
    100.00 is 100 hours' charge; a whole month is 100 × 672 / 100 = 672.00 and the rest of
    February (323 hours) 323.00 — not 100 × 672 / 349."""
    m = MonthCharges(FEB, {"a": Decimal("100.00")}, Decimal(0), Decimal("100.00"), (349, 672),
                     first_hour=249)
    rate = Rate.of(m, {})
    assert rate.month(APR).charges == {"a": Decimal("672.00")}
    assert rate.rest().charges == {"a": Decimal("323.00")}
