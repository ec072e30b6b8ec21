"""A month's chargeback, savings, unit costs, utilization or budgets rolled up the
organisation tree (``report chargeback --by organisation`` and the others): the department
rows of the month's own report (a closed month's frozen ones), added up each level of the
tree as the directory sync had recorded it by the month's end
(``estate.organisations.tree_at``): a department moved in March counts under its old
district in January. Nothing is rated again; a ratio is recomputed at each level from its
rolled-up numerator and denominator (``finance.measures``). Budgets add up the year to date
month by month, each month on its own tree."""

from __future__ import annotations

from decimal import Decimal

from govcloud.books import records as stored
from govcloud.books.accounts import (
    local,
    savings_for,
    statement_for,
    utilization,
)
from govcloud.books.budgets import year_to_date
from govcloud.clock import stamp
from govcloud.core.model import Estate
from govcloud.errors import GovcloudError
from govcloud.estate.organisations import tree_at
from govcloud.finance.measures import (
    BUDGET,
    BUDGET_RATIOS,
    UTILIZED,
    budget_measures,
    spend_measures,
    unit_cost_measures,
    utilization_measures,
)
from govcloud.finance.period import Month
from govcloud.finance.rollup import TOP, Level, Node, combine, paths, roll_up
from govcloud.reports import views
from govcloud.state.store import Store

CHARGE = ("total",)
Tail = list[tuple[str, str, tuple[Decimal, ...]]]
SAVING = ("legacy_cost", "consolidated_cost", "saving")


def rollup_report(estate: Estate, store: Store, kind: str, month: Month) -> views.Report:
    """``kind`` (chargeback, savings, unit-costs, utilization or budgets) for ``month``, one
    row per organisation at every level, then the idle row and the platform's total."""
    return _KINDS[kind](estate, store, month)


def _tree(estate: Estate, store: Store, month: Month) -> tuple[dict[str, Node], str]:
    return tree_at(store, stamp(month.end)), f"{estate.settings.estate} (top level)"


def _chargeback(estate: Estate, store: Store, month: Month) -> views.Report:
    tree, top = _tree(estate, store, month)
    st = statement_for(estate, store, month)
    figures = {d.department: (d.total,) for d in st.departments}
    levels, notes = roll_up(tree, figures, top)
    tail: Tail = [("(idle)", "idle capacity (charged to no department)", (st.idle,)),
                  ("(total)", "platform cost + adjustments" if st.adjustments
                   else "platform cost", (st.billed(),))]
    return views.rollup("Chargeback", month, levels, CHARGE, tail, _placed(levels), notes)


def _savings(estate: Estate, store: Store, month: Month) -> views.Report:
    tree, top = _tree(estate, store, month)
    led = savings_for(estate, store, month)
    rows = {d.department: (d.legacy_total, d.consolidated, d.saving) for d in led.departments}
    levels, notes = roll_up(tree, rows, top)
    tail: Tail = [("(idle)", "idle platform capacity", (Decimal("0.00"), led.idle, -led.idle)),
                  ("(total)", "estate", (led.legacy_total, led.consolidated_total + led.idle,
                                         led.saving))]
    return views.rollup("Savings", month, levels, SAVING, tail, _placed(levels), notes)


def _unit_costs(estate: Estate, store: Store, month: Month) -> views.Report:
    """What each organisation's departments paid per unit. The idle capacity is no
    organisation's and no unit's here: the idle row carries it whole, so the top level's
    ``paid`` + idle = the platform's cost, to the fen."""
    tree, top = _tree(estate, store, month)
    st = statement_for(estate, store, month)
    measures, figures, ratios = unit_cost_measures(st)
    levels, notes = roll_up(tree, figures, top)
    paid = measures.index("paid")
    idle = tuple(st.idle if k == paid else Decimal("0.00") for k in range(len(measures)))
    whole = tuple(a + b for a, b in zip(levels[0].total, idle, strict=True))
    tail: Tail = [("(idle)", "idle capacity (charged to no department)", idle),
                  ("(total)", "platform cost", whole)]
    shown = ("departments", *(r[0] for r in ratios), "paid")
    return views.rollup("Unit costs", month, levels, measures, tail, _placed(levels), notes,
                        ratios, shown)


def _utilization(estate: Estate, store: Store, month: Month) -> views.Report:
    tree, top = _tree(estate, store, month)
    measures, figures, ratios = utilization_measures(utilization(estate, store, month))
    levels, notes = roll_up(tree, figures, top)
    shown = ("departments", *(m for i in UTILIZED for m in (i, f"{i}_used")),
             *(r[0] for r in ratios))
    return views.rollup("Utilization", month, levels, measures, [], _placed(levels), notes,
                        ratios, shown)


def _budgets(estate: Estate, store: Store, month: Month) -> views.Report:
    """The year's budgets against the charges from January to ``month`` (the months with
    usage recorded): each month's charges counted under the organisation its department was
    in that month, the budgets under the tree at ``month``'s end; the months added up per
    organisation (``rollup.combine``)."""
    budgets, months = year_to_date(estate, store, month)
    rolls, seen = [], set(budgets)
    for m, spent in months:
        seen |= set(spent)
        rolls.append(roll_up(_tree(estate, store, m)[0], spend_measures(spent, budgets), "",
                             len(BUDGET)))
    tree, top = _tree(estate, store, month)
    rolls.append(roll_up(tree, budget_measures(budgets), top, len(BUDGET)))  # names kept
    levels = combine([lv for lv, _ in rolls])
    notes = sorted({n for _, said in rolls for n in said})
    placed = {d: p[-1] if p else TOP for d, p in paths(tree, sorted(seen), []).items()}
    return views.rollup("Budgets", month, levels, BUDGET, [], placed, notes,
                        BUDGET_RATIOS, ("departments", "budget", "spent", "left",
                                        "budget_used"))


_KINDS = {"chargeback": _chargeback, "savings": _savings, "unit-costs": _unit_costs,
          "utilization": _utilization, "budgets": _budgets}


def _placed(levels: list[Level]) -> dict[str, str]:
    return {d: lv.code for lv in levels for d in lv.departments}


def organisation_statement(estate: Estate, store: Store, month: Month,
                           organisation: str) -> str:
    """An organisation's printable statement for the month (``reports.statement``): its
    child organisations and own departments as the tree stood at the month's end, each
    department's line its own statement's figures (a closed month's frozen ones)."""
    from govcloud.books.accounts import figures as month_figures
    from govcloud.reports.statement import line_figures, organisation_page

    m = month_figures(estate, store, month)
    lines = line_figures(m.statement, m.ledger)
    tree, top = _tree(estate, store, month)
    levels, _ = roll_up(tree, lines, top)
    org = next((lv for lv in levels if lv.code == organisation and lv.path), None)
    if org is None:
        raise GovcloudError(
            f"no organisation '{organisation}' above a department billed in {month}",
            "one of: " + ", ".join(lv.code for lv in levels if lv.path))
    children = [lv for lv in levels if lv.path[:-1] == org.path and lv.depth == org.depth + 1]
    frozen = stored.closing(store, month)
    return organisation_page(m.title, org, children, lines, m.names, m.statement,
                             frozen.book_digest if frozen else "",
                             local(m.statement.closed_at, estate.settings.time_zone))
