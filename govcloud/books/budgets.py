"""Budgets (``govcloud report budgets``): each department's budget for the year (prices.yaml
``budgets``) against its charges from January to the month, the months with usage recorded
(closed ones frozen), as the exporter's budget alerts compare them; ``--by organisation``
rolls the same up the tree (``books.rollups``)."""

from __future__ import annotations

from decimal import Decimal

from govcloud.books import records as stored
from govcloud.books.accounts import before_record, book_for, charges_for, names_of
from govcloud.core.model import Estate
from govcloud.finance.measures import BUDGET, budget_measures, spend_measures
from govcloud.finance.period import Month, Span
from govcloud.finance.rollup import ratio
from govcloud.reports import views
from govcloud.reports.text import cell, table
from govcloud.state.store import Store

YearToDate = tuple[dict[str, Decimal], list[tuple[Month, dict[str, Decimal]]]]


def year_to_date(estate: Estate, store: Store, month: Month) -> YearToDate:
    """The budgets for ``month``'s year, and each month's charges from January to ``month``
    (those with usage recorded); a month before the estate's record began is refused."""
    before_record(store, month)
    book = book_for(estate)
    budgets = {d: years[month.year].yuan for d, years in book.budgets.items()
               if month.year in years}
    have = set(stored.months(store))
    return budgets, [(m, charges_for(estate, store, m, book).charges)
                     for m in Span.year_to_date(month) if m in have]


def budget_report(estate: Estate, store: Store, month: Month) -> views.Report:
    """One row per department with a budget or a charge this year."""
    budgets, months = year_to_date(estate, store, month)
    total: dict[str, list[Decimal]] = {}
    for figures in [budget_measures(budgets), *(spend_measures(c, budgets)
                                                for _, c in months)]:
        for d, row in figures.items():
            was = total.setdefault(d, [Decimal(0)] * len(BUDGET))
            total[d] = [a + b for a, b in zip(was, row, strict=True)]
    names = names_of(estate, store)
    header = ["department", "name", *BUDGET, "budget_used"]
    rows = []
    for d, values in sorted(total.items()):
        by = dict(zip(BUDGET, values, strict=True))
        rows.append([d, names.get(d, (d, ""))[0], *values,
                     ratio(by, ("budget_used", "budgeted_spent", "budget"))])
    shown = [[r[0], r[1], cell(r[2]) if r[0] in budgets else "—", cell(r[6]),
              cell(r[4]) if r[0] in budgets else "—",
              "" if r[7] is None else f"{r[7] * 100:.1f}%"] for r in rows]
    text = table(["department", "name", "budget", "spent", "left", "used"], shown, "llrrrr")
    span = f"{months[0][0]} to {months[-1][0]}" if months else f"no month of {month.year}"
    text += (f"\n\nBudgets for {month.year} against the charges recorded from {span}; "
             "left = budget − the spend of the departments with one.")
    data = {"period": str(month), "year": month.year, "months": [str(m) for m, _ in months],
            "departments": [{h: (None if v is None else str(v)) if i > 1 else v
                             for i, (h, v) in enumerate(zip(header, r, strict=True))}
                            for r in rows]}
    return views.Report(month, {"Budgets": (header, rows)}, data, text)
