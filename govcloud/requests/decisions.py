"""Deciding requests: a department's proposed edit of its plan file, judged by the same code
as the CLI before it can be filed (``assessment``), approved by the people the approval rules
name, and written to the plan file (one git commit, when the estate is a repository) only
then. Requests are stored through ``records``; whoever should hear of one is told through
``notify``.

Approving writes the plan file under the state store's apply lock, so two approvals, or an
approval and an apply, never interleave; a request whose plan file changed since it was filed
is judged again on the file as it is now, and sent back if it no longer holds.
"""

from __future__ import annotations

import threading
from typing import Any

from govcloud.access import tokens
from govcloud.access.users import Person
from govcloud.audit import trail
from govcloud.clock import now
from govcloud.core import approvals
from govcloud.core.model import Estate
from govcloud.core.patterns import check_line
from govcloud.core.roles import with_article
from govcloud.errors import GovcloudError, LockHeld
from govcloud.estate import planwrites
from govcloud.requests import notify
from govcloud.requests.assessment import Verdict, assess, digest, plan_text
from govcloud.requests.records import Request, decide, find, insert, save
from govcloud.state.store import Store

FILERS = {"member", "approver", "operator"}  # who may file a request
LOCK_SECONDS = 30.0
_DECIDING = threading.Lock()  # one decision at a time in this process (the store's lock
# serialises processes; on PostgreSQL its advisory lock is re-entrant within a session)


class RequestRefused(GovcloudError):
    """A request cannot be filed or decided; ``verdict`` holds the field-level errors."""

    def __init__(self, message: str, hint: str = "", verdict: Verdict | None = None) -> None:
        super().__init__(message, hint)
        self.verdict = verdict


def _tell(estate: Estate | None, store: Store, request: Request, by: str, source: str) -> None:
    """Mail whoever should hear of the request now; a failure is an audit record, never an
    error."""
    if estate is None:
        return
    problem = notify.send(estate.settings.notify, store, request)
    if problem:
        trail.append(store, by, "notify failed", f"request {request.id}", request.department,
                     None, None, problem, source)


def submit(estate: Estate, store: Store, person: Person, payload: Any,
           source: str = "portal") -> Request:
    """File a request (refused, with every field's problem, when its verdict is not ok); one
    that the rules approve at once is written to the plan file now."""
    department = may_file(person, payload)
    verdict = assess(estate, str(department or ""), payload)
    if not verdict.ok:
        first = verdict.errors[0] if verdict.errors else {"message": "invalid"}
        raise RequestRefused(f"the request cannot be filed: {first['message']}",
                             first.get("hint", ""), verdict)
    at = now()
    with store.transaction():
        n = insert(store, verdict.department, payload["kind"], person.name, payload,
                   verdict.base, verdict.as_dict(), at)
        trail.append(store, person.name, "request new", f"request {n}", verdict.department,
                     None, {"payload": payload, "cost_delta": verdict.cost_delta,
                            "chain": verdict.chain}, payload.get("reason", ""), source)
    request = find(store, n)
    assert request is not None
    if verdict.chain.get("auto"):
        rule = verdict.chain["rules"][-1]
        request = _write(estate, store, request, f"govcloud (approval rule {rule})", "auto",
                         f"approved by rule {rule}", source)
    _tell(estate, store, request, person.name, source)
    return request


def may_file(person: Person, payload: Any) -> Any:
    """The department ``payload`` is for, when ``person`` may file it (filing and its dry
    run ask the same); else RequestRefused with who may."""
    department = payload.get("department") if isinstance(payload, dict) else None
    if person.role not in FILERS:
        raise RequestRefused(f"{with_article(person.role)} does not file requests",
                             "department members and approvers file requests")
    if person.department is not None and department != person.department:
        raise RequestRefused(f"{person.name} files requests for {person.department} only",
                             f'set "department": "{person.department}"')
    return department


def _git(request: Request, approvers: list[dict[str, str]]) -> dict[str, Any]:
    """The git commit of an approved request's plan edit: authored by the requester, the
    approvers in trailers."""
    reason = str(request.payload.get("reason", ""))
    return {"subject": f"{request.department}: {request.kind} (request {request.id})",
            "body": reason or "(no reason given)",
            "trailers": [f"Request: {request.id}",
                         *(f"Approved-by: {a['by']} ({a['role']})" for a in approvers)],
            "author": f"{request.requester} <{request.requester}@{request.department}"
                      ".govcloud>"}


def _write(estate: Estate, store: Store, request: Request, by: str, role: str, reason: str,
           source: str) -> Request:
    """Record the last approval and write the plan file (under the apply lock), judging the
    request again first if its plan file changed since it was filed."""
    with _DECIDING:
        try:
            store.lock(LOCK_SECONDS, doing=f"writing request {request.id}'s plan")
        except LockHeld as exc:  # the store's hint (--lock-timeout) is no option of approve
            raise LockHeld(str(exc), f"wait for it to finish, then approve request "
                                     f"{request.id} again") from None
        try:
            planwrites.settle(store, estate.root, held=True)
            current = find(store, request.id)
            if current is None or current.state != "waiting":
                raise RequestRefused(f"request {request.id} is "
                                     f"{current.state if current else 'gone'}",
                                     "reload the queue")
            file, text = plan_text(estate, current.department)
            verdict, stale = None, digest(text) != current.base
            verdict = assess(estate, current.department, current.payload)
            approvals_ = [*current.approvals, {"role": role, "by": by, "at": now()}]
            if not verdict.ok:
                first = verdict.errors[0]["message"] if verdict.errors else "invalid"
                returned = Request(**{**current.as_dict(), "state": "returned",
                                      "changed_at": now(), "note": "the plan file changed "
                                      f"since it was filed and the request no longer holds: "
                                      f"{first}", "verdict": verdict.as_dict()})
                with store.transaction():
                    _decide(store, returned, current)
                    trail.append(store, by, "request returned", f"request {request.id}",
                                 current.department, {"state": "waiting"},
                                 {"state": "returned"}, returned.note, source)
                return returned
            done = Request(**{**current.as_dict(), "state": "approved", "changed_at": now(),
                              "approvals": approvals_, "verdict": verdict.as_dict(),
                              "note": "judged again: the plan file had changed" if stale
                              else ""})
            n = planwrites.begin(store, file, text, verdict.text, _git(done, approvals_))
            try:
                with store.transaction():
                    _decide(store, done, current)
                    trail.append(store, by, "request approve", f"request {request.id}",
                                 current.department, {"plan": current.base},
                                 {"plan": digest(verdict.text), "diff": verdict.diff},
                                 reason, source)
                    planwrites.write(store, estate.root, n, verdict.text)
            except BaseException:
                planwrites.undo(store, estate.root, n)
                raise
            note = planwrites.finish(store, estate.root, n)
            if note:
                done = Request(**{**done.as_dict(), "note": "; ".join(
                    x for x in (done.note, note) if x)})
                save(store, done)
            return done
        finally:
            store.unlock()


def approve(estate: Estate, store: Store, person: Person, n: int, reason: str = "",
            source: str = "portal") -> Request:
    """Approve the stage the request waits for; the last approval writes the plan file."""
    request = _decidable(store, person, n)
    step = request.waiting_for()
    roles = request.verdict["chain"]["roles"]
    if roles and step == roles[-1]:
        done = _write(estate, store, request, person.name, person.role, reason, source)
        _tell(estate, store, done, person.name, source)
        return done
    with store.transaction():
        current = _decidable(store, person, n)
        if current.waiting_for() != step:
            raise RequestRefused(f"request {n} moved on meanwhile", "reload the queue")
        updated = Request(**{**current.as_dict(), "changed_at": now(), "approvals": [
            *current.approvals, {"role": person.role, "by": person.name, "at": now()}]})
        _decide(store, updated, current)
        trail.append(store, person.name, "request approve", f"request {n}",
                     current.department, {"waiting_for": step},
                     {"waiting_for": updated.waiting_for()}, reason, source)
    _tell(estate, store, updated, person.name, source)
    return updated


DECISIONS = ("request approve", "request reject", "request return", "request returned")


def _decide(store: Store, r: Request, was: Request) -> None:
    """Write the decision ``r`` (inside the caller's transaction) unless another decision
    of the request came first: then it is refused (409 in the portal, exit 1 on the command
    line), naming who decided and when, and nothing is written."""
    if decide(store, r, was):
        return
    now_ = find(store, r.id)
    last = trail.last_about(store, f"request {r.id}", DECISIONS)
    who = f" by {last.actor} at {last.at}" if last is not None else ""
    state = now_.state if now_ is not None else "gone"
    what = "approved one step further" if state == "waiting" else state
    raise RequestRefused(f"request {r.id} was {what}{who} meanwhile; this decision was not "
                         "recorded", f"see govcloud request show {r.id}")


def _decidable(store: Store, person: Person, n: int) -> Request:
    request = find(store, n)
    if request is None:
        raise RequestRefused(f"no request {n}", "govcloud request list shows them")
    if request.state != "waiting":
        last = trail.last_about(store, f"request {n}", DECISIONS)
        who = f" (decided by {last.actor} at {last.at})" if last is not None else ""
        raise RequestRefused(f"request {n} is {request.state}{who}", "only a waiting request "
                             "is decided")
    chain = approvals.Chain(tuple(request.verdict["chain"]["roles"]), (), False)
    why = approvals.may_approve(person.role, person.department,
                                tokens.principal(store, person.name),
                                tokens.principal(store, request.requester),
                                request.department, chain,
                                [a["role"] for a in request.approvals])
    if why:
        raise RequestRefused(f"{person.name} cannot decide request {n}: {why}",
                             "the request shows who it waits for")
    return request


def close(store: Store, person: Person, n: int, state: str, reason: str,
          source: str = "portal", estate: Estate | None = None) -> Request:
    """Reject a request, or send it back to the requester (``returned``), with a reason;
    with ``estate``, its requester is told by e-mail."""
    if state not in ("rejected", "returned"):
        raise GovcloudError(f"a request is closed as rejected or returned, not {state}")
    if not reason.strip():
        raise RequestRefused("a rejection or a request sent back needs a reason",
                             "say what is wrong, so the requester can act on it")
    check_line(reason)
    with store.transaction():
        request = _decidable(store, person, n)
        closed = Request(**{**request.as_dict(), "state": state, "changed_at": now(),
                            "note": reason.strip()})
        _decide(store, closed, request)
        trail.append(store, person.name, f"request {'reject' if state == 'rejected' else 'return'}",
                     f"request {n}", request.department, {"state": "waiting"},
                     {"state": state}, reason.strip(), source)
    _tell(estate, store, closed, person.name, source)
    return closed
