"""The auditors' and operators' records: the audit trail (and whether its chain is whole),
found by action, department, person, days and text, a page at a time or as CSV; and the
portal's accounts."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from govcloud.access import users as user_records
from govcloud.audit import trail
from govcloud.clock import stamp
from govcloud.core.trail import Entry
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.phrases import phrase
from govcloud.portal.sessions import Session
from govcloud.portal.views.paging import Asked, table, window
from govcloud.portal.views.results import Amiss, Data, NotFound, Table

AUDIT_QUERY = ("action", "department", "person", "from", "to", "sign_ins")
REQUEST = re.compile(r"request (\d+)")


def audit_scope(p: Portal, who: Session) -> tuple[str, ...] | None:
    """The departments whose records the person may see in the trail (None: every record).
    The page, its API twin and its CSV all ask this one function: a scoped auditor, the
    records about a department under their organisation (``portal.scopes``)."""
    seen = scopes.seen(p, who.person)
    return None if seen is None else tuple(sorted(seen))


def _day(value: str, name: str, zone: str, after: int = 0) -> str:
    """The moment a day begins (``after`` days later) in the estate's time zone, as the trail
    records times; NotFound unless it is written YYYY-MM-DD."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value) + timedelta(days=after)
        return stamp(datetime.combine(day, time(), ZoneInfo(zone)))
    except (ValueError, OverflowError):  # not a day, or one no clock can write (9999-12-31)
        raise NotFound(f"no day {value[:20]!r} ({name})", "write the day as YYYY-MM-DD") \
            from None


def _sought(p: Portal, who: Session, asked: Asked) -> trail.Sought:
    f, zone = dict(asked.filters), p.estate.settings.time_zone
    return trail.Sought(f.get("action", ""), f.get("department", ""), f.get("person", ""),
                        _day(f.get("from", ""), "from", zone),
                        _day(f.get("to", ""), "to", zone, after=1), asked.q,
                        f.get("sign_ins", "") in ("1", "on", "true"), audit_scope(p, who))


def audit_record(e: Entry) -> Data:
    """A record, with the address of the request it is about (when it is about one)."""
    number = REQUEST.fullmatch(e.subject)
    link = f"/departments/{e.department}/requests/{number.group(1)}" \
        if number and e.department else None
    return {**e.as_dict(), "link": link}


def audit(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data | Amiss:
    """The chain's check and one page of the records that match, newest first (none, and
    what is wrong, when a day of the filter is no day)."""
    asked = Asked.of(query, *AUDIT_QUERY)
    try:
        sought = _sought(p, who, asked)
    except NotFound as exc:  # a day that is no day: the page, its form kept, says so
        return Amiss({**trail.verify(p.store).as_dict(), "entries": [],
                      "paging": window(asked, 0), "actions": trail.actions(p.store)}, exc)
    total, found = trail.search(p.store, sought, asked.offset, asked.limit)
    verdict = trail.verify(p.store)
    return {**verdict.as_dict(), "entries": [audit_record(e) for e in found],
            "paging": window(asked, total), "actions": trail.actions(p.store)}


def audit_csv(p: Portal, who: Session, query: dict[str, str] | None = None) -> Table:
    """Every record that matches (not one page), as CSV."""
    asked = Asked.of(query, *AUDIT_QUERY)
    _, found = trail.search(p.store, _sought(p, who, asked))
    columns = ((phrase("number"), lambda e: e["seq"]), (phrase("time"), lambda e: e["at"]),
               (phrase("who"), lambda e: e["actor"]), (phrase("action"), lambda e: e["action"]),
               (phrase("subject"), lambda e: e["subject"]),
               (phrase("department"), lambda e: e["department"]),
               (phrase("reason"), lambda e: e["reason"]),
               (phrase("source"), lambda e: e["source"]))
    return table("audit.csv", columns, [e.as_dict() for e in found], ("action", "source"))


def users(p: Portal, who: Session) -> Data:
    """The portal's accounts (a scoped person's: those inside their subtree)."""
    return {"users": [x.as_dict() for x in
                      scopes.accounts(p, who.person, user_records.people(p.store))]}
