"""finance.unitcost: what one unit of each billed item really cost after the shared pools,
and what departments paid per unit (the rate card), from statements written by hand."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.chargeback import CostLine, DepartmentCharge, PoolSplit, Statement
from govcloud.finance.period import Month
from govcloud.finance.unitcost import UNSPREAD, check_reconciled, rate_card, unit_costs

RATES = {"vcpu": (Decimal(8), "prices.yaml:3"), "ram_gb": (Decimal(1), "prices.yaml:5")}


def dep(name: str, **units: float) -> DepartmentCharge:
    return DepartmentCharge(name, units, Decimal(0), {}, Decimal(0))


def usage_pool(cost: str, idle: str, items: tuple[str, ...]) -> PoolSplit:
    return PoolSplit("hosts", "usage", Decimal(cost), (CostLine("hosts", Decimal(cost), ""),),
                     {}, {}, Decimal(idle), items)


def even_pool(cost: str) -> PoolSplit:
    return PoolSplit("network", "even", Decimal(cost), (), {}, {}, Decimal(0))


def statement(*pools: PoolSplit, departments: tuple[DepartmentCharge, ...] = (
        dep("a", vcpu=6), dep("b", vcpu=4))) -> Statement:
    cost = sum((p.cost for p in pools), Decimal(0))
    idle = sum((p.idle for p in pools), Decimal(0))
    return Statement(Month(2026, 9), departments, pools, RATES, cost, idle)


def test_a_usage_pool_s_whole_cost_idle_included_is_carried_by_the_units_used() -> None:
    s = statement(usage_pool("100.00", "20.00", ("vcpu",)))
    [vcpu] = unit_costs(s)
    # 10 vCPU (6 + 4) carry the pool's 100.00, of which 20.00 idle: 10.00 a vCPU;
    # departments paid 100 − 20 = 80.00, 8.00 a vCPU
    assert (vcpu.item, vcpu.units, vcpu.cost, vcpu.idle) == ("vcpu", 10, 100, 20)
    assert vcpu.per_unit == 10 and vcpu.paid == 80 and vcpu.paid_per_unit == 8
    check_reconciled(s, [vcpu])


def test_a_pool_of_two_items_is_divided_by_their_priced_usage() -> None:
    s = statement(usage_pool("100.00", "10.00", ("vcpu", "ram_gb")),
                  departments=(dep("a", vcpu=10, ram_gb=20),))
    vcpu, ram = unit_costs(s)
    # priced: 10 vCPU × 8 = 80, 20 GiB × 1 = 20: the cost 80 : 20, the idle 8 : 2
    assert (vcpu.cost, vcpu.idle, ram.cost, ram.idle) == (80, 8, 20, 2)
    assert ram.per_unit == 1  # 20.00 / 20 GiB
    check_reconciled(s, [vcpu, ram])


def test_an_even_pool_is_spread_over_the_items_in_proportion() -> None:
    s = statement(usage_pool("100.00", "20.00", ("vcpu",)), even_pool("30.00"))
    [vcpu] = unit_costs(s)
    # the network's 30.00 goes where the usage pools went: all to vCPU; 130.00 / 10
    assert (vcpu.direct, vcpu.fixed, vcpu.cost) == (100, 30, 130)
    assert vcpu.per_unit == 13 and vcpu.by_pool == {"hosts": 100, "network": 30}


def test_with_nothing_used_a_fixed_cost_stays_on_its_own_line() -> None:
    s = statement(even_pool("30.00"), departments=(dep("a"),))
    [left] = unit_costs(s)
    assert (left.item, left.units, left.cost, left.per_unit) == (UNSPREAD, 0, 30, None)
    check_reconciled(s, [left])


def test_the_rate_card_is_what_was_paid_per_unit_and_per_department() -> None:
    card = rate_card(statement(usage_pool("100.00", "20.00", ("vcpu",)), even_pool("30.00")))
    # vCPU: (100 − 20 idle) / 10 = 8.00 against the list price 8;
    # network: 30.00 over 2 departments = 15.00 each
    assert card == [
        {"item": "vcpu", "list_price": 8, "units": 10, "charged": Decimal("80.00"),
         "yuan_per_unit": Decimal("8.00")},
        {"item": "network (per department-month, even)", "list_price": None, "units": 2,
         "charged": Decimal("30.00"), "yuan_per_unit": Decimal("15.00")}]


def test_a_third_is_exact_to_the_fen_when_multiplied_back() -> None:
    s = statement(usage_pool("100.00", "0.00", ("vcpu",)),
                  departments=(dep("a", vcpu=2), dep("b", vcpu=1)))
    [vcpu] = unit_costs(s)
    # 100.00 / 3 vCPU = 33.333…; × 3 = 100.00 again, to the fen
    assert str(vcpu.per_unit).startswith("33.3333333333")
    check_reconciled(s, [vcpu])


def test_a_department_in_the_estate_for_part_of_the_month_is_part_of_a_unit() -> None:
    """An even pool is split by months in the estate (the dated record): its rate card's
    units are those department-months, not a count of departments."""
    pool = PoolSplit("network", "even", Decimal("30.00"), (),
                     {"a": Decimal(1), "b": Decimal("0.5")},
                     {"a": Decimal("20.00"), "b": Decimal("10.00")}, Decimal(0))
    [row] = [r for r in rate_card(statement(pool)) if r["item"].startswith("network")]
    assert row["units"] == Decimal("1.5") and row["yuan_per_unit"] == Decimal("20.00")
