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
from govcloud.core import approvals, hierarchy
from govcloud.core.model import Estate
from govcloud.core.patterns import check_line
from govcloud.core.roles import with_article
from govcloud.errors import GovcloudError, LockHeld
from govcloud.estate import organisations, planwrites
from govcloud.requests import deciders, life, notify
from govcloud.requests.assessment import Verdict, assess, digest, plan_text
from govcloud.requests.records import (
    Request,
    decide,
    filed_from,
    find,
    from_form,
    insert,
    listing,
    save,
)
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
           source: str = "portal", once: str = "") -> Request:
    """File a request (refused, with every field's problem, when its verdict is not ok); one
    that the rules approve at once is written to the plan file now, or, when the file cannot
    take the write now, by the next command that can (``NotWritten`` says why, and what
    then). ``once``: the filing form's one-time token; a form that already filed a request
    files nothing more and gives that request (a double click, a retried post)."""
    department = may_file(person, payload, estate, store)
    if once and (n := filed_from(store, once)) is not None:
        if (earlier := _filed_by(store, n, person)) is not None:
            return earlier
        once = ""  # another person's form's token: theirs stays theirs, this files anew
    write_approved(estate, store, source)
    verdict = assess(estate, str(department or ""), payload)
    if not verdict.ok:
        first = verdict.errors[0] if verdict.errors else {"message": "invalid"}
        raise RequestRefused(f"the request cannot be filed: {first['message']}",
                             first.get("hint", ""), verdict)
    at = now()
    try:
        with store.transaction():
            n = insert(store, verdict.department, payload["kind"], person.name, payload,
                       verdict.base, verdict.as_dict(), at)
            if once:
                from_form(store, once, n)
            _filed_records(store, person, payload, verdict, n, at, source)
    except Exception:
        n = filed_from(store, once) if once else None
        if n is not None and (earlier := _filed_by(store, n, person)) is not None:
            return earlier  # the same form, filed meanwhile by its other post
        raise
    request = find(store, n)
    assert request is not None
    request = at_once(estate, store, request, source)
    _tell(estate, store, request, person.name, source)
    return request


def _filed_records(store: Store, person: Person, payload: Any, verdict: Any, n: int, at: str,
                   source: str) -> None:
    """A new request's audit record and the first step of its life."""
    trail.append(store, person.name, "request new", f"request {n}", verdict.department,
                 None, {"payload": payload, "cost_delta": verdict.cost_delta,
                        "chain": verdict.chain}, payload.get("reason", ""), source)
    life.record(store, n, person.name, "filed", _filed(verdict.chain), at)


def _filed_by(store: Store, n: int, person: Person) -> Request | None:
    """Request ``n`` (the one a form's token filed) when ``person`` filed it: a token is
    never a way to reach another person's request."""
    earlier = find(store, n)
    return earlier if earlier is not None and earlier.requester == person.name else None


def at_once(estate: Estate, store: Store, request: Request, source: str) -> Request:
    """A request just filed (or filed again) that the rules approve at once, written to its
    plan file now (``NotWritten`` when the file cannot take it now); others as they are."""
    if not request.verdict["chain"].get("auto"):
        return request
    try:
        return _write(estate, store, request, *_by_rule(request), source)
    except RequestRefused:  # written meanwhile by another command's write_approved
        return find(store, request.id) or request
    except GovcloudError as exc:
        raise _not_written(store, request, exc) from None


def _filed(chain: dict[str, Any]) -> dict[str, Any]:
    """What the life's ``filed`` step says: whom the request waits for, or the rule that
    approves it at once."""
    if chain.get("auto"):
        return {"rule": chain["rules"][-1]}
    return {"chain": chain.get("roles", [])}


def may_file(person: Person, payload: Any, estate: Estate | None = None,
             store: Store | None = None) -> Any:
    """The department ``payload`` is for, when ``person`` may file it (filing and its dry
    run ask the same); else RequestRefused with who may. A person scoped to an organisation
    files only for the departments under it (given the estate and the store to read the
    tree from)."""
    department = payload.get("department") if isinstance(payload, dict) else None
    if person.role not in FILERS:
        raise RequestRefused(f"{with_article(person.role)} does not file requests",
                             "department members and approvers file requests")
    if person.department is not None and department != person.department:
        raise RequestRefused(f"{person.name} files requests for {person.department} only",
                             f'set "department": "{person.department}"')
    if person.subtree and estate is not None and store is not None:
        reach = organisations.reach(store, person.subtree, estate.plans) or frozenset()
        if department not in reach:
            raise RequestRefused(f"{person.name} files requests for the departments under "
                                 f"{person.subtree} only, not {str(department)[:64]!r}",
                                 "name one of them in \"department\"")
    return department


class NotWritten(GovcloudError):
    """A request approved by a rule at once whose plan edit cannot be written now: it stays
    approved, waiting to be written, and the next command that can writes it."""


def _by_rule(r: Request) -> tuple[dict[str, str], str]:
    """The approval of a request by the rule that approves it at once, and its reason."""
    rule = r.verdict["chain"]["rules"][-1]
    return {"role": "auto", "by": f"govcloud (approval rule {rule})"}, \
        f"approved by rule {rule}"


def _not_written(store: Store, r: Request, why: GovcloudError) -> NotWritten:
    """Keep why ``r`` is not written in its note (its page shows it), and the error that says
    so, with what to do that works."""
    _note(store, r, str(why))
    rule = r.verdict["chain"]["rules"][-1]
    then = f"govcloud request show {r.id} shows it (and writes it, once it can)"
    if isinstance(why, LockHeld):
        hint = f"nothing to do: the next govcloud command after that one writes it; {then}"
    else:
        hint = f"{why.hint}; the next govcloud command then writes it: {then}"
    return NotWritten(f"request {r.id} is approved (rule {rule}) but not written yet: {why}",
                      hint)


def _note(store: Store, r: Request, note: str) -> None:
    """Say why an approved request is not written yet (unless it says so already)."""
    if r.note != note:
        with store.transaction():
            decide(store, Request(**{**r.as_dict(), "note": note}), r)


def write_approved(estate: Estate, store: Store, source: str = "cli") -> list[Request]:
    """Write the requests approved by a rule whose plan edit is not written yet, oldest
    first, as far as the lock (not waited for) and their files allow now; the requests so
    decided (approved, or sent back or waiting for people if judged again they must be).
    Run before every decision, by the ``request`` commands and by every cloud session."""
    waiting = listing(store, None, "waiting", limit=100_000)
    done = []
    for r in sorted((r for r in waiting if r.unwritten() and r.verdict["chain"].get("auto")),
                    key=lambda r: r.id):
        try:
            written = _write(estate, store, r, *_by_rule(r), source, wait=0.0)
        except LockHeld:
            break  # an apply (or another decision) runs: the next command tries again
        except RequestRefused:
            continue  # written meanwhile by another command
        except GovcloudError as exc:
            _note(store, r, str(exc))
            continue
        _tell(estate, store, written, _by_rule(r)[0]["by"], source)
        done.append(written)
    return done


def _git(store: Store, request: Request, approvers: list[dict[str, str]]) -> dict[str, Any]:
    """The git commit of an approved request's plan edit: authored by the requester (a
    token's owner when it was filed with an API token, the token named in a trailer), the
    approvers in trailers (a step taken by the next role up says so)."""
    reason = str(request.payload.get("reason", ""))
    author = tokens.principal(store, request.requester)
    filed_with = [f"Filed-with: {request.requester}"] if author != request.requester else []
    return {"subject": f"{request.department}: {request.kind} (request {request.id})",
            "body": reason or "(no reason given)",
            "trailers": [f"Request: {request.id}", *filed_with,
                         *(f"Approved-by: {a['by']} ({a['as']}, for the {a['role']})"
                           if a.get("as") else f"Approved-by: {a['by']} ({a['role']})"
                           for a in approvers)],
            "author": f"{author} <{author}@{request.department}.govcloud>"}


def _write(estate: Estate, store: Store, request: Request, approval: dict[str, str],
           reason: str, source: str, wait: float | None = None) -> Request:
    """Record the last approval (``approval``: the step and who took it; role ``auto``: a
    rule) and write the plan file, under the apply lock (waited for ``wait`` seconds, else
    LOCK_SECONDS; LockHeld when it is not got), judging the request again first: sent back
    if it no longer holds; one a rule approved goes to the people its new chain names if the
    rules no longer approve it at once. ``planwrites.Unwritable`` when the file cannot take
    the write now."""
    with _DECIDING:
        store.lock(LOCK_SECONDS if wait is None else wait,
                   doing=f"writing request {request.id}'s plan")
        try:
            planwrites.settle(store, estate.root, held=True)
            current = find(store, request.id)
            if current is None or current.state != "waiting":
                raise RequestRefused(f"request {request.id} is "
                                     f"{current.state if current else 'gone'}",
                                     "reload the queue")
            file, text = plan_text(estate, current.department)
            verdict = assess(estate, current.department, current.payload)
            if not verdict.ok:
                return _returned(store, current, verdict, approval["by"], source)
            if approval["role"] == "auto" and not verdict.chain.get("auto"):
                return _needs_people(store, current, verdict, approval["by"], source)
            planwrites.uncommitted(estate.root, file)
            return _record(estate, store, current, verdict, (file, text),
                           {**approval, "at": now()}, reason, source)
        finally:
            store.unlock()


def _returned(store: Store, current: Request, verdict: Verdict, by: str,
              source: str) -> Request:
    """Send back a request that no longer holds on its plan file as it is now."""
    first = verdict.errors[0]["message"] if verdict.errors else "invalid"
    returned = Request(**{**current.as_dict(), "state": "returned", "changed_at": now(),
                          "note": "the plan file changed since it was filed and the request "
                          f"no longer holds: {first}", "verdict": verdict.as_dict()})
    with store.transaction():
        _decide(store, returned, current)
        trail.append(store, by, "request returned", f"request {current.id}",
                     current.department, {"state": "waiting"}, {"state": "returned"},
                     returned.note, source)
        life.record(store, current.id, by, "returned", {"reason": returned.note})
    return returned


def _needs_people(store: Store, current: Request, verdict: Verdict, by: str,
                  source: str) -> Request:
    """A request a rule approved, not written before its plan file changed, that the rules
    no longer approve at once: it waits for the people its new chain names."""
    roles = " → ".join(verdict.chain["roles"])
    waiting = Request(**{**current.as_dict(), "changed_at": now(), "verdict": verdict.as_dict(),
                         "note": "judged again before it was written: the plan file had "
                         f"changed, and the request now needs {roles}"})
    with store.transaction():
        _decide(store, waiting, current)
        trail.append(store, by, "request judged again", f"request {current.id}",
                     current.department, {"chain": current.verdict["chain"]},
                     {"chain": verdict.chain}, waiting.note, source)
    return waiting


def _record(estate: Estate, store: Store, current: Request, verdict: Verdict,
            before: tuple[str, str], approval: dict[str, str], reason: str,
            source: str) -> Request:
    """The approval, its audit record and the plan file (``before``: its name and text)
    written together (journaled: ``planwrites``), then the git commit."""
    file, text = before
    stale = digest(text) != current.base
    approvals_ = [*current.approvals, approval]
    done = Request(**{**current.as_dict(), "state": "approved", "changed_at": now(),
                      "approvals": approvals_, "verdict": verdict.as_dict(),
                      "note": "judged again: the plan file had changed" if stale else ""})
    n = planwrites.begin(store, file, text, verdict.text, _git(store, done, approvals_))
    try:
        with store.transaction():
            _decide(store, done, current)
            trail.append(store, approval["by"], "request approve", f"request {current.id}",
                         current.department, {"plan": current.base},
                         {"plan": digest(verdict.text), "diff": verdict.diff}, reason, source)
            life.record(store, current.id, approval["by"], "approved",
                        {"role": approval["role"], "remark": reason,
                         "cost_delta": verdict.cost_delta})
            planwrites.write(store, estate.root, n, verdict.text)
    except BaseException:
        planwrites.undo(store, estate.root, n)
        raise
    note = planwrites.finish(store, estate.root, n)
    if note:
        done = Request(**{**done.as_dict(), "note": "; ".join(x for x in (done.note, note)
                                                              if x)})
        save(store, done)
    return done


def approve(estate: Estate, store: Store, person: Person, n: int, reason: str = "",
            source: str = "portal") -> Request:
    """Approve the stage the request waits for; the last approval writes the plan file."""
    if reason:
        check_line(reason)
    written = {r.id: r for r in write_approved(estate, store, source)}
    if n in written:  # approved by a rule, not written until now
        return written[n]
    request = _decidable(store, person, n)
    step = request.waiting_for()
    assert step is not None
    approval = {"role": step, "by": person.name,
                **({"as": person.role} if person.role != step else {})}
    roles = request.verdict["chain"]["roles"]
    if step == roles[-1]:
        try:
            done = _write(estate, store, request, approval, reason, source)
        except LockHeld as exc:  # the store's hint (--lock-timeout) is no option of approve
            raise LockHeld(str(exc), f"wait for it to finish, then approve request {n} "
                                     "again") from None
        except planwrites.Unwritable as exc:
            raise RequestRefused(str(exc), f"{exc.hint}, then approve request {n} "
                                           "again") from None
        _tell(estate, store, done, person.name, source)
        return done
    with store.transaction():
        current = _decidable(store, person, n)
        if current.waiting_for() != step:
            raise RequestRefused(f"request {n} moved on meanwhile", "reload the queue")
        updated = Request(**{**current.as_dict(), "changed_at": now(), "approvals": [
            *current.approvals, {**approval, "at": now()}]})
        _decide(store, updated, current)
        trail.append(store, person.name, "request approve", f"request {n}",
                     current.department, {"waiting_for": step},
                     {"waiting_for": updated.waiting_for()}, reason, source)
        life.record(store, n, person.name, "step", {"role": step, "remark": reason,
                                                    "next": updated.waiting_for()})
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
    if request.unwritten():
        raise RequestRefused(
            f"request {n} is approved (rule {request.verdict['chain']['rules'][-1]}) and waits "
            f"only to be written" + (f": {request.note}" if request.note else ""),
            "nothing is left to decide: the next govcloud command that can writes it "
            f"(govcloud request show {n} shows it)")
    if request.state != "waiting":
        last = trail.last_about(store, f"request {n}", DECISIONS)
        who = f" (decided by {last.actor} at {last.at})" if last is not None else ""
        raise RequestRefused(f"request {n} is {request.state}{who}", "only a waiting request "
                             "is decided")
    _within(store, person, request)
    chain = approvals.Chain(tuple(request.verdict["chain"]["roles"]), (), False)
    why = approvals.may_approve(person.role, person.department,
                                tokens.principal(store, person.name),
                                tokens.principal(store, request.requester),
                                request.department, chain,
                                [a["role"] for a in request.approvals],
                                deciders.taker(store, request),
                                [tokens.principal(store, a["by"]) for a in request.approvals])
    if why:
        raise RequestRefused(f"{person.name} cannot decide request {n}: {why}",
                             "the request shows who it waits for")
    return request


def _within(store: Store, person: Person, request: Request) -> None:
    """Refuse a person scoped to an organisation a request of a department outside their
    subtree (the portal's gate refuses its path; the command line comes here too)."""
    scope = person.subtree
    if scope and not hierarchy.inside(request.department, scope,
                                      organisations.parents(store)):
        raise RequestRefused(
            f"{person.name} cannot decide request {request.id}: its department "
            f"{request.department} is outside {scope}, the organisation they are limited to",
            f"someone whose scope holds {request.department} decides it")


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
    if estate is not None:
        write_approved(estate, store, source)
    with store.transaction():
        request = _decidable(store, person, n)
        closed = Request(**{**request.as_dict(), "state": state, "changed_at": now(),
                            "note": reason.strip()})
        _decide(store, closed, request)
        trail.append(store, person.name, f"request {'reject' if state == 'rejected' else 'return'}",
                     f"request {n}", request.department, {"state": "waiting"},
                     {"state": state}, reason.strip(), source)
        life.record(store, n, person.name, state, {"reason": reason.strip()})
    _tell(estate, store, closed, person.name, source)
    return closed
