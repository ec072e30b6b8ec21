"""A department's pages: the list of departments a person may see, and one department's
servers, sites, quota against use, this month's bill (and its CSV), the last twelve months'
bills (each month's printable statement), backup drills and antivirus findings."""

from __future__ import annotations

from typing import Any

from govcloud.books import accounts
from govcloud.clock import clock
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.phrases import phrase
from govcloud.portal.sessions import Session
from govcloud.portal.views.months import month_in_path, state_of, statement_of, this_month
from govcloud.portal.views.paging import Asked, paged, table
from govcloud.portal.views.results import Data, Download, NotFound, Table, no_department
from govcloud.reports.text import csv_cell
from govcloud.services import backup, playbooks, recovery
from govcloud.services.scans import security_report


def _visible(p: Portal, who: Session) -> list[str]:
    return scopes.only(p, who.person, sorted(p.estate.plans), str)


def listed(p: Portal, who: Session, asked: Asked) -> list[Data]:
    """The departments the person may see (``_visible``) that match the search, by id: the
    one list the page, its API twin and the CSV read (searched as ``Asked.matches`` does:
    any letter case, in the id or either name)."""
    def make() -> list[tuple[str, Data]]:
        every, seen = _rows(p), _visible(p, who)
        return [every[d] for d in seen if d in every]

    rows: list[tuple[str, Data]] = p.figures(
        ("department rows", who.person.department, who.person.subtree), make)
    q = asked.q.casefold()
    return [row for text, row in rows if q in text]


def _rows(p: Portal) -> dict[str, tuple[str, Data]]:
    """Every department's row of the list, by id, with the text a search looks in (the
    visible ones made once per change and person's scope: filtering 2,000 on each page took
    several ms)."""
    return {d: ("\n".join((d, plan.department.name, plan.department.name_en or "")).casefold(),
                {"id": d, "name": plan.department.name, "name_en": plan.department.name_en,
                 "zone": plan.department.zone}) for d, plan in p.estate.plans.items()}


def departments(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """One page of the departments the person may see (``?q=`` searches id and names)."""
    asked = Asked.of(query)
    rows, paging = paged(listed(p, who, asked), asked)
    return {"departments": rows, "paging": paging}


def departments_csv(p: Portal, who: Session, query: dict[str, str] | None = None) -> Table:
    columns = ((phrase("id"), lambda d: d["id"]), (phrase("name"), lambda d: d["name"]),
               (phrase("English name"), lambda d: d["name_en"] or ""),
               (phrase("zone"), lambda d: d["zone"]))
    return table("departments.csv", columns, listed(p, who, Asked.of(query)), ("zone",))


def _bill(p: Portal, department: str) -> Data | None:
    """This month's charge of the department (None when no usage is recorded yet)."""
    month = this_month()
    return p.figures(("bills", month), lambda: _bills(p, month)).get(department)


def _bills(p: Portal, month: Month) -> dict[str, Data]:
    """Every department's charge of ``month``, by department (none without usage), from the
    month's statement the twelve bills read too (made once per change, not twice)."""
    st = statement_of(p, month)
    if st is None:
        return {}
    return {d["department"]: {"period": str(st.period), **d} for d in st.as_dict()["departments"]}


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
        raise no_department(department)
    # The same for everyone who may see it, so made once per change for the department.
    data = {**p.figures(("department", department, this_month()),
                        lambda: _department(p, department)),
            **_department_records(p, department)}
    waiting = _not_live_yet(p, department)
    return {**data, "websites": [{**w, "live": w["live"] and w["domain"] not in waiting}
                                 for w in data["websites"]]}


def warm(p: Portal) -> None:
    """The figures every department's page reads (what the cloud runs, this month's charges
    and the last twelve months'), made for the first department before the first request."""
    first = min(p.estate.plans, default=None)
    if first is not None:
        p.figures(("department", first, this_month()), lambda: _department(p, first))


def _not_live_yet(p: Portal, department: str) -> set[str]:
    """The websites whose request was applied but whose service playbooks have not
    converged them yet (``requests.life``): made in the cloud, not live."""
    from govcloud.requests import life, records

    sites = {r.id: str(r.payload["website"]["domain"])
             for r in records.listing(p.store, department, "approved", limit=1000)
             if r.kind == "website"}
    return {sites[n] for n, step in life.stages(p.store, sites).items()
            if step in ("applied", "failed")}


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


def department_bill_csv(p: Portal, who: Session, department: str) -> Table:
    if department not in p.estate.plans:
        raise no_department(department)
    bill = _bill(p, department)
    if bill is None:
        raise NotFound(f"no usage recorded for {this_month()} yet",
                       "an operator collects it with govcloud usage collect")
    rows = [[pool, csv_cell(v)] for pool, v in bill["by_pool"].items()]
    rows += [["adjustment", csv_cell(bill["adjustment"])], ["total", csv_cell(bill["total"])]]
    return Table(f"{department}-{bill['period']}.csv", ["pool", "yuan"], rows,
                 frozenset((i, 0) for i in range(len(rows))))


def department_statement(p: Portal, who: Session, department: str, period: str) -> Download:
    """The department's printable statement of a month (``govcloud report statement``)."""
    if department not in p.estate.plans:
        raise no_department(department)
    month = month_in_path(period)
    try:
        page = accounts.statement_page(p.estate, p.store, month, department)
    except GovcloudError as exc:
        raise NotFound(str(exc), exc.hint) from None
    return Download(f"statement-{department}-{month}.html", "text/html; charset=utf-8",
                    page.encode("utf-8"), inline=True)  # opens in the browser, to print


# --- A department's records: the last twelve months' bills, backup drills, antivirus findings


def _department_records(p: Portal, department: str) -> Data:
    """The drills and findings, looked at on every request: they come from files the
    service commands leave in the state folder, which the figures' cache does not watch
    (the backup statuses read again when their file changed, the department's own scan
    logs alone)."""
    return {"drills": _drills(p, department), "security": _security(p, department)}


def _twelve_bills(p: Portal, department: str) -> list[Data]:
    """The department's charge in each of the last twelve months, newest first, from the
    chargeback ``govcloud report chargeback`` prints (the frozen one of a closed month); a
    month without recorded usage has no total."""
    month, out = this_month(), []
    for _ in range(12):
        found = _charges(p, month)
        if found is None:
            out.append({"period": str(month), "state": "no usage", "total": None})
        else:
            st, charges = found
            row = charges.get(department)
            out.append({"period": str(month), "state": state_of(month, st),
                        "total": None if row is None else str(row.total),
                        "adjustment": None if row is None else str(row.adjustment)})
        month = month.previous()
    return out


def _charges(p: Portal, month: Month) -> tuple[Any, dict[str, Any]] | None:
    """The month's statement and its charges by department (made once per change: one
    department's bills look up its own, not every department's)."""
    def make() -> tuple[Any, dict[str, Any]] | None:
        st = statement_of(p, month)
        return None if st is None else (st, {d.department: d for d in st.departments})

    return p.figures(("charges", month), make)


def _drills(p: Portal, department: str) -> list[Data]:
    """Per backup site: the last restore drill and its result, and the newest snapshot
    against the RPO, from the statuses the last ``govcloud report backup`` collected
    (``backup.saved_report``'s rows for one department; the estate's RPOs made once per
    change)."""
    path = playbooks.state_dir(p.estate, p.store) / "services" / backup.STATUS_FILE
    saved = p.from_file(path, lambda: _by_department(backup.load_statuses(path))).get(
        department, [])
    every = p.figures("rpo", lambda: backup.rpo_hours(p.estate))
    rpo = {department: every[department]} if saved and department in every else {}
    return [{"site": r.site, "host": r.host, "drill_at": r.drill_at or None,
             "drill_ok": r.drill_ok, "drill_status": r.drill_status,
             "last_snapshot": r.last_snapshot or None, "age_hours": r.age_hours,
             "rpo_hours": r.rpo_hours, "breach": r.breach, "error": r.error}
            for r in recovery.backup_report(saved, rpo, clock())]


def _by_department(statuses: list[recovery.SiteStatus]) -> dict[str, list[recovery.SiteStatus]]:
    """The saved statuses by department (read once per change of their file)."""
    out: dict[str, list[recovery.SiteStatus]] = {}
    for s in statuses:
        out.setdefault(s.department, []).append(s)
    return out


def _security(p: Portal, department: str) -> Data:
    """The antivirus findings of the department's latest scan on each host, from the scan
    logs the last ``govcloud report security`` collected (its own logs only)."""
    logs = playbooks.collected_scans(p.estate, p.store, department)
    return security_report(logs, [department])[0].as_dict()
