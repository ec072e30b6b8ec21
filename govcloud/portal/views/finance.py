"""The finance pages: this month's chargeback and savings (the chargeback also as CSV and
XLSX), the monthly statements with their downloads, and closing a month."""

from __future__ import annotations

from typing import Any

from govcloud.books import accounts, closing
from govcloud.books import records as stored
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.forms import from_api
from govcloud.portal.routes import CLOSERS
from govcloud.portal.sessions import Session
from govcloud.portal.views.months import month_asked, month_in_path, state_of, this_month
from govcloud.portal.views.results import Data, NotFound, Redirect, Table, Workbook
from govcloud.reports.text import csv_cell


def chargeback(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """A month's chargeback (``?period=YYYY-MM``, this month without it; a closed month's
    as it was frozen), with links to the months before and after it."""
    month = month_asked(query or {})
    return {**_finance(p, who, "chargeback", month), **_around(month)}


def savings(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """A month's savings (``?period=YYYY-MM``, this month without it; a closed month's from
    its frozen figures), with links to the months before and after it."""
    month = month_asked(query or {})
    return {**_finance(p, who, "savings", month), **_around(month)}


def unit_costs(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """A month's unit costs (``govcloud report unit-costs``, ``?period=``): what each billed
    item costs the platform per unit, idle capacity included, against what departments pay.
    They are the whole platform's figures: a person limited to a subtree sees none
    (``scopes.limited`` keeps no sheet of them), and the page says where theirs are."""
    month = month_asked(query or {})
    return {**_finance(p, who, "unit-costs", month), **_around(month)}


def _around(month: Month) -> Data:
    """The months before and after ``month`` for the page's links (none after this one)."""
    later = month.next() if month < this_month() else None
    return {"previous": str(month.previous()), "next": str(later) if later else ""}


def _finance(p: Portal, who: Session, kind: str, month: Month | None = None) -> Data:
    """A month's (this month's by default) chargeback or savings report (made once per
    change, and per scope: a scoped person's is their subtree's, ``scopes.limited``)."""
    month = month or this_month()

    def make() -> Data:
        try:
            rep = scopes.limited(p, who.person,
                                 accounts.report(p.estate, p.store, kind, month))
        except GovcloudError as exc:
            return {"period": str(month), "missing": exc.render(), "whole_platform": False,
                    "header": [], "rows": []}
        if not rep.sheets:  # the platform's figures, to a person limited to a subtree
            return {"period": str(month), "missing": "", "whole_platform": True,
                    "header": [], "rows": []}
        header, rows = rep.main
        return {**rep.data, "missing": "", "whole_platform": False, "header": list(header),
                "rows": [list(r) for r in rows]}

    return p.figures(("report", kind, month, who.person.subtree), make)


def chargeback_csv(p: Portal, who: Session) -> Table:
    return _csv(scopes.limited(p, who.person, accounts.report(p.estate, p.store,
                                                              "chargeback", this_month())))


def _csv(rep: Any) -> Table:
    """A chargeback report as CSV (``govcloud report chargeback -o csv``), its header and
    the labels of its idle and total rows in the person's language."""
    header, rows = rep.main
    cells = [[csv_cell(v) for v in r] for r in rows]
    labels = frozenset((i, j) for i, r in enumerate(cells) if str(r[0]).startswith("(")
                       for j in (0, 1))
    return Table(f"chargeback-{rep.period}.csv", list(header), cells, labels)


def chargeback_xlsx(p: Portal, who: Session) -> Workbook:
    """The workbook ``govcloud report chargeback -o xlsx`` writes, from the same code."""
    rep = scopes.limited(p, who.person, accounts.report(p.estate, p.store, "chargeback",
                                                        this_month(), workbook=True))
    return Workbook(f"chargeback-{rep.period}.xlsx", list(rep.sheets.items()), list(rep.notes))


# --- The statements (months), their downloads, closing a month


def statements(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """Every month with recorded usage or closed, newest first: its state, who closed it and
    when, and its figures (the chargeback's, frozen for a closed month)."""
    periods = sorted({*stored.periods(p.store), *stored.closed_periods(p.store)},
                     reverse=True)
    rows: list[Data] = []
    for period in periods:
        month = Month.parse(period)
        frozen = stored.closing(p.store, month)
        try:
            st = frozen.statement if frozen else accounts.statement_for(p.estate, p.store, month)
        except GovcloudError as exc:
            rows.append({"period": period, "state": "no usage", "missing": exc.render()})
            continue
        whole = who.person.subtree == ""  # a scoped person: not the estate's figures
        rows.append({"period": period, "state": state_of(month, st),
                     "closed_at": frozen.closed_at if frozen else None,
                     "closed_by": frozen.closed_by if frozen else None,
                     "platform_cost": str(st.platform_cost) if whole else None,
                     "charged": str(st.shared()) if whole else None,
                     "idle": str(st.idle) if whole else None,
                     "adjustments": str(st.adjusted()) if whole else None})
    closed = (query or {}).get("closed", "")
    return {"statements": rows,
            "may_close": who.person.role in CLOSERS and not who.person.subtree,
            "closed": closed if closed in periods else ""}  # after closing: say it


def statement_csv(p: Portal, who: Session, period: str) -> Table:
    """A month's chargeback as CSV (``govcloud report chargeback -o csv``)."""
    return _csv(scopes.limited(p, who.person, _report(p, month_in_path(period))))


def statement_xlsx(p: Portal, who: Session, period: str) -> Workbook:
    """A month's workbook (``govcloud report chargeback --period P -o xlsx``)."""
    rep = scopes.limited(p, who.person, _report(p, month_in_path(period), workbook=True))
    return Workbook(f"chargeback-{rep.period}.xlsx", list(rep.sheets.items()), list(rep.notes))


def _report(p: Portal, month: Month, workbook: bool = False) -> Any:
    try:
        return accounts.report(p.estate, p.store, "chargeback", month, workbook=workbook)
    except GovcloudError as exc:
        raise NotFound(str(exc), exc.hint) from None


def statement_close_form(p: Portal, who: Session, period: str) -> Data:
    """What closing the month would freeze, and why it cannot be closed, if it cannot."""
    month = month_in_path(period)
    row = next((r for r in statements(p, who)["statements"] if r["period"] == str(month)),
               None)
    if row is None:
        why = f"no usage is recorded for {month}: nothing to close"
    elif row["state"] == "closed":
        why = f"{month} is already closed (by {row['closed_by']})"
    elif row["state"] == "month-to-date":
        why = f"{month} is not over yet: close it after {month.end:%Y-%m-%d}"
    elif row["state"] == "no usage":
        why = row["missing"]
    else:
        why = ""
    return {"period": str(month), "statement": row, "refused": why}


def statement_close(p: Portal, who: Session, period: str, body: Data) -> Any:
    """Close the month: ``govcloud statement close``'s code, recorded as the signed-in
    person, in the finance audit trail and the audit trail."""
    month = month_in_path(period)
    c = closing.close(p.estate, p.store, month, by=who.person.name, source="portal")
    if from_api(body):
        return {"period": str(c.period), "closed_at": c.closed_at, "closed_by": c.closed_by,
                "platform_cost": str(c.statement.platform_cost),
                "idle": str(c.statement.idle), "book_digest": c.book_digest}
    return Redirect(f"/finance/statements?closed={c.period}")
