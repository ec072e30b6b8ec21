"""finance.plancost: a plan's effect on the month's bill, by the chargeback's own arithmetic."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.period import Month
from govcloud.finance.plancost import plan_cost
from tests.finance.small import USAGE, book, platform


def test_more_vcpu_for_b_moves_cost_from_idle_to_b() -> None:
    after = {**USAGE, "b": {"vcpu": 32.0, "website": 1.0}}
    cost = plan_cost(book(), Month(2026, 9), USAGE, after, platform(), platform())
    # hosts pool 494,750 fen: before b priced 16 × 8 = 128 of 1,280 → 494.75;
    # after 32 × 8 = 256, idle (128 − 64) × 8 + 96 × 2 = 704, a still 320 (of 1,280):
    # b 494,750 × 256/1280 = 989.50, a unchanged, idle 3,215.88 − 494.75 = 2,721.13
    assert cost.changed() == ["b"]
    assert cost.departments["b"] == (Decimal("1269.75"), Decimal("1764.50"))
    assert cost.delta("b") == Decimal("494.75") and cost.delta("a") == 0
    assert cost.idle == (Decimal("3365.88"), Decimal("2871.13"))
    assert cost.platform[0] == cost.platform[1] == Decimal("7147.50")  # same hosts, same cost


def test_a_plan_that_runs_one_more_host_costs_its_power() -> None:
    cost = plan_cost(book(), Month(2026, 9), USAGE, USAGE, platform(running=1),
                     platform(running=2))
    # a second host running servers: 547.5 kWh × 1.0 yuan = 547.50 more a month
    assert cost.platform[1] - cost.platform[0] == Decimal("547.50")


def test_the_plan_s_cost_is_written_with_its_month_as_text() -> None:
    cost = plan_cost(book(), Month(2026, 9), USAGE, USAGE, platform(), platform())
    data = cost.as_dict()
    assert data["period"] == "2026-09" and data["departments"] == {}
    assert data["platform"] == {"before": "7147.50", "after": "7147.50", "delta": "0.00"}
