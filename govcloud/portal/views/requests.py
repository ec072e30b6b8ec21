"""A department's requests: the list, the forms for a new one, its verdict before filing,
filing it, one request, approving and rejecting; and the queue of requests waiting for the
signed-in person's role."""

from __future__ import annotations

import json
from typing import Any

from govcloud.core.requests import KIND_NAMES
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.forms import fields_of, from_api, payload_of
from govcloud.portal.phrases import phrase
from govcloud.portal.sessions import Session
from govcloud.portal.views.paging import Asked, paged, table, window
from govcloud.portal.views.results import (
    BadBody,
    Created,
    Data,
    NotFound,
    Redirect,
    Table,
    no_department,
)
from govcloud.requests import assessment, deciders, decisions, followups, life, records


def _summary(r: records.Request) -> Data:
    return {"id": r.id, "department": r.department, "kind": r.kind, "requester": r.requester,
            "state": r.state, "waiting_for": r.waiting_for(), "reason": r.payload.get("reason"),
            "cost_delta": r.verdict.get("cost_delta"), "created_at": r.created_at,
            "note": r.note, "unwritten": r.unwritten()}


def _state(query: dict[str, str] | None) -> str:
    state = (query or {}).get("state", "")
    return state if state in records.STATES else ""


def requests(p: Portal, who: Session, department: str,
             query: dict[str, str] | None = None) -> Data:
    """One page of a department's requests, newest first (``?q=`` searches, ``?state=``)."""
    if department not in p.estate.plans:
        raise no_department(department)
    asked = Asked.of(query, "state")
    total, found = records.found(p.store, department, _state(query), asked.q, asked.offset,
                                 asked.limit)
    return {"department": department, "requests": [_summary(r) for r in found],
            "paging": window(asked, total), "states": list(records.STATES)}


COLUMNS = ((phrase("number"), lambda r: r["id"]),
           (phrase("department"), lambda r: r["department"]),
           (phrase("kind"), lambda r: r["kind"]), (phrase("requester"), lambda r: r["requester"]),
           (phrase("state"), lambda r: r["state"]),
           (phrase("waiting for"), lambda r: r["waiting_for"] or ""),
           (phrase("yuan a month"), lambda r: r["cost_delta"] or ""),
           (phrase("reason"), lambda r: r["reason"] or ""),
           (phrase("filed at"), lambda r: r["created_at"]))


def requests_csv(p: Portal, who: Session, department: str,
                 query: dict[str, str] | None = None) -> Table:
    """Every request of the department that matches, as CSV."""
    if department not in p.estate.plans:
        raise no_department(department)
    _, found = records.found(p.store, department, _state(query), Asked.of(query).q)
    return table(f"requests-{department}.csv", COLUMNS, [_summary(r) for r in found],
                 ("kind", "state", "waiting for"))


def request_form(p: Portal, who: Session, department: str) -> Data:
    plan = p.estate.plans.get(department)
    if plan is None:
        raise no_department(department)
    cat = p.estate.settings.catalogue
    return {"department": department, "kinds": list(KIND_NAMES),
            "flavors": sorted(cat.flavors), "images": sorted(cat.images),
            "servers": [s.name for s in plan.servers],
            "websites": [w.domain for w in plan.websites],
            "quota": vars(plan.quota)}


def _body_payload(body: dict[str, Any], department: str) -> Any:
    """A JSON body is the payload (its department must be the path's); a form is converted;
    the verdict page's form (its "file it" button, its language links) carries the payload
    checked as JSON."""
    if "payload" in body and not from_api(body):
        try:
            payload = json.loads(str(body["payload"]))
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            payload["department"] = department
        return payload
    if from_api(body):
        payload = body["_json"]
        if isinstance(payload, dict) and "department" not in payload:
            payload = {**payload, "department": department}
        return payload
    return payload_of({k: v for k, v in body.items() if isinstance(v, str)}, department)


def request_check(p: Portal, who: Session, department: str, body: Data) -> Data:
    payload = _body_payload(body, department)
    verdict = assessment.assess(p.estate, department, payload)
    return {"department": department, "verdict": verdict.as_dict(), "payload": payload,
            "payload_json": json.dumps(payload, ensure_ascii=False)}


def request_dry_run(p: Portal, who: Session, department: str, body: Data) -> Data:
    if from_api(body) and not isinstance(body["_json"], dict):
        raise BadBody("the body is not a JSON object", 'send the request as an object, e.g. '
                      '{"kind": "quota", "reason": "…", "quota": {"cores": 64}}')
    payload = _body_payload(body, department)
    return assessment.assess(p.estate, department, payload).as_dict()


def request_file(p: Portal, who: Session, department: str, body: Data) -> Any:
    payload = _body_payload(body, department)
    filed = decisions.submit(p.estate, p.store, who.person, payload, "portal")
    if from_api(body):
        return Created(filed.as_dict())
    return Redirect(f"/departments/{department}/requests/{filed.id}?done=filed")


def _own(p: Portal, department: str, number: str) -> records.Request:
    digits = number.isascii() and number.isdigit() and len(number) < 12  # not '²' or '①'
    found = records.find(p.store, int(number)) if digits else None
    if found is None or found.department != department:
        raise NotFound(f"no request {number[:20]} of {department}", "see the request list")
    return found


# The message shown once after an action (``?done=``): only these, never the query's text.
DONE = {"filed": "The request is filed.", "approved": "Your approval is recorded.",
        "rejected": "The request is rejected.", "returned": "The request is sent back.",
        "withdrawn": "The request is withdrawn.", "resubmitted": "The request is filed again.",
        "commented": "Your comment is added."}


def request(p: Portal, who: Session, department: str, number: str,
            query: dict[str, str] | None = None) -> Data:
    """One request, who can take the step it waits for (its own role's people, or the next
    role up's: ``deciders``), whether the signed-in person may, its life (each step with who
    and when, the apply that carried it), its remarks and comments."""
    r = _own(p, department, number)
    takes = deciders.taker(p.store, r)
    steps = life.events(p.store, r.id)
    stage = life.stage(steps)
    mine = who.person.name == r.requester
    return {**r.as_dict(), "waiting_for": r.waiting_for(), "unwritten": r.unwritten(),
            "acting": takes.as_dict() if takes else None,
            "may_decide": takes is not None and who.person.name in takes.names,
            "stage": stage, "shown_state": deciders.shown_state(r, takes, stage=stage),
            "life": [e.as_dict() for e in steps if e.step != "comment"],
            "comments": [e.as_dict() for e in steps if e.step == "comment"],
            "may_withdraw": mine and r.state == "waiting" and not r.unwritten(),
            "may_resubmit": mine and r.state == "returned",
            "may_comment": who.person.role != "auditor",
            "flash": DONE.get((query or {}).get("done", ""))}


def request_approve(p: Portal, who: Session, department: str, number: str,
                    body: Data) -> Any:
    r = _own(p, department, number)
    done = decisions.approve(p.estate, p.store, who.person, r.id,
                             str(fields_of(body).get("reason", ""))[:500], "portal")
    if from_api(body):
        return done.as_dict()
    return Redirect(f"/departments/{department}/requests/{done.id}?done=approved")


def request_reject(p: Portal, who: Session, department: str, number: str,
                   body: Data) -> Any:
    r = _own(p, department, number)
    sent = fields_of(body)
    back = sent.get("send_back") in (True, "on", "true", "1")
    done = decisions.close(p.store, who.person, r.id, "returned" if back else "rejected",
                           str(sent.get("reason", ""))[:500], "portal", p.estate)
    if from_api(body):
        return done.as_dict()
    return Redirect(f"/departments/{department}/requests/{done.id}?done={done.state}")


def request_withdraw(p: Portal, who: Session, department: str, number: str,
                     body: Data) -> Any:
    r = _own(p, department, number)
    done = followups.withdraw(p.store, who.person, r.id,
                              str(fields_of(body).get("reason", ""))[:500], "portal")
    if from_api(body):
        return done.as_dict()
    return Redirect(f"/departments/{department}/requests/{done.id}?done=withdrawn")


def request_resubmit(p: Portal, who: Session, department: str, number: str,
                     body: Data) -> Any:
    r = _own(p, department, number)
    if from_api(body) and not isinstance(body["_json"], dict):
        raise BadBody("the body is not a JSON object", "send the whole request, edited")
    done = followups.resubmit(p.estate, p.store, who.person, r.id,
                              _body_payload(body, department), "portal")
    if from_api(body):
        return done.as_dict()
    return Redirect(f"/departments/{department}/requests/{done.id}?done=resubmitted")


def request_comment(p: Portal, who: Session, department: str, number: str,
                    body: Data) -> Any:
    r = _own(p, department, number)
    said = followups.comment(p.store, who.person, r.id,
                             str(fields_of(body).get("text", ""))[:life.MAX_COMMENT], "portal")
    if from_api(body):
        return Created(said.as_dict())
    return Redirect(f"/departments/{department}/requests/{r.id}?done=commented")


def _takes(p: Portal, r: records.Request, people: list[deciders.Holder], name: str
           ) -> str | None:
    """The role that takes the step ``r`` waits for (approver@LEVEL: "approver" for the
    approvers scoped to that organisation, ``name`` being one, else None)."""
    takes = deciders.taker(p.store, r, people)
    if takes is not None and "@" in takes.role:
        return "approver" if name in takes.names else None
    return takes.role if takes else None


def waiting_for_me(p: Portal, who: Session) -> list[Data]:
    """The requests waiting for the person's role, and those escalated to it (overdue:
    ``requests.escalation``), each with its escalation if it is overdue; an auditor sees
    every waiting one."""
    from govcloud.requests.escalation import overdue

    role, own = who.person.role, who.person.department
    waiting = scopes.only(p, who.person, records.listing(p.store, own, "waiting", limit=500),
                          lambda r: r.department)
    late = overdue(p.estate, waiting)
    people = deciders.holders(p.store)
    if role != "auditor":
        waiting = [r for r in waiting if r.requester != who.person.name and (
            _takes(p, r, people, who.person.name) == role or
            (r.id in late and late[r.id].to == role))]
    return [{**_summary(r), "overdue": late[r.id].as_dict() if r.id in late else None}
            for r in waiting]


def _queued(row: Data, asked: Asked) -> bool:
    return asked.matches(row["id"], row["department"], row["kind"], row["requester"],
                         row["reason"])


def queue(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """One page of the requests waiting for the person (``?q=`` searches)."""
    asked = Asked.of(query)
    rows, paging = paged([r for r in waiting_for_me(p, who) if _queued(r, asked)], asked)
    return {"requests": rows, "paging": paging}


def queue_csv(p: Portal, who: Session, query: dict[str, str] | None = None) -> Table:
    asked = Asked.of(query)
    return table("queue.csv", COLUMNS, [r for r in waiting_for_me(p, who) if _queued(r, asked)],
                 ("kind", "state", "waiting for"))
