"""The auditors' and operators' records: the audit trail (and whether its chain is whole),
and the portal's accounts."""

from __future__ import annotations

from govcloud.access import users as user_records
from govcloud.audit import trail
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.sessions import Session
from govcloud.portal.views.results import Data


def audit(p: Portal, who: Session) -> Data:
    verdict = trail.verify(p.store)
    return {**verdict.as_dict(),
            # a scoped auditor: the records about a department under their organisation
            "entries": [e.as_dict() for e in scopes.only(
                p, who.person, trail.latest(p.store, 200), lambda e: e.department)]}


def users(p: Portal, who: Session) -> Data:
    return {"users": [x.as_dict() for x in user_records.people(p.store)]}
