"""The data of each route, by name (``routes.Route.name``): one function serves a page and its
API twin, so what a person sees and what a program reads are the same figures, from the
engine and the finance code the CLI uses."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govcloud.access import users as user_records
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.books import accounts, closing
from govcloud.books import records as stored
from govcloud.clock import clock
from govcloud.core.requests import KIND_NAMES
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from govcloud.portal.context import Portal
from govcloud.portal.forms import payload_of
from govcloud.portal.routes import CLOSERS
from govcloud.portal.sessions import Session
from govcloud.reports.text import csv_cell
from govcloud.requests import assessment, decisions, records
from govcloud.services import backup, playbooks, recovery
from govcloud.services.scans import security_report

Data = dict[str, Any]


class NotFound(GovcloudError):
    """A path names something that does not exist (a department, a record)."""


@dataclass(frozen=True)
class Redirect:
    """After a form post: the page to see next (303 See Other)."""

    url: str
    status: int = 303


@dataclass(frozen=True)
class Created:
    """An API call made something: its data, 201."""

    data: Data


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    body: bytes


def _visible(p: Portal, who: Session) -> list[str]:
    plans = p.estate.plans
    own = who.person.department
    return [own] if own is not None else sorted(plans)


def me(p: Portal, who: Session) -> Data:
    return {"name": who.person.name, "role": who.person.role,
            "department": who.person.department}


def home(p: Portal, who: Session) -> Data:
    return {**me(p, who), "departments": departments(p, who)["departments"]}


def departments(p: Portal, who: Session) -> Data:
    plans = p.estate.plans
    return {"departments": [{"id": d, "name": plans[d].department.name,
                             "name_en": plans[d].department.name_en,
                             "zone": plans[d].department.zone}
                            for d in _visible(p, who) if d in plans]}


def _month() -> Month:
    return Month.of(clock())


def _bill(p: Portal, department: str) -> Data | None:
    """This month's charge of the department (None when no usage is recorded yet)."""
    month = _month()
    return p.figures(("bills", month), lambda: _bills(p, month)).get(department)


def _bills(p: Portal, month: Month) -> dict[str, Data]:
    """Every department's charge of ``month``, by department (none without usage), from the
    month's statement the twelve bills read too (made once per change, not twice)."""
    st = _statement(p, month)
    if st is None:
        return {}
    return {d["department"]: {"period": st.period, **d} for d in st.as_dict()["departments"]}


def _actual(p: Portal) -> dict[str, list[Any]]:
    """What the cloud runs, by department (read once per change)."""
    def read() -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for r in p.driver.read():
            out.setdefault(r.department, []).append(r)
        return out

    return p.figures("actual", read)


def department(p: Portal, who: Session, department: str) -> Data:
    if department not in p.estate.plans:
        raise NotFound(f"no department {department!r}", "choose one from the list")
    # The same for everyone who may see it, so made once per change for the department.
    return {**p.figures(("department", department, _month()),
                        lambda: _department(p, department)),
            **_department_records(p, department)}


def _department(p: Portal, department: str) -> Data:
    plan = p.estate.plans[department]
    actual = _actual(p).get(department, [])
    servers: list[dict[str, Any]] = [
        {"name": r.name, "flavor": r.attrs.get("flavor"), "vcpus": r.attrs.get("vcpus"),
         "ram_gb": r.attrs.get("ram_gb"), "host": r.computed.get("host")}
        for r in actual if r.kind == "server"]
    q = plan.quota
    used = {"instances": len(servers), "cores": sum(s["vcpus"] or 0 for s in servers),
            "ram_gb": sum(s["ram_gb"] or 0 for s in servers),
            "volumes": sum(1 for r in actual if r.kind == "volume"),
            "volume_gb": sum(r.attrs.get("size_gb", 0) for r in actual if r.kind == "volume"),
            "websites": sum(1 for r in actual if r.kind == "website")}
    quota = {k: {"quota": getattr(q, k), "used": used[k]} for k in used}
    return {"id": department, "name": plan.department.name,
            "name_en": plan.department.name_en, "zone": plan.department.zone,
            "cost_centre": plan.department.cost_centre, "quota": quota, "servers": servers,
            "websites": [{"domain": w.domain, "kind": w.kind, "public": w.public,
                          "live": any(r.kind == "website" and r.name == w.domain
                                      for r in actual)} for w in plan.websites],
            "bill": _bill(p, department), "bills": _twelve_bills(p, department)}


def department_bill_csv(p: Portal, who: Session, department: str) -> Download:
    if department not in p.estate.plans:
        raise NotFound(f"no department {department!r}", "choose one from the list")
    bill = _bill(p, department)
    if bill is None:
        raise NotFound(f"no usage recorded for {_month()} yet",
                       "an operator collects it with govcloud usage collect")
    rows = [[pool, csv_cell(v)] for pool, v in bill["by_pool"].items()]
    rows += [["adjustment", csv_cell(bill["adjustment"])], ["total", csv_cell(bill["total"])]]
    return Download(f"{department}-{bill['period']}.csv", "text/csv; charset=utf-8",
                    _csv(["pool", "yuan"], rows))


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO("\ufeff")
    buf.seek(0, io.SEEK_END)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def estate(p: Portal, who: Session) -> Data:
    return p.figures("estate", lambda: _estate(p))


def _estate(p: Portal) -> Data:
    shown = engine.show(p.session())
    deps = shown["departments"]
    return {"departments": len(p.estate.plans),
            "servers": sum(len(d["servers"]) for d in deps.values()),
            "websites": sum(len(d["websites"]) for d in deps.values()),
            "hosts_used": len(shown["hosts_used"]), "last_apply": shown["last_apply"],
            "problem": p.problem,
            "rows": [{"id": k, "name": d.get("name", ""), "zone": d.get("zone", ""),
                      "servers": len(d["servers"]), "vcpus": d["vcpus"],
                      "ram_gb": d["ram_gb"], "volume_gb": d["volume_gb"],
                      "websites": len(d["websites"])} for k, d in deps.items()]}


def chargeback(p: Portal, who: Session) -> Data:
    return _finance(p, "chargeback")


def _finance(p: Portal, kind: str) -> Data:
    """This month's chargeback or savings report (made once per change)."""
    month = _month()

    def make() -> Data:
        try:
            rep = accounts.report(p.estate, p.store, kind, month)
        except GovcloudError as exc:
            return {"period": str(month), "missing": exc.render(), "header": [], "rows": []}
        header, rows = rep.main
        return {**rep.data, "missing": "", "header": list(header),
                "rows": [list(r) for r in rows]}

    return p.figures(("report", kind, month), make)


def chargeback_csv(p: Portal, who: Session) -> Download:
    rep = accounts.report(p.estate, p.store, "chargeback", _month())
    header, rows = rep.main
    return Download(f"chargeback-{rep.period}.csv", "text/csv; charset=utf-8",
                    _csv(list(header), [[csv_cell(v) for v in r] for r in rows]))


def operations(p: Portal, who: Session) -> Data:
    """What ``govcloud history``, ``drift`` and ``capacity`` show, from the same calls."""
    s = p.session()
    room = engine.capacity(p.root, [])
    return {"applies": engine.history(s, 10),
            "drift": [d.as_dict() for d in engine.drift(s)],
            "capacity": room.as_dict()}


def savings(p: Portal, who: Session) -> Data:
    return _finance(p, "savings")


def chargeback_xlsx(p: Portal, who: Session) -> Download:
    """The workbook ``govcloud report chargeback -o xlsx`` writes, from the same code."""
    from govcloud.reports.xlsx import workbook

    rep = accounts.report(p.estate, p.store, "chargeback", _month(), workbook=True)
    return Download(f"chargeback-{rep.period}.xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    workbook(list(rep.sheets.items()), list(rep.notes),
                             active=next(iter(rep.sheets))))


def audit_(p: Portal, who: Session) -> Data:
    verdict = trail.verify(p.store)
    return {**verdict.as_dict(),
            "entries": [e.as_dict() for e in trail.latest(p.store, 200)]}


def users(p: Portal, who: Session) -> Data:
    return {"users": [x.as_dict() for x in user_records.people(p.store)]}


def _summary(r: records.Request) -> Data:
    return {"id": r.id, "department": r.department, "kind": r.kind, "requester": r.requester,
            "state": r.state, "waiting_for": r.waiting_for(), "reason": r.payload.get("reason"),
            "cost_delta": r.verdict.get("cost_delta"), "created_at": r.created_at,
            "note": r.note}


def requests(p: Portal, who: Session, department: str) -> Data:
    if department not in p.estate.plans:
        raise NotFound(f"no department {department!r}", "choose one from the list")
    return {"department": department,
            "requests": [_summary(r) for r in records.listing(p.store, department)]}


def request_form(p: Portal, who: Session, department: str) -> Data:
    plan = p.estate.plans.get(department)
    if plan is None:
        raise NotFound(f"no department {department!r}", "choose one from the list")
    cat = p.estate.settings.catalogue
    return {"department": department, "kinds": list(KIND_NAMES),
            "flavors": sorted(cat.flavors), "images": sorted(cat.images),
            "servers": [s.name for s in plan.servers],
            "websites": [w.domain for w in plan.websites],
            "quota": vars(plan.quota)}


def _from_api(body: Data) -> bool:
    """Whether the body was JSON (an API call), whatever its value: an empty object or
    ``null`` is still an API call, answered with JSON and never a redirect."""
    return "_json" in body


def _fields(body: Data) -> Data:
    """The posted fields: a JSON object's (an API call) or the form's."""
    if _from_api(body):
        sent = body["_json"]
        return sent if isinstance(sent, dict) else {}
    return body


def _body_payload(body: dict[str, Any], department: str) -> Any:
    """A JSON body is the payload (its department must be the path's); a form is converted."""
    if _from_api(body):
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
    payload = _body_payload(body, department)
    return assessment.assess(p.estate, department, payload).as_dict()


def request_file(p: Portal, who: Session, department: str, body: Data) -> Any:
    if "payload" in body and not _from_api(body):  # the verdict page's "file it" button
        try:
            payload = json.loads(str(body["payload"]))
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            payload["department"] = department
    else:
        payload = _body_payload(body, department)
    filed = decisions.submit(p.estate, p.store, who.person, payload, "portal")
    if _from_api(body):
        return Created(filed.as_dict())
    return Redirect(f"/departments/{department}/requests/{filed.id}")


def _own(p: Portal, department: str, number: str) -> records.Request:
    found = records.find(p.store, int(number)) if number.isdigit() and len(number) < 12 \
        else None
    if found is None or found.department != department:
        raise NotFound(f"no request {number[:20]} of {department}", "see the request list")
    return found


def request(p: Portal, who: Session, department: str, number: str) -> Data:
    r = _own(p, department, number)
    step = r.waiting_for()
    mine = step is not None and who.person.role == step and who.person.name != r.requester \
        and (step != "approver" or who.person.department == department)
    return {**r.as_dict(), "waiting_for": step, "may_decide": mine}


def request_approve(p: Portal, who: Session, department: str, number: str,
                    body: Data) -> Any:
    r = _own(p, department, number)
    done = decisions.approve(p.estate, p.store, who.person, r.id,
                             str(_fields(body).get("reason", ""))[:500], "portal")
    if _from_api(body):
        return done.as_dict()
    return Redirect(f"/departments/{department}/requests/{done.id}")


def request_reject(p: Portal, who: Session, department: str, number: str,
                   body: Data) -> Any:
    r = _own(p, department, number)
    sent = _fields(body)
    back = sent.get("send_back") in (True, "on", "true", "1")
    done = decisions.close(p.store, who.person, r.id, "returned" if back else "rejected",
                           str(sent.get("reason", ""))[:500], "portal", p.estate)
    if _from_api(body):
        return done.as_dict()
    return Redirect(f"/departments/{department}/requests/{done.id}")


def queue(p: Portal, who: Session) -> Data:
    """The requests waiting for the person's role, and those escalated to it (overdue:
    ``requests.escalation``), each with its escalation if it is overdue."""
    from govcloud.requests.escalation import overdue

    role, own = who.person.role, who.person.department
    waiting = records.listing(p.store, own, "waiting", limit=500)
    late = overdue(p.estate, waiting)
    if role != "auditor":
        waiting = [r for r in waiting if r.requester != who.person.name and (
            r.waiting_for() == role or (r.id in late and late[r.id].to == role))]
    return {"requests": [{**_summary(r), "overdue": late[r.id].as_dict() if r.id in late
                          else None} for r in waiting]}


# --- A department's records: the last twelve months' bills, backup drills, antivirus findings


def _department_records(p: Portal, department: str) -> Data:
    """The drills and findings, read on every request: they come from files the service
    commands leave in the state folder, which the figures' cache does not watch."""
    return {"drills": _drills(p, department), "security": _security(p, department)}


def _state(p: Portal, month: Month, st: Any) -> str:
    """closed, open (over, not closed) or month-to-date."""
    if st.closed_at:
        return "closed"
    return "month-to-date" if accounts.window(month).month_to_date else "open"


def _statement(p: Portal, month: Month) -> Any:
    """The month's chargeback (``accounts.statement_for``), made once per change for every
    department; None when the month has no recorded usage."""
    def make() -> Any:
        try:
            return accounts.statement_for(p.estate, p.store, month)
        except GovcloudError:
            return None

    return p.figures(("statement", month), make)


def _twelve_bills(p: Portal, department: str) -> list[Data]:
    """The department's charge in each of the last twelve months, newest first, from the
    chargeback ``govcloud report chargeback`` prints (the frozen one of a closed month); a
    month without recorded usage has no total."""
    month, out = _month(), []
    for _ in range(12):
        st = _statement(p, month)
        if st is None:
            out.append({"period": str(month), "state": "no usage", "total": None})
        else:
            row = next((d for d in st.departments if d.department == department), None)
            out.append({"period": str(month), "state": _state(p, month, st),
                        "total": None if row is None else str(row.total),
                        "adjustment": None if row is None else str(row.adjustment)})
        month = month.previous()
    return out


def _drills(p: Portal, department: str) -> list[Data]:
    """Per backup site: the last restore drill and its result, and the newest snapshot
    against the RPO, from the statuses the last ``govcloud report backup`` collected
    (``backup.saved_report``'s rows for one department; the estate's RPOs made once per
    change)."""
    path = playbooks.state_dir(p.estate, p.store) / "services" / backup.STATUS_FILE
    saved = [s for s in backup.load_statuses(path) if s.department == department]
    every = p.figures("rpo", lambda: backup.rpo_hours(p.estate))
    rpo = {department: every[department]} if saved and department in every else {}
    return [{"site": r.site, "host": r.host, "drill_at": r.drill_at or None,
             "drill_ok": r.drill_ok, "drill_status": r.drill_status,
             "last_snapshot": r.last_snapshot or None, "age_hours": r.age_hours,
             "rpo_hours": r.rpo_hours, "breach": r.breach, "error": r.error}
            for r in recovery.backup_report(saved, rpo, clock())]


def _security(p: Portal, department: str) -> Data:
    """The antivirus findings of the department's latest scan on each host, from the scan
    logs the last ``govcloud report security`` collected."""
    logs = [x for x in playbooks.collected_scans(p.estate, p.store)
            if x.department == department]
    return security_report(logs, [department])[0].as_dict()


def _period(period: str) -> Month:
    try:
        return Month.parse(period, "period")
    except GovcloudError:
        raise NotFound(f"no month {period[:20]!r}", "write the month as YYYY-MM") from None


def department_statement(p: Portal, who: Session, department: str, period: str) -> Download:
    """The department's printable statement of a month (``govcloud report statement``)."""
    if department not in p.estate.plans:
        raise NotFound(f"no department {department!r}", "choose one from the list")
    month = _period(period)
    try:
        page = accounts.statement_page(p.estate, p.store, month, department)
    except GovcloudError as exc:
        raise NotFound(str(exc), exc.hint) from None
    return Download(f"statement-{department}-{month}.html", "text/html; charset=utf-8",
                    page.encode("utf-8"))


# --- Finance: the statements (months), their downloads, closing a month


def statements(p: Portal, who: Session) -> Data:
    """Every month with recorded usage or closed, newest first: its state, who closed it and
    when, and its figures (the chargeback's, frozen for a closed month)."""
    periods = sorted({*stored.periods(p.store), *stored.closed_periods(p.store)},
                     reverse=True)
    rows: list[Data] = []
    for period in periods:
        month = Month.parse(period)
        frozen = stored.closing(p.store, period)
        try:
            st = frozen.statement if frozen else accounts.statement_for(p.estate, p.store, month)
        except GovcloudError as exc:
            rows.append({"period": period, "state": "no usage", "missing": exc.render()})
            continue
        rows.append({"period": period, "state": _state(p, month, st),
                     "closed_at": frozen.closed_at if frozen else None,
                     "closed_by": frozen.closed_by if frozen else None,
                     "platform_cost": str(st.platform_cost),
                     "charged": str(st.platform_cost - st.idle), "idle": str(st.idle)})
    return {"statements": rows, "may_close": who.person.role in CLOSERS}


def statement_csv(p: Portal, who: Session, period: str) -> Download:
    """A month's chargeback as CSV (``govcloud report chargeback -o csv``)."""
    rep = _report(p, _period(period))
    header, rows = rep.main
    return Download(f"chargeback-{rep.period}.csv", "text/csv; charset=utf-8",
                    _csv(list(header), [[csv_cell(v) for v in r] for r in rows]))


def statement_xlsx(p: Portal, who: Session, period: str) -> Download:
    """A month's workbook (``govcloud report chargeback --period P -o xlsx``)."""
    from govcloud.reports.xlsx import workbook

    rep = _report(p, _period(period), workbook=True)
    return Download(f"chargeback-{rep.period}.xlsx",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    workbook(list(rep.sheets.items()), list(rep.notes),
                             active=next(iter(rep.sheets))))


def _report(p: Portal, month: Month, workbook: bool = False) -> Any:
    try:
        return accounts.report(p.estate, p.store, "chargeback", month, workbook=workbook)
    except GovcloudError as exc:
        raise NotFound(str(exc), exc.hint) from None


def statement_close_form(p: Portal, who: Session, period: str) -> Data:
    """What closing the month would freeze, and why it cannot be closed, if it cannot."""
    month = _period(period)
    row = next((r for r in statements(p, who)["statements"] if r["period"] == str(month)),
               None)
    if row is None:
        why = f"no usage is recorded for {month}: nothing to close"
    elif row["state"] == "closed":
        why = f"{month} is already closed (at {row['closed_at']} by {row['closed_by']})"
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
    month = _period(period)
    c = closing.close(p.estate, p.store, month, by=who.person.name, source="portal")
    if _from_api(body):
        return {"period": c.period, "closed_at": c.closed_at, "closed_by": c.closed_by,
                "platform_cost": str(c.statement.platform_cost),
                "idle": str(c.statement.idle), "book_digest": c.book_digest}
    return Redirect("/finance/statements")


# --- Operations: the consolidation proposal, read only


def consolidation(p: Portal, who: Session) -> Data:
    """The live migrations ``govcloud consolidate`` proposes (not carried out here)."""
    return engine.consolidation(p.session()).as_dict()


VIEWS: dict[str, Callable[..., Any]] = {
    "requests": requests, "request_form": request_form, "request_check": request_check,
    "request_dry_run": request_dry_run, "request_file": request_file, "request": request,
    "request_approve": request_approve, "request_reject": request_reject, "queue": queue,
    "operations": operations, "savings": savings,
    "me": me, "home": home, "departments": departments, "department": department,
    "department_bill_csv": department_bill_csv, "estate": estate, "chargeback": chargeback,
    "chargeback_csv": chargeback_csv, "chargeback_xlsx": chargeback_xlsx, "audit": audit_,
    "users": users, "department_statement": department_statement, "statements": statements,
    "statement_csv": statement_csv, "statement_xlsx": statement_xlsx,
    "statement_close_form": statement_close_form, "statement_close": statement_close,
    "consolidation": consolidation,
}
