"""The data of each route, by name (``routes.Route.name``): one function serves a page and its
API twin, so what a person sees and what a program reads are the same figures, from the
engine and the finance code the CLI uses."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from govcloud.portal.context import Portal
from govcloud.portal.sessions import Session
from govcloud.reports.text import csv_cell
from govcloud.runtime import accounts, audit, engine, people
from govcloud.runtime.store import clock

Data = dict[str, Any]


class NotFound(GovcloudError):
    """A path names something that does not exist (a department, a record)."""


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
    try:
        st = accounts.statement_for(p.estate, p.store, _month())
    except GovcloudError:
        return None
    row = next((d for d in st.as_dict()["departments"] if d["department"] == department), None)
    return None if row is None else {"period": st.period, **row}


def department(p: Portal, who: Session, department: str) -> Data:
    plan = p.estate.plans.get(department)
    if plan is None:
        raise NotFound(f"no department {department!r}", "choose one from the list")
    actual = [r for r in p.driver.read() if r.department == department]
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
            "bill": _bill(p, department)}


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
    try:
        rep = accounts.report(p.estate, p.store, "chargeback", _month())
    except GovcloudError as exc:
        return {"period": str(_month()), "missing": exc.render(), "header": [], "rows": []}
    header, rows = rep.main
    return {**rep.data, "missing": "", "header": list(header),
            "rows": [list(r) for r in rows]}


def chargeback_csv(p: Portal, who: Session) -> Download:
    rep = accounts.report(p.estate, p.store, "chargeback", _month())
    header, rows = rep.main
    return Download(f"chargeback-{rep.period}.csv", "text/csv; charset=utf-8",
                    _csv(list(header), [[csv_cell(v) for v in r] for r in rows]))


def audit_(p: Portal, who: Session) -> Data:
    verdict = audit.verify(p.store)
    return {**verdict.as_dict(),
            "entries": [e.as_dict() for e in audit.latest(p.store, 200)]}


def users(p: Portal, who: Session) -> Data:
    return {"users": [x.as_dict() for x in people.people(p.store)]}


VIEWS: dict[str, Callable[..., Any]] = {
    "me": me, "home": home, "departments": departments, "department": department,
    "department_bill_csv": department_bill_csv, "estate": estate, "chargeback": chargeback,
    "chargeback_csv": chargeback_csv, "audit": audit_, "users": users,
}
