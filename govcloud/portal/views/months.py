"""Months as the views see them: this month, the month a path names, and a month's chargeback
statement (made once per change for every department) with its state."""

from __future__ import annotations

from typing import Any

from govcloud.books import accounts
from govcloud.clock import clock
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from govcloud.portal.context import Portal
from govcloud.portal.views.results import NotFound


def this_month() -> Month:
    return Month.of(clock())


def month_in_path(period: str) -> Month:
    """The month a path names (``{period}``); NotFound unless it is written YYYY-MM."""
    try:
        return Month.parse(period, "period")
    except GovcloudError:
        raise NotFound(f"no month {period[:20]!r}", "write the month as YYYY-MM") from None


def month_asked(query: dict[str, str]) -> Month:
    """The month ``?period=`` names (this month without it); NotFound unless it is written
    YYYY-MM and has begun."""
    now = this_month()
    if not query.get("period"):
        return now
    month = month_in_path(query["period"])
    if month > now:
        raise NotFound(f"{month} has not begun", f"choose {now} or an earlier month")
    return month


def state_of(month: Month, st: Any) -> str:
    """closed, open (over, not closed) or month-to-date."""
    if st.closed_at:
        return "closed"
    return "month-to-date" if accounts.window(month).month_to_date else "open"


def statement_of(p: Portal, month: Month) -> Any:
    """The month's chargeback (``accounts.statement_for``), made once per change for every
    department; None when the month has no recorded usage."""
    def make() -> Any:
        try:
            return accounts.statement_for(p.estate, p.store, month)
        except GovcloudError:
            return None

    return p.figures(("statement", month), make)
