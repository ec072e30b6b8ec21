"""finance.chargeback: each pool's cost to the fen, split by its rule, so that the
departments' charges + idle = the platform's cost exactly. The small book and platform are
in tests/finance/small.py; September 2026 (vCPU 8 yuan, power 1.0 yuan/kWh) unless said."""

from __future__ import annotations

from decimal import Decimal

import pytest

from govcloud.finance.chargeback import (
    Adjustment,
    MonthCharges,
    Statement,
    chargeback,
    check_invariant,
    fen,
    host_cost_lines,
    month_charges,
    split,
)
from govcloud.finance.period import Month
from tests.finance.small import USAGE, book, platform

BOOK = book()
SEPTEMBER, OCTOBER = Month(2026, 9), Month(2026, 10)


def pool(s: Statement, name: str) -> tuple[Decimal, dict[str, Decimal], Decimal]:
    p = next(p for p in s.pools if p.name == name)
    return p.cost, p.shares, p.idle


def test_fen_rounds_half_up() -> None:
    assert fen(Decimal("0.005")) == Decimal("0.01")
    assert fen(Decimal("2.675")) == Decimal("2.68")  # float's round(2.675, 2) gives 2.67
    assert fen(Decimal("-1.005")) == Decimal("-1.01")


def test_split_hands_the_leftover_fen_to_the_largest_remainders() -> None:
    # 100 fen in thirds: 33.33 each; the one fen left goes to the name that sorts first
    assert split(100, {"b": Decimal(1), "a": Decimal(1), "c": Decimal(1)}) == \
        {"b": 33, "a": 34, "c": 33}
    # 10 fen by 0.5 : 0.25 : 0.25 = 5, 2.5, 2.5: the leftover fen goes to "x" before "y"
    assert split(10, {"y": Decimal("0.25"), "x": Decimal("0.25"), "w": Decimal("0.5")}) == \
        {"y": 2, "x": 3, "w": 5}


def test_split_refuses_nothing_to_split_over() -> None:
    with pytest.raises(ValueError):
        split(100, {"a": Decimal(0)})


def test_the_shared_hosts_cost_their_write_off_maintenance_and_power_in_use() -> None:
    lines = host_cost_lines(BOOK, platform(owned=2, running=1), SEPTEMBER)
    # 2 × 120,000 / 5 / 12 = 4,000; 2 × 2,400 / 12 = 400;
    # 1 in use: 500 W × 730 h × PUE 1.5 / 1000 = 547.5 kWh × 1.0 yuan = 547.50
    assert [(x.label.split(":")[0], x.yuan) for x in lines] == [
        ("std × 2 write-off (120000 / 5 years / 12)", 4000),
        ("std × 2 maintenance (2400 a year / 12)", 400),
        ("std × 1 in use", Decimal("547.50"))]


def test_a_host_powered_on_without_servers_draws_power_a_parked_one_does_not() -> None:
    on = host_cost_lines(BOOK, platform(owned=3, running=1, idle_on=1), SEPTEMBER)
    # 3 write-offs (6,000), 3 maintenances (600), power for 2 hosts (2 × 547.50)
    assert sum(x.yuan for x in on) == 6000 + 600 + 2 * Decimal("547.50")
    assert on[-1].label.startswith("std × 1 idle, powered on")


def test_the_tariff_in_force_prices_the_power() -> None:
    lines = host_cost_lines(BOOK, platform(), OCTOBER)
    # from October 0.5 yuan/kWh: 547.5 kWh × 0.5 = 273.75
    assert lines[-1].yuan == Decimal("273.75")


def test_an_even_pool_is_split_in_equal_shares() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    assert pool(s, "network") == (900, {"a": 450, "b": 450}, 0)  # 900 / 2


def test_a_weight_pool_is_split_by_the_declared_weights() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    # a weighs 3, b the default 1: 1,000 × 3/4 and × 1/4
    assert pool(s, "staff") == (1000, {"a": 750, "b": 250}, 0)


def test_a_usage_pool_charges_the_unused_capacity_to_no_one() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    # web: 300 yuan; a and b run one site each (100 yuan each priced), 2 of the capacity of
    # 4 sites are unused (200 yuan priced): 300 × 100/400 = 75 each, idle 300 × 200/400 = 150
    assert pool(s, "web") == (300, {"a": 75, "b": 75}, 150)


def test_the_hosts_pool_splits_by_priced_vcpu_and_ram_with_the_rest_idle() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    # cost 4,000 + 400 + 547.50 = 4,947.50. Priced at 8 yuan/vCPU, 2 yuan/GiB:
    #   a 32 × 8 + 32 × 2 = 320; b 16 × 8 = 128;
    #   idle: capacity 2 hosts × 16 cores × 4 = 128 vCPU, 2 × 64 = 128 GiB;
    #         (128 − 48) × 8 + (128 − 32) × 2 = 832; in all 1,280.
    # 494,750 fen × 320/1280 = 123,687.5; × 128/1280 = 49,475; × 832/1280 = 321,587.5:
    # one fen left, a tie of halves between a and idle: to "(idle)", which sorts first.
    cost, shares, idle = pool(s, "hosts")
    assert cost == Decimal("4947.50")
    assert shares == {"a": Decimal("1236.87"), "b": Decimal("494.75")}
    assert idle == Decimal("3215.88")


def test_charges_plus_idle_are_the_platform_cost_to_the_fen() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    # a 1,236.87 + 450 + 750 + 75 = 2,511.87; b 494.75 + 450 + 250 + 75 = 1,269.75;
    # idle 3,215.88 + 150 = 3,365.88; platform 4,947.50 + 900 + 1,000 + 300 = 7,147.50
    assert {d.department: d.total for d in s.departments} == {
        "a": Decimal("2511.87"), "b": Decimal("1269.75")}
    assert s.idle == Decimal("3365.88")
    assert s.platform_cost == Decimal("7147.50")
    assert Decimal("2511.87") + Decimal("1269.75") + Decimal("3365.88") == Decimal("7147.50")
    check_invariant(s)


def test_the_list_value_is_usage_at_the_rate_card() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    a = next(d for d in s.departments if d.department == "a")
    # 32 vCPU × 8 + 32 GiB × 2 + 1 site × 100 = 420
    assert a.list_value == 420
    assert s.rates["vcpu"][0] == 8 and s.rates["vcpu"][1].endswith("units.vcpu[1]")


def test_a_price_change_applies_from_its_month_on() -> None:
    june = chargeback(BOOK, Month(2026, 6), USAGE, platform())
    july = chargeback(BOOK, Month(2026, 7), USAGE, platform())
    a_june = next(d for d in june.departments if d.department == "a")
    a_july = next(d for d in july.departments if d.department == "a")
    # June: 32 × 10 + 32 × 2 + 100 = 484; from July 32 × 8 + 32 × 2 + 100 = 420
    assert (a_june.list_value, a_july.list_value) == (484, 420)


def test_part_of_a_month_costs_that_part() -> None:
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform(), hours=(360, 720))
    # half of September: every pool at half its cost — hosts 4,947.50 / 2 = 2,473.75,
    # network 450, staff 500, web 150: 3,573.75; network even: 225 each
    assert s.platform_cost == Decimal("2473.75") + 450 + 500 + 150 == Decimal("3573.75")
    assert pool(s, "network")[1] == {"a": 225, "b": 225}
    assert s.month_to_date and s.hours == (360, 720)
    check_invariant(s)


def test_an_adjustment_moves_a_department_s_total_and_is_counted_beside_the_cost() -> None:
    credit = Adjustment("a", Decimal("-12.50"), "outage", "finance", "2026-10-02")
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform(), adjustments=(credit,))
    a = next(d for d in s.departments if d.department == "a")
    assert a.adjustment == Decimal("-12.50")
    assert a.total == Decimal("2511.87") - Decimal("12.50") == Decimal("2499.37")
    assert s.adjusted() == Decimal("-12.50")
    assert s.charge("a") == Decimal("2499.37")
    check_invariant(s)  # charges + idle = platform cost + adjustments


def test_a_pool_nobody_uses_is_idle_whole() -> None:
    s = chargeback(BOOK, SEPTEMBER, {"a": {"vcpu": 8.0}}, platform())
    assert pool(s, "web") == (300, {"a": 0}, 300)  # no website anywhere: all 300 idle
    check_invariant(s)


def test_a_statement_reads_back_what_it_wrote() -> None:
    credit = Adjustment("b", Decimal("40"), "debit", "finance", "2026-10-02")
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform(), (700, 720), (credit,))
    assert Statement.from_dict(s.as_dict()) == s
    assert s.period == s.month == SEPTEMBER and s.as_dict()["period"] == "2026-09"
    assert s.charge("nobody") == 0


def test_month_charges_are_the_statement_s_totals_without_the_detail() -> None:
    credit = Adjustment("c", Decimal("5"), "debit", "finance", "2026-10-02")
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform(), adjustments=(credit,))
    lean = month_charges(BOOK, SEPTEMBER, USAGE, platform(), adjustments=(credit,))
    assert lean == MonthCharges.of(s)
    assert lean.month == SEPTEMBER
    assert lean.charges == {"a": Decimal("2511.87"), "b": Decimal("1269.75"), "c": 5}


def test_capacity_is_physical_times_the_allocation_ratio() -> None:
    # 2 hosts × 16 cores × 4 = 128 vCPU; × 64 GiB × 1 = 128 GiB; × 1,000 GB = 2,000 GB
    assert platform().capacity() == {"vcpu": 128, "ram_gb": 128, "disk_gb": 2000}


def test_the_hosts_counts_and_the_note_that_goes_with_them() -> None:
    from govcloud.finance.chargeback import Platform

    p = Platform(owned={"z": {"std": 4}}, in_use={"z": {"std": 1}}, classes={},
                 idle_on={"z": {"std": 2}}, off={"z": {"std": 1}}, needed={"z": {"std": 1}})
    assert p.counts() == {"running": 1, "idle_on": 2, "off": 1, "needed": 1}
    s = Statement(SEPTEMBER, (), (), {}, Decimal(0), Decimal(0), hosts=p.counts())
    assert s.hosts_note() == (
        "Shared hosts: 1 needed, 3 running (1 with servers, 2 idle), 1 parked (disabled, "
        "no power); power is billed for the 3 running: run govcloud consolidate --apply to "
        "free and park the rest.")


def test_the_hours_before_the_estate_s_record_began_are_not_counted() -> None:
    """The month the estate began in (its record from hour 300 of September's 720), read at
    hour 360: every pool, the hosts' write-off and every capacity count the 60 hours since,
    not the 360 since the 1st — as a month before the record counts none."""
    s = chargeback(BOOK, SEPTEMBER, USAGE, platform(), hours=(360, 720), first_hour=300)
    whole = chargeback(BOOK, SEPTEMBER, USAGE, platform())
    # a twelfth of each fixed pool (60/720): network 75, staff 83.33, web 25
    assert pool(s, "network")[0] == Decimal(900) / 12 == 75
    assert pool(s, "staff")[0] == fen(Decimal(1000) / 12) == Decimal("83.33")
    assert pool(s, "web")[0] == 25
    assert pool(s, "hosts")[0] == fen(pool(whole, "hosts")[0] / 12)
    assert s.counted == (60, 720) and s.month_to_date and s.first_hour == 300
    assert month_charges(BOOK, SEPTEMBER, USAGE, platform(), (360, 720), (), 300) == \
        MonthCharges.of(s)
    check_invariant(s)
    # read back as written; a month with no such hours writes nothing new (frozen JSON alike)
    assert Statement.from_dict(s.as_dict()) == s and s.as_dict()["first_hour"] == 300
    assert "first_hour" not in whole.as_dict() and whole.counted == (720, 720)
