"""finance.savings: what a department would pay running its own servers, line by line with
the plan line and the price line of each figure, against its consolidated charge."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.chargeback import Adjustment, chargeback
from govcloud.finance.period import Month
from govcloud.finance.savings import Ledger, assumptions, ledger, legacy_lines
from tests.finance.small import USAGE, book, legacy, plan, platform

BOOK = book()
SEPTEMBER, OCTOBER = Month(2026, 9), Month(2026, 10)
A = plan("a", legacy(servers=2, admin_staff=0.5, websites=3))


def test_the_own_servers_cost_line_by_line() -> None:
    lines = legacy_lines(A, BOOK, SEPTEMBER)
    assert [(x.label, x.yuan) for x in lines] == [
        # 2 × 36,000 / 3 years / 12 = 2,000
        ("old × 2: write-off 36000 / 3 years / 12", Decimal("2000.00")),
        # 200 W × 730 h × PUE 2.0 / 1000 = 292 kWh × 1.0 yuan × 2 = 584
        ("old × 2: power 200 W × 730 h × PUE 2.0 × 1.0 yuan/kWh", Decimal("584.00")),
        # 2 × 1,200 / 12 = 200
        ("old × 2: maintenance 1200 a year / 12", Decimal("200.00")),
        # 0.5 × 120,000 / 12 = 5,000
        ("admin staff 0.5 FTE × 120000 a year / 12", Decimal("5000.00")),
        ("own antivirus 1200 a year / 12", Decimal("100.00")),
        ("own backup 2400 a year / 12", Decimal("200.00")),
        # 3 × 2,400 / 12 = 600
        ("own websites 3 × 2400 a year / 12", Decimal("600.00"))]


def test_each_line_cites_the_plan_and_the_price_it_came_from() -> None:
    lines = legacy_lines(A, BOOK, SEPTEMBER, lambda path: 7 if path[-1] == 0 else 0)
    assert lines[0].plan_source == "plans/a.yaml:7 legacy.servers[0]"
    assert lines[0].price_source.endswith("legacy_classes.old")
    assert lines[3].plan_source == "plans/a.yaml legacy.admin_staff"  # no line known
    assert lines[5].price_source == "(the plan)"


def test_the_tariff_in_force_in_the_month_prices_the_old_servers_power() -> None:
    power = legacy_lines(A, BOOK, OCTOBER)[1]
    # from October 0.5 yuan/kWh: 292 kWh × 0.5 × 2 = 292
    assert power.yuan == Decimal("292.00")
    assert power.price_source.split("; ")[1].endswith("power.tariff[1]")


def test_the_saving_is_the_legacy_cost_less_the_charge_and_the_estate_s_less_idle() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    led = ledger({"a": A}, BOOK, s)
    a, b = led.departments
    # a: 2,000 + 584 + 200 + 5,000 + 100 + 200 + 600 = 8,684 against 2,511.87
    assert (a.legacy_total, a.consolidated) == (Decimal("8684.00"), Decimal("2511.87"))
    assert a.saving == Decimal("6172.13") and a.saving_per_year == Decimal("74065.56")
    assert a.legacy_servers == 2 and a.consolidated_source == "chargeback 2026-09"
    # b has no plan: nothing it ran itself, its charge is all cost
    assert (b.legacy_total, b.saving) == (0, Decimal("-1269.75"))
    # the estate: 8,684 − (2,511.87 + 1,269.75) − idle 3,365.88 = 1,536.50
    assert led.saving == Decimal("1536.50")
    assert led.period == SEPTEMBER


def test_an_adjustment_is_not_a_saving() -> None:
    """#20 case 6: a −20,000 credit raised the estate saving by 20,000 though the platform
    cost did not move; the consolidated figure is the charge without adjustments."""
    plain = ledger({"a": A}, BOOK, chargeback(BOOK, SEPTEMBER, USAGE, platform()))
    credit = Adjustment("a", Decimal("-2000.00"), "outage", "finance", "2026-10-01T00:00:00Z")
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform(), adjustments=(credit,))
    assert s.charge("a") == Decimal("511.87")  # the bill does fall
    led = ledger({"a": A}, BOOK, s)
    assert led.departments[0].consolidated == Decimal("2511.87")
    assert (led.saving, led.consolidated_total) == (plain.saving, plain.consolidated_total)


def test_a_ledger_reads_back_what_it_wrote() -> None:
    led = ledger({"a": A}, BOOK, chargeback(BOOK, SEPTEMBER, USAGE, platform()))
    assert Ledger.from_dict(led.as_dict()) == led
    assert led.as_dict()["saving_per_year"] == "18438.00"  # 1,536.50 × 12


def test_the_assumptions_name_the_prices_of_the_month() -> None:
    said = assumptions(BOOK, OCTOBER)
    tariff = next(x for x in said if x.startswith("Electricity"))
    assert tariff.startswith("Electricity costs 0.5 yuan/kWh (prices.yaml:")
    assert tariff.endswith("power.tariff[1]).")
    assert any("PUE of 2.0; the shared data centre 1.5" in x for x in said)
    assert any("PUE of 2.0; the shared data centre 1.25" in x
               for x in assumptions(BOOK, Month(2026, 12)))


def test_a_part_month_line_of_exactly_half_a_fen_rounds_up() -> None:
    """3 servers' maintenance, 300 a month, for 77 of February's 672 hours is 34.375 exactly:
    34.38 (half up). Found by tests/reports/history_reference.py on a generated year
    (2026-04, a department's rack × 3 write-off for 87 of 720 hours: 271.875): the share
    taken first as a 28-digit quotient (0.11458333…) made it 34.37499… and 34.37."""
    three = plan("a", legacy(servers=3, admin_staff=0, websites=0))
    february = chargeback(BOOK, Month(2026, 2), USAGE, platform())
    got = ledger({"a": [(three, 77)]}, BOOK, february).departments[0]
    maintenance = got.legacy[2]
    assert maintenance.label == "old × 3: maintenance 1200 a year / 12 × 77/672 h"
    assert maintenance.yuan == Decimal("34.38")
