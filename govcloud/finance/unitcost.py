"""Unit costs: what one vCPU-month, one GB of backup, one website or one antivirus seat
really cost the platform in a month, after the shared pools. Pure, from a month's statement.

The rule (each step to the fen, by the chargeback's own largest-remainder ``split``):

1. Every usage pool's whole cost — idle included: the capacity nobody used is spread over
   the units that were — is divided between the pool's items in proportion to their priced
   usage (Σ units × list price).
2. The pools split evenly or by weight (staff, network: fixed shares per department), and a
   usage pool nobody used, are spread over the items in proportion to what step 1 gave them
   (when no usage pool gave any: to the items' priced usage; when nothing was used at all,
   they stay on a "(no units)" line).
3. An item's cost is the sum of both; its unit cost is that cost over the units billed
   (exact, to 28 significant digits), so unit cost × units = the item's cost to the fen, and
   the items' costs add up to the platform's cost, pool by pool and in total.

Beside each, what departments paid per unit (the rate card: the pools' charges, idle left
out) and the list price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import IDLE, ZERO, Statement, _dec, fen, split
from govcloud.finance.pricebook import ITEMS

UNSPREAD = "(no units)"  # a fixed cost with no billed unit to carry it


@dataclass(frozen=True)
class UnitCost:
    item: str
    units: Decimal
    list_price: Decimal | None
    by_pool: dict[str, Decimal]  # pool → the part of its cost this item carries
    direct: Decimal  # from the usage pools billing the item (idle included)
    idle: Decimal  # of which the idle capacity spread over the units
    fixed: Decimal  # the even/weight pools' share
    cost: Decimal  # direct + fixed
    paid: Decimal  # what departments were charged for it: cost less idle

    @property
    def per_unit(self) -> Decimal | None:
        return self.cost / self.units if self.units else None

    @property
    def paid_per_unit(self) -> Decimal | None:
        return self.paid / self.units if self.units else None

    def as_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {"item": self.item, "units": str(self.units), "list_price": s(self.list_price),
                "by_pool": {k: str(v) for k, v in self.by_pool.items()},
                "direct": str(self.direct), "idle": str(self.idle), "fixed": str(self.fixed),
                "cost": str(self.cost), "per_unit": s(self.per_unit), "paid": str(self.paid),
                "paid_per_unit": s(self.paid_per_unit)}


def _fen(parts: dict[str, int]) -> dict[str, Decimal]:
    return {k: Decimal(v).scaleb(-2) for k, v in parts.items()}


def unit_costs(s: Statement) -> list[UnitCost]:
    """Per billed item (those with units or a cost), then UNSPREAD if a fixed cost found no
    unit; Σ cost = the statement's platform cost."""
    units = {i: ZERO for i in ITEMS}
    for d in s.departments:
        for i in ITEMS:
            units[i] += _dec(d.usage.get(i, 0))
    price = {i: s.rates[i][0] for i in ITEMS if i in s.rates}
    by_pool: dict[str, dict[str, Decimal]] = {i: {} for i in ITEMS}
    idle = {i: ZERO for i in ITEMS}
    fixed = {i: ZERO for i in ITEMS}
    fixed_pools = []
    for p in s.pools:
        weights = {i: units[i] * price.get(i, ZERO) for i in p.items}
        if not p.items or sum(weights.values(), ZERO) <= 0:
            fixed_pools.append(p)
            continue
        for i, v in _fen(split(int(p.cost * 100), weights)).items():
            by_pool[i][p.name] = v
        for i, v in _fen(split(int(p.idle * 100), weights)).items():
            idle[i] += v
    direct = {i: sum(by_pool[i].values(), ZERO) for i in ITEMS}
    spread_over = {i: v for i, v in direct.items() if v > 0} or \
        {i: units[i] * price.get(i, ZERO) for i in ITEMS if units[i] * price.get(i, ZERO) > 0}
    leftover: dict[str, Decimal] = {}
    for p in fixed_pools:
        if not spread_over:
            leftover[p.name] = p.cost
            continue
        for i, v in _fen(split(int(p.cost * 100), spread_over)).items():
            by_pool[i][p.name] = v
            fixed[i] += v
        if p.idle:
            for i, v in _fen(split(int(p.idle * 100), spread_over)).items():
                idle[i] += v
    out = [UnitCost(i, units[i], price.get(i), by_pool[i], direct[i], idle[i], fixed[i],
                    direct[i] + fixed[i], direct[i] + fixed[i] - idle[i])
           for i in ITEMS if units[i] or direct[i] + fixed[i]]
    if leftover:
        total = sum(leftover.values(), ZERO)
        unused = sum((p.idle for p in fixed_pools if p.name in leftover), ZERO)
        out.append(UnitCost(UNSPREAD, ZERO, None, leftover, ZERO, unused, total, total,
                            total - unused))
    return out


def check_reconciled(s: Statement, costs: list[UnitCost]) -> None:
    """Raise AssertionError unless the items carry every pool's cost to the fen, and unit
    cost × units gives each item's cost back to the fen."""
    for p in s.pools:
        got = sum((c.by_pool.get(p.name, ZERO) for c in costs), ZERO)
        assert got == p.cost, f"pool {p.name}: items carry {got}, it cost {p.cost}"
    assert sum((c.cost for c in costs), ZERO) == s.platform_cost
    assert sum((c.paid for c in costs), ZERO) == s.platform_cost - s.idle
    for c in costs:
        if c.per_unit is not None:
            assert fen(c.per_unit * c.units) == c.cost, c.item


def rate_card(s: Statement) -> list[dict[str, Any]]:
    """What departments really paid per unit of each billed item: every usage pool's charges
    (its cost less idle) attributed to its items by priced usage, over the units billed; and
    per department, the pools split evenly or by weight. Beside each, the list price."""
    qty: dict[str, Decimal] = {i: ZERO for i in ITEMS}
    for d in s.departments:
        for i in ITEMS:
            qty[i] += _dec(d.usage.get(i, 0))
    charged: dict[str, Decimal] = {}
    rows: list[dict[str, Any]] = []
    for p in s.pools:
        paid = p.cost - p.idle
        if p.items:
            weights = {i: qty[i] * s.rates[i][0] for i in p.items}
            total = sum(weights.values(), ZERO)
            for i, w in weights.items():
                if total:
                    charged[i] = charged.get(i, ZERO) + paid * w / total
        elif s.departments:
            # Department-months: each department's months in the estate (× its weight), the
            # basis the pool was split on; a whole month of every department is their count.
            n = sum((v for k, v in p.basis.items() if k != IDLE), ZERO) or \
                Decimal(len(s.departments))
            rows.append({"item": f"{p.name} (per department-month, {p.rule})",
                         "list_price": None, "units": n, "charged": fen(paid),
                         "yuan_per_unit": fen(paid / n)})
    out = [{"item": i, "list_price": s.rates[i][0], "units": qty[i], "charged": fen(c),
            "yuan_per_unit": fen(c / qty[i]) if qty[i] else None}
           for i, c in charged.items()]
    return out + rows
