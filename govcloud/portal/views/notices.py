"""In-portal notices: what happened to the requests of the person's department (a person
without one: of the requests they filed) since they last looked, and what waits for them (the
queue's requests). Opening the notices page marks them seen. Every page's navigation shows
both counts (``navigation``)."""

from __future__ import annotations

from govcloud.audit import trail
from govcloud.core.roles import DEPARTMENT_ROLES
from govcloud.core.trail import Entry
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.sessions import Session
from govcloud.portal.views.oversight import audit_record
from govcloud.portal.views.requests import waiting_for_me
from govcloud.portal.views.results import Data
from govcloud.requests import records

SEEN = "notices seen by "  # + the person's name: the meta row of the last record they saw
SHOWN = 50  # the newest notices the page shows
WAITERS = frozenset({"approver", "operator", "finance"})  # whose decisions requests wait for


def _seen(p: Portal, who: Session) -> int:
    kept = p.store.get_meta(SEEN + who.person.name) or "0"
    return int(kept) if kept.isdigit() else 0


def _found(p: Portal, who: Session, limit: int | None) -> tuple[int, list[Entry]]:
    """The records the person is noticed of: their department's requests (a member's and an
    approver's), else the requests they filed (a scoped person's: of their subtree); never
    their own doing."""
    person = who.person
    own = person.department if person.role in DEPARTMENT_ROLES else None
    numbers = None if own is not None else records.filed_by(
        p.store, person.name, within=scopes.reach(p, person))
    return trail.about_requests(p.store, person.name, own, numbers, _seen(p, who), limit)


def pending(p: Portal, who: Session) -> int | None:
    """How many requests wait for the person's decision (None for roles that decide none)."""
    if who.person.role not in WAITERS:
        return None
    return p.figures(("pending", who.person.name, who.person.role),
                     lambda: len(waiting_for_me(p, who)))


def navigation(p: Portal, who: Session) -> Data:
    """The counts every page's navigation shows: new notices, requests waiting."""
    if who.waits:  # the second factor is not given yet
        return {"notices": 0, "pending": None}
    return {"notices": _found(p, who, None)[0], "pending": pending(p, who)}


def notices(p: Portal, who: Session) -> Data:
    """The newest notices (those since the person last looked marked new) and the requests
    waiting for them; the notices are seen from now on."""
    seen = _seen(p, who)
    new, found = _found(p, who, SHOWN)
    if found and found[0].seq > seen:
        p.store.set_meta(SEEN + who.person.name, str(found[0].seq))
    waiting = waiting_for_me(p, who) if who.person.role in WAITERS else []
    return {"new": new, "notices": [{**audit_record(e), "new": e.seq > seen} for e in found],
            "waiting": waiting[:SHOWN], "waiting_count": len(waiting)}
