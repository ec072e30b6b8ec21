"""What each department brings to a roll-up (``finance.rollup``) of the reports that are not
plain sums of one figure: unit costs, utilization and budgets. Pure.

Every ratio of these reports (a unit cost, a utilization, the share of a budget spent) is a
numerator over a denominator. Each department gives both as measures, the roll-up adds them
up each level exactly (Decimal), and the ratio is recomputed from the level's totals
(``rollup.ratio``), never averaged from the ratios below it.

- Unit costs, per organisation: what its departments paid per unit of each billed item.
  A department's share of a usage pool is divided between the pool's items by its own
  priced usage (units × list price, to the fen by the chargeback's ``split``), so its items
  add up to its pool shares; a pool split evenly or by weight stays one measure with its
  department-months beside it. The idle capacity is the platform's, never an
  organisation's: it is the report's idle row, and top level + idle = each item's cost.
- Utilization: per vCPU, RAM and root disk, the allocated units, the measured use, and the
  allocated units of the departments whose use was measured (a department without a
  measure adds to neither side of the ratio).
- Budgets: the year's budget, the charges from January to the month (year to date), what
  the departments with a budget spent, and what is left of it (budget − their spend); a
  department without a budget adds its spend to ``unbudgeted`` only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

from govcloud.finance.chargeback import ZERO, Statement, _dec, split
from govcloud.finance.pricebook import ITEMS
from govcloud.finance.rollup import Ratio
from govcloud.finance.utilization import Utilization

Figures = dict[str, tuple[Decimal, ...]]  # department → one Decimal per measure
THOUSANDTH = Decimal("0.001")
UNATTRIBUTED = "unattributed_paid"  # a usage pool's share on no item the department used
UTILIZED = ("vcpu", "ram_gb", "disk_gb")
BUDGET = ("budget", "budgeted_spent", "left", "unbudgeted_spent", "spent")
BUDGET_RATIOS: tuple[Ratio, ...] = (("budget_used", "budgeted_spent", "budget"),)


def _item_shares(st: Statement, dep_usage: Mapping[str, float], share: Decimal,
                 items: tuple[str, ...]) -> dict[str, Decimal] | None:
    """One department's share of a usage pool divided between the pool's items by its own
    priced usage, to the fen; None when it used none of them."""
    weights = {i: _dec(dep_usage.get(i, 0)) * st.rates[i][0] for i in items
               if i in st.rates and dep_usage.get(i)}
    weights = {i: w for i, w in weights.items() if w > 0}
    if not weights:
        return None
    return {i: Decimal(v).scaleb(-2) for i, v in split(int(share * 100), weights).items()}


def unit_cost_measures(st: Statement) -> tuple[tuple[str, ...], Figures, tuple[Ratio, ...]]:
    """Per department: per billed item its units and what it paid for them; per pool split
    evenly or by weight, what it paid and its department-months; what no item carried; and
    its pool shares in all (``paid``: adjustments are no unit's cost)."""
    billed = [i for i in ITEMS if any(d.usage.get(i) for d in st.departments)]
    fixed = [p for p in st.pools if not p.items]
    measures = (*(m for i in billed for m in (f"{i}_units", f"{i}_paid")),
                *(m for p in fixed for m in (f"{p.name}_months", f"{p.name}_paid")),
                UNATTRIBUTED, "paid")
    figures: Figures = {}
    for d in st.departments:
        row = dict.fromkeys(measures, ZERO)
        for i in billed:
            row[f"{i}_units"] = _dec(d.usage.get(i, 0))
        for p in st.pools:
            share = d.by_pool.get(p.name, ZERO)
            if not p.items:
                row[f"{p.name}_months"] = p.basis.get(d.department, ZERO)
                row[f"{p.name}_paid"] = share
                continue
            parts = _item_shares(st, d.usage, share, p.items) if share else {}
            if parts is None:
                row[UNATTRIBUTED] += share
                continue
            for i, v in parts.items():
                row[f"{i}_paid"] += v
        row["paid"] = sum(d.by_pool.values(), ZERO)
        figures[d.department] = tuple(row[m] for m in measures)
    ratios = (*((f"{i}_per_unit", f"{i}_paid", f"{i}_units") for i in billed),
              *((f"{p.name}_per_month", f"{p.name}_paid", f"{p.name}_months") for p in fixed))
    return measures, figures, ratios


def _units(v: float | None) -> Decimal:
    return ZERO if v is None else Decimal(repr(v)).quantize(THOUSANDTH)


def utilization_measures(util: Utilization) -> tuple[tuple[str, ...], Figures,
                                                     tuple[Ratio, ...]]:
    """Per department and item: allocated, used, and allocated where use was measured (each
    to a thousandth of a unit, as the utilization report gives them)."""
    measures = tuple(m for i in UTILIZED for m in (i, f"{i}_used", f"{i}_measured"))
    figures: Figures = {}
    for r in util.rows:
        row: list[Decimal] = []
        for i in UTILIZED:
            allocated, used = _units(r.allocated.get(i, 0)), r.used.get(i)
            row += [allocated, _units(used), ZERO if used is None else allocated]
        figures[r.department] = tuple(row)
    ratios = tuple((f"{i}_utilization", f"{i}_used", f"{i}_measured") for i in UTILIZED)
    return measures, figures, ratios


def budget_measures(budgets: Mapping[str, Decimal]) -> Figures:
    """The year's budget of each department that has one (``BUDGET``'s measures)."""
    return {d: (b, ZERO, b, ZERO, ZERO) for d, b in budgets.items()}


def spend_measures(spent: Mapping[str, Decimal], budgeted: Collection[str]) -> Figures:
    """One month's charges (``BUDGET``'s measures): a budgeted department's spend comes off
    what is left of its budget, another's is unbudgeted."""
    return {d: (ZERO, s, -s, ZERO, s) if d in budgeted else (ZERO, ZERO, ZERO, s, s)
            for d, s in spent.items()}
