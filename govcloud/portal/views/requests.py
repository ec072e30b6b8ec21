"""A department's requests: the list, the forms for a new one, its verdict before filing,
filing it, one request (sent back: its own form again, to check and file it again),
approving and rejecting; and the queue of requests waiting for the signed-in person's
role."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from govcloud.core.requests import MAX_NUMBER
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.forms import fields_of, from_api, payload_of
from govcloud.portal.phrases import phrase
from govcloud.portal.sessions import Session
from govcloud.portal.views import choices
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

ONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # a filing form's one-time token


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
           (phrase("monthly cost (yuan)"), lambda r: r["cost_delta"] or ""),
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


# The forms of a new request, by their key in ``?kind=``: the title of the form's page and
# what it asks for (removing a website is a "remove" request, on a form of its own).
FORMS = (
    ("website", phrase("A new website"), phrase("a site on the shared web platform")),
    ("servers", phrase("New servers"), phrase("virtual machines of a flavor and an image")),
    ("replicas", phrase("More (or fewer) replicas"), phrase("of a server the department runs")),
    ("resize", phrase("A resize"), phrase("another flavor for a server")),
    ("remove", phrase("Remove a server"), phrase("and its data volume")),
    ("remove-site", phrase("Remove a website"), phrase("and its storage")),
    ("quota", phrase("More quota"), phrase("room for more servers, storage or websites")),
    ("backup", phrase("Backup settings"), phrase("on or off, and when backups run")),
    ("antivirus", phrase("Antivirus settings"), phrase("on or off, and when scans run")),
)
TITLES = {key: title for key, title, _ in FORMS}
ON_SERVERS = ("replicas", "resize", "remove")  # offered when the department has servers


def _form_of(payload: Any) -> str | None:
    """The form a request's payload was typed into."""
    kind = payload.get("kind") if isinstance(payload, dict) else None
    if kind == "remove" and payload.get("website"):
        return "remove-site"
    return kind if kind in TITLES else None


def _form_data(p: Portal, department: str, form: str | None,
               values: dict[str, Any] | None = None) -> Data:
    """The data of one kind's form (``form``), filled with ``values`` over its defaults; or,
    without a form, the kinds to choose from."""
    plan = p.estate.plans.get(department)
    if plan is None:
        raise no_department(department)
    if form not in TITLES:
        return {"department": department, "form": None, "title": "New request",
                "kinds": [k for k in FORMS if (k[0] not in ON_SERVERS or plan.servers) and
                          (k[0] != "remove-site" or plan.websites)]}
    offered = choices.offers(p, department, plan)
    return {"department": department, "form": form, "title": TITLES[form],
            "choices": {**offered, "servers": [s.name for s in plan.servers],
                        "websites": [w.domain for w in plan.websites],
                        "quota": list(vars(plan.quota)),
                        "current": {n: {"enabled": s.enabled, "schedule": s.schedule} for n, s in
                                    (("backup", plan.backup), ("antivirus", plan.antivirus))}},
            "values": {**offered["defaults"], **(values or {})}}


def request_form(p: Portal, who: Session, department: str, query: dict[str, str]) -> Data:
    """The kinds of request to choose from, or (``?kind=``) that kind's form, filled with the
    department's current settings and defaults that fit its remaining quota."""
    return _form_data(p, department, query.get("kind"))


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
        if isinstance(payload, dict) and payload["department"] != department:
            raise BadBody(f"the body's department {str(payload['department'])[:64]!r} is not "
                          f"{department!r}, the one the address names",
                          f"send it to /api/departments/{department}/requests with "
                          f'"department": "{department}", or leave "department" out')
        return payload
    return payload_of({k: v for k, v in body.items() if isinstance(v, str)}, department)


def _again(p: Portal, department: str, body: Data) -> int | None:
    """The request the form files again (its ``again`` field: the request page's form of a
    request sent back), one of the path's department's; None for a new request."""
    number = str(fields_of(body).get("again", "")) if not from_api(body) else ""
    return _own(p, department, number).id if number else None


def posted_payload(form: Data, department: str) -> Any:
    """The payload a portal form posted (the verdict page's JSON, or a kind's fields)."""
    return _body_payload({k: v for k, v in form.items() if k != "_json"}, department)


def request_check(p: Portal, who: Session, department: str, body: Data) -> Data:
    """A request's verdict (of a request sent back, filed again: ``again``); refused, its
    form again with what was typed (and, over quota, the quota request that covers it)."""
    again = _again(p, department, body)
    payload = _body_payload(body, department)
    verdict = assessment.assess(p.estate, department, payload)
    return verdict_page(p, department, payload, verdict.as_dict(), again)


def verdict_page(p: Portal, department: str, payload: Any, verdict: Data,
                 again: int | None = None) -> Data:
    """The verdict page's data: the verdict and the payload it judged; refused, the kind's
    form filled with the payload's fields (and, for a new request over quota, the quota
    request that covers it). Also the page of a filing refused when it was posted
    (``errors``: the verdict changed after it was shown)."""
    out = {"department": department, "verdict": verdict, "payload": payload,
           "payload_json": json.dumps(payload, ensure_ascii=False), "again": again,
           "once": secrets.token_urlsafe(18), "once_quota": secrets.token_urlsafe(18)}
    if verdict["ok"]:
        return out
    form = _form_of(payload)
    if form is not None:
        out |= {k: v for k, v in _form_data(p, department, form, choices.flat(payload)).items()
                if k in ("form", "title", "choices", "values")}
    over = any(str(e.get("path", "")).startswith("quota") for e in verdict["errors"])
    need = choices.covering(p.estate.plans[department], p.estate.settings.catalogue,
                            payload) if over and again is None else {}
    if need:  # one click files the quota request that covers it, which keeps this one
        quota = {"kind": "quota", "department": department, "reason": payload["reason"],
                 "quota": need, "covers": json.dumps(payload, ensure_ascii=False)}
        out |= {"covering": quota, "covering_json": json.dumps(quota, ensure_ascii=False)}
    return out


def request_dry_run(p: Portal, who: Session, department: str, body: Data) -> Data:
    if from_api(body) and not isinstance(body["_json"], dict):
        raise BadBody("the body is not a JSON object", 'send the request as an object, e.g. '
                      '{"kind": "quota", "reason": "…", "quota": {"cores": 64}}')
    payload = _body_payload(body, department)
    return assessment.assess(p.estate, department, payload).as_dict()


def _after(p: Portal, department: str, payload: Any) -> None:
    """A request filed after a quota request names one of its own department's."""
    after = payload.get("after") if isinstance(payload, dict) else None
    if after is None or not isinstance(after, int) or isinstance(after, bool) \
            or not 1 <= after <= MAX_NUMBER:
        return  # absent, or the request's own check names the field (before any lookup)
    first = records.find(p.store, after)
    if first is None or first.department != department or first.kind != "quota":
        raise BadBody(f"after: {after} is not a quota request of {department}",
                      "name the quota request filed for this one, or leave after out")


def request_file(p: Portal, who: Session, department: str, body: Data) -> Any:
    payload = _body_payload(body, department)
    _after(p, department, payload)
    once = body.get("once")  # the verdict page's one-time token: posted twice, filed once
    once = once if isinstance(once, str) and ONCE.fullmatch(once) else ""
    filed = decisions.submit(p.estate, p.store, who.person, payload, "portal", once)
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
            "note_shown": shown_note(r.note),
            "life": [e.as_dict() for e in steps if e.step != "comment"],
            "comments": [e.as_dict() for e in steps if e.step == "comment"],
            "may_withdraw": mine and r.state == "waiting" and not r.unwritten(),
            "may_resubmit": mine and r.state == "returned",
            "may_comment": who.person.role != "auditor",
            "flash": DONE.get((query or {}).get("done", "")),
            "edit": _edit(p, r) if mine and r.state == "returned" else None,
            **_links(p, r)}


def _edit(p: Portal, r: records.Request) -> Data | None:
    """The form that filed a request sent back, filled with what it asks for, to edit and
    check it again before it is filed again (``again``)."""
    form = _form_of(r.payload)
    if form is None or r.department not in p.estate.plans:
        return None
    data = _form_data(p, r.department, form, choices.flat(r.payload))
    return {k: data[k] for k in ("form", "title", "choices", "values")}


COMMITTED = re.compile(r"(;\s*)?\bcommitted [0-9a-f]{7,40}\b")


def shown_note(note: str | None) -> str:
    """A request's note as a person reads it: without the plan commit that wrote it (a git
    hash, kept in the API's ``note`` and the audit trail)."""
    return COMMITTED.sub("", note or "").strip(" ;")


def _links(p: Portal, r: records.Request) -> Data:
    """A quota request's link to the request it was filed for (kept in it as ``covers``,
    and the requests filed after it: ``after``), and a request's to its quota request."""
    covers = None
    if r.kind == "quota" and isinstance(r.payload.get("covers"), str):
        try:
            covers = json.loads(r.payload["covers"])
        except ValueError:
            covers = None
    if isinstance(covers, dict):
        covers = {**covers, "department": r.department, "after": r.id}
    later = [q.id for q in records.listing(p.store, r.department, limit=500)
             if q.payload.get("after") == r.id] if covers else []
    return {"covers": covers if isinstance(covers, dict) else None,
            "covers_json": json.dumps(covers, ensure_ascii=False) if covers else "",
            "followed_by": sorted(later), "after": r.payload.get("after")}


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
    waiting = scopes.only(p, who.person, _waiting(p, own), lambda r: r.department)
    late = overdue(p.estate, waiting)
    people = deciders.holders(p.store)
    if role != "auditor":
        waiting = [r for r in waiting if r.requester != who.person.name and (
            _takes(p, r, people, who.person.name) == role or
            (r.id in late and late[r.id].to == role))]
    return [{**_summary(r), "overdue": late[r.id].as_dict() if r.id in late else None}
            for r in waiting]


def _waiting(p: Portal, department: str | None) -> list[records.Request]:
    """The newest 500 waiting requests (of ``department``, or every one), read and decoded
    once per change (a request filed or decided moves the store's version), not on every
    page of the queue and every count in the navigation."""
    return p.figures(("waiting", department),
                     lambda: records.listing(p.store, department, "waiting", limit=500))


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
