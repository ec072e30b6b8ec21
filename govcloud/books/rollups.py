"""A month's chargeback or savings rolled up the organisation tree (``report chargeback
--by organisation``): the department rows of the month's own report (a closed month's
frozen ones), added up each level of the tree as the directory sync had recorded it by the
month's end (``estate.organisations.tree_at``): a department moved in March counts under
its old district in January. Nothing is rated again."""

from __future__ import annotations

from decimal import Decimal

from govcloud.books.accounts import savings_for, statement_for
from govcloud.clock import stamp
from govcloud.core.model import Estate
from govcloud.estate.organisations import tree_at
from govcloud.finance.period import Month
from govcloud.finance.rollup import Level, roll_up
from govcloud.reports import views
from govcloud.state.store import Store

CHARGE = ("total",)
Tail = list[tuple[str, str, tuple[Decimal, ...]]]
SAVING = ("legacy_cost", "consolidated_cost", "saving")


def rollup_report(estate: Estate, store: Store, kind: str, month: Month) -> views.Report:
    """``kind`` chargeback or savings for ``month``, one row per organisation at every
    level, then the idle row and the platform's total."""
    tree = tree_at(store, stamp(month.end))
    top = f"{estate.settings.estate} (top level)"
    tail: Tail
    if kind == "chargeback":
        st = statement_for(estate, store, month)
        figures = {d.department: (d.total,) for d in st.departments}
        levels, notes = roll_up(tree, figures, top)
        tail = [("(idle)", "idle capacity (charged to no department)", (st.idle,)),
                ("(total)", "platform cost + adjustments" if st.adjustments
                 else "platform cost", (st.billed(),))]
        return views.rollup("Chargeback", month, levels, CHARGE, tail,
                            _placed(levels), notes)
    led = savings_for(estate, store, month)
    rows = {d.department: (d.legacy_total, d.consolidated, d.saving) for d in led.departments}
    levels, notes = roll_up(tree, rows, top)
    tail = [("(idle)", "idle platform capacity", (Decimal("0.00"), led.idle, -led.idle)),
            ("(total)", "estate", (led.legacy_total, led.consolidated_total + led.idle,
                                   led.saving))]
    return views.rollup("Savings", month, levels, SAVING, tail, _placed(levels), notes)


def _placed(levels: list[Level]) -> dict[str, str]:
    return {d: lv.code for lv in levels for d in lv.departments}
