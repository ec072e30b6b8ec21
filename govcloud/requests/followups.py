"""What the requester and the approvers do with a request besides deciding it: the requester
withdraws it while it waits, or edits and files it again after it was sent back; anyone of
its department and anyone who decides requests adds to its comment thread. Each is written to
the request, the audit trail and its life (``life``) together."""

from __future__ import annotations

from typing import Any

from govcloud.access import tokens
from govcloud.access.users import Person
from govcloud.audit import trail
from govcloud.clock import now
from govcloud.core.model import Estate
from govcloud.core.patterns import check_line
from govcloud.errors import GovcloudError
from govcloud.requests import life
from govcloud.requests.assessment import assess
from govcloud.requests.decisions import RequestRefused, at_once, may_file
from govcloud.requests.records import Request, decide, find, refile
from govcloud.state.store import Store

COMMENTERS = frozenset({"member", "approver", "operator", "finance"})


def _own(store: Store, person: Person, n: int, state: str, doing: str) -> Request:
    """Request ``n`` when ``person`` filed it and it is ``state``; else why not."""
    r = find(store, n)
    if r is None:
        raise RequestRefused(f"no request {n}", "govcloud request list shows them")
    if person.name not in (r.requester, tokens.principal(store, r.requester)):
        raise RequestRefused(f"only {r.requester}, who filed request {n}, {doing} it",
                             "ask them, or comment on the request")
    if r.state != state or r.unwritten():
        shown = "approved" if r.unwritten() else r.state
        raise RequestRefused(f"request {n} is {shown}: only a request that is {state} is "
                             f"{'withdrawn' if state == 'waiting' else 'filed again'}",
                             f"see govcloud request show {n}")
    return r


def withdraw(store: Store, person: Person, n: int, reason: str = "",
             source: str = "portal") -> Request:
    """The requester withdraws a request that still waits for an approval."""
    check_line(reason)
    with store.transaction():
        r = _own(store, person, n, "waiting", "withdraws")
        done = Request(**{**r.as_dict(), "state": "withdrawn", "changed_at": now(),
                          "note": reason.strip() or "withdrawn by the requester"})
        if not decide(store, done, r):
            raise RequestRefused(f"request {n} was decided meanwhile; it was not withdrawn",
                                 f"see govcloud request show {n}")
        trail.append(store, person.name, "request withdraw", f"request {n}", r.department,
                     {"state": "waiting"}, {"state": "withdrawn"}, reason.strip(), source)
        life.record(store, n, person.name, "withdrawn", {"reason": reason.strip()})
    return done


def resubmit(estate: Estate, store: Store, person: Person, n: int, payload: Any,
             source: str = "portal") -> Request:
    """The requester files a request sent back again, edited (``payload``: the whole request
    as filed, its department the same): judged again as a new one, its approvals start
    over; refused, with every field's problem, when its verdict is not ok."""
    r = _own(store, person, n, "returned", "files")
    if isinstance(payload, dict):
        payload = {**payload, "department": r.department}
    may_file(person, payload, estate, store)
    verdict = assess(estate, r.department, payload)
    if not verdict.ok:
        first = verdict.errors[0] if verdict.errors else {"message": "invalid"}
        raise RequestRefused(f"the request cannot be filed again: {first['message']}",
                             first.get("hint", ""), verdict)
    at = now()
    again = Request(**{**r.as_dict(), "kind": payload["kind"], "state": "waiting",
                       "payload": payload, "base": verdict.base, "verdict": verdict.as_dict(),
                       "approvals": [], "changed_at": at, "note": ""})
    with store.transaction():
        if not refile(store, again, r):
            raise RequestRefused(f"request {n} changed meanwhile; it was not filed again",
                                 f"see govcloud request show {n}")
        trail.append(store, person.name, "request resubmit", f"request {n}", r.department,
                     {"payload": r.payload}, {"payload": payload,
                                              "cost_delta": verdict.cost_delta,
                                              "chain": verdict.chain},
                     str(payload.get("reason", "")), source)
        life.record(store, n, person.name, "resubmitted",
                    {"chain": verdict.chain.get("roles", []), "was": r.payload}, at)
    return at_once(estate, store, again, source)


def comment(store: Store, person: Person, n: int, text: str,
            source: str = "portal") -> life.Event:
    """Add to a request's comment thread: its department's people and those who decide
    requests (never another department's member or approver, never an auditor)."""
    r = find(store, n)
    if r is None:
        raise RequestRefused(f"no request {n}", "govcloud request list shows them")
    if person.role not in COMMENTERS or (person.department is not None
                                         and person.department != r.department):
        raise RequestRefused(f"{person.name} cannot comment on request {n} of "
                             f"{r.department}", "its department's people and those who "
                             "decide requests comment on it")
    text = text.strip()
    if not text:
        raise RequestRefused("the comment is empty", "write what you want to say")
    try:
        check_line(text, "the comment")
    except GovcloudError as exc:
        raise RequestRefused(str(exc), exc.hint) from None
    with store.transaction():
        trail.append(store, person.name, "request comment", f"request {n}", r.department,
                     None, None, text, source)
        life.record(store, n, person.name, "comment", {"text": text, "role": person.role})
    return life.events(store, n)[-1]
