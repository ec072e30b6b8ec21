"""What a plan does to the monthly bill: each department's charge, the idle capacity and the
platform's cost before and after, by the chargeback's own arithmetic. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import ZERO, Platform, chargeback
from govcloud.finance.period import Month
from govcloud.finance.pricebook import PriceBook


@dataclass(frozen=True)
class PlanCost:
    """What a plan does to the monthly bill: each department's charge before and after, the
    idle capacity and the platform's cost, by the chargeback's own arithmetic (so the plan's
    figure is the difference between two months' statements, to the fen)."""

    month: Month
    departments: dict[str, tuple[Decimal, Decimal]]  # department → (before, after)
    idle: tuple[Decimal, Decimal]
    platform: tuple[Decimal, Decimal]

    def delta(self, department: str) -> Decimal:
        before, after = self.departments.get(department, (ZERO, ZERO))
        return after - before

    def charged(self) -> tuple[Decimal, Decimal]:
        return (sum((b for b, _ in self.departments.values()), ZERO),
                sum((a for _, a in self.departments.values()), ZERO))

    def changed(self) -> list[str]:
        return [d for d in sorted(self.departments) if self.delta(d)]

    def as_dict(self) -> dict[str, Any]:
        def pair(before: Decimal, after: Decimal) -> dict[str, str]:
            return {"before": str(before), "after": str(after), "delta": str(after - before)}

        return {"period": str(self.month), "currency": "CNY", "per": "month",
                "departments": {d: pair(*self.departments[d]) for d in self.changed()},
                "charged": pair(*self.charged()), "idle": pair(*self.idle),
                "platform": pair(*self.platform)}


def for_department(cost: Mapping[str, Any] | None, department: str
                   ) -> dict[str, Any] | None:
    """A plan's cost (``PlanCost.as_dict``) as one department may see it: its own line and
    the estate's totals; the other departments whose bill moves (a shared pool's share)
    only as a count and their sum, never by name or each amount. Idempotent."""
    if cost is None:
        return None
    departments = dict(cost.get("departments", {}))
    others = {d: v for d, v in departments.items() if d != department}
    earlier = cost.get("other_departments", {"count": 0, "delta": "0"})
    rest = sum((Decimal(v["delta"]) for v in others.values()), Decimal(earlier["delta"]))
    return {**cost,
            "departments": {d: v for d, v in departments.items() if d == department},
            "other_departments": {"count": len(others) + int(earlier["count"]),
                                  "delta": str(rest)}}


def plan_cost(book: PriceBook, month: Month, before: Mapping[str, Mapping[str, float]],
              after: Mapping[str, Mapping[str, float]], platform_before: Platform,
              platform_after: Platform) -> PlanCost:
    """The month's statement of the estate before and after a plan (usage per department
    as ``usage.allocations`` gives it), side by side."""
    b = chargeback(book, month, before, platform_before)
    a = chargeback(book, month, after, platform_after)
    charges_b = {d.department: d.total for d in b.departments}
    charges_a = {d.department: d.total for d in a.departments}
    deps = sorted(set(charges_b) | set(charges_a))
    return PlanCost(month, {d: (charges_b.get(d, ZERO), charges_a.get(d, ZERO)) for d in deps},
                    (b.idle, a.idle), (b.platform_cost, a.platform_cost))
