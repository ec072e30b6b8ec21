"""finance.measures and rollup's ratios, from statements written by hand: a department's
share of a usage pool divided between the items it used, to the fen; a share on no item it
used kept apart; a ratio of a level recomputed from its totals, not averaged."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.chargeback import CostLine, DepartmentCharge, PoolSplit, Statement
from govcloud.finance.measures import UNATTRIBUTED, spend_measures, unit_cost_measures
from govcloud.finance.period import Month
from govcloud.finance.rollup import Node, combine, ratio, roll_up

RATES = {"vcpu": (Decimal(8), "p:1"), "ram_gb": (Decimal(1), "p:2"),
         "website": (Decimal(300), "p:3")}


def _statement() -> Statement:
    hosts = PoolSplit("hosts", "usage", Decimal("100.01"),
                      (CostLine("hosts", Decimal("100.01"), ""),), {}, {}, Decimal("10.00"),
                      ("vcpu", "ram_gb", "website"))
    net = PoolSplit("network", "even", Decimal("30.00"), (), {"a": Decimal(1), "b": Decimal(1),
                                                            "c": Decimal(1)}, {}, Decimal(0))
    deps = (DepartmentCharge("a", {"vcpu": 3, "ram_gb": 7}, Decimal(0),
                             {"hosts": Decimal("60.01"), "network": Decimal("10.00")},
                             Decimal("70.01")),
            DepartmentCharge("b", {"vcpu": 1}, Decimal(0),
                             {"hosts": Decimal("30.00"), "network": Decimal("10.00")},
                             Decimal("40.00")),
            DepartmentCharge("c", {}, Decimal(0),
                             {"hosts": Decimal("0.00"), "network": Decimal("10.00")},
                             Decimal("10.00")))
    return Statement(Month(2026, 9), deps, (hosts, net), RATES, Decimal("130.01"),
                     Decimal("10.00"))


def test_a_department_s_pool_share_goes_to_the_items_it_used_to_the_fen() -> None:
    measures, figures, ratios = unit_cost_measures(_statement())
    a = dict(zip(measures, figures["a"], strict=True))
    # a's 60.01 of hosts by its own priced usage: 3 × 8 = 24 : 7 × 1 = 7
    assert (a["vcpu_paid"], a["ram_gb_paid"]) == (Decimal("46.46"), Decimal("13.55"))
    assert a["vcpu_paid"] + a["ram_gb_paid"] == Decimal("60.01")
    assert "website_paid" not in a  # nobody used it: no column
    assert (a["network_paid"], a["network_months"], a["paid"]) == (
        Decimal("10.00"), Decimal(1), Decimal("70.01"))
    b = dict(zip(measures, figures["b"], strict=True))
    assert (b["vcpu_paid"], b["ram_gb_paid"], b[UNATTRIBUTED]) == (
        Decimal("30.00"), Decimal(0), Decimal(0))
    assert ("vcpu_per_unit", "vcpu_paid", "vcpu_units") in ratios


def test_a_share_on_no_item_used_is_kept_apart_and_still_adds_up() -> None:
    st = _statement()
    c = st.departments[2]
    odd = DepartmentCharge("c", {}, Decimal(0), {"hosts": Decimal("5.00"),
                                                  "network": Decimal("10.00")},
                           Decimal("15.00"))
    st = Statement(st.month, (*st.departments[:2], odd), st.pools, st.rates,
                   st.platform_cost, st.idle)
    measures, figures, _ = unit_cost_measures(st)
    row = dict(zip(measures, figures[c.department], strict=True))
    assert row[UNATTRIBUTED] == Decimal("5.00") and row["paid"] == Decimal("15.00")
    parts = sum((v for m, v in row.items() if m.endswith("_paid")), Decimal(0))
    assert parts == row["paid"]


def test_a_level_s_ratio_is_its_totals_never_the_mean_of_its_children() -> None:
    """Two districts: 9 of 10 vCPU used, and 0 of 90: the city's utilization is 9/100,
    not the mean 45 %."""
    tree = {"city": Node("", "City"), "n": Node("city", "N"), "s": Node("city", "S")}
    tree |= {"d1": Node("n", "D1"), "d2": Node("s", "D2")}
    figures = {"d1": (Decimal(10), Decimal(9)), "d2": (Decimal(90), Decimal(0))}
    levels, _ = roll_up(tree, figures, "estate")
    by = {lv.code: dict(zip(("vcpu", "vcpu_used"), lv.total, strict=True)) for lv in levels}
    util = ("vcpu_utilization", "vcpu_used", "vcpu")
    assert ratio(by["city"], util) == Decimal("0.090000")
    assert {ratio(by[k], util) for k in ("n", "s")} == {Decimal("0.9"), Decimal(0)}
    assert ratio({"vcpu": Decimal(0), "vcpu_used": Decimal(0)}, util) is None


def test_months_on_different_trees_add_up_per_organisation() -> None:
    """A department under N in January and under S in February: each month's spend under
    that month's parent, the city's the sum of both."""
    jan = {"n": Node("", "N"), "s": Node("", "S"), "d": Node("n", "D")}
    feb = jan | {"d": Node("s", "D")}
    rolls = [roll_up(tree, spend_measures({"d": Decimal(v)}, ()), "estate", 5)[0]
             for tree, v in ((jan, "1.10"), (feb, "2.20"))]
    by = {lv.code: lv.total[-1] for lv in combine(rolls)}
    assert by == {"": Decimal("3.30"), "n": Decimal("1.10"), "s": Decimal("2.20")}
