"""#21: nothing of another department in any answer a department role receives, generated
from the route table: for every route a member or an approver of OWN may call (pages, API,
downloads; the dry-run and check posts with a body), the answer holds no id, name, cost
centre, server, domain, request or bill amount of any other department."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import yaml

from govcloud.core.roles import DEPARTMENT_ROLES
from govcloud.portal.routes import ROUTES, Route, allowed
from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in

PERIOD = "2026-11"
ASK = {"kind": "replicas", "reason": "leak probe", "server": "fin-budget-app", "count": 4}


def _markers(site: Site, operator: Any) -> dict[str, list[str]]:
    """Department → what of it must never reach another department's people."""
    out: dict[str, list[str]] = {}
    for f in sorted((site.estate / "plans").glob("*.yaml")):
        plan = yaml.safe_load(f.read_text(encoding="utf-8"))
        dep = plan["department"]
        if dep["id"] == OWN:
            continue
        words = [dep["name"], dep.get("name_en", ""), dep["cost_centre"],
                 f"/departments/{dep['id']}", f'"department": "{dep["id"]}"',
                 f'"{dep["id"]}":', f"{dep['id']}-matrix"]
        words += [s["name"] for s in plan.get("servers", [])]
        words += [w["domain"] for w in plan.get("websites", [])]
        out[dep["id"]] = [w for w in words if w]
    bill = operator.get("/api/finance/chargeback").json()
    for d in bill["departments"]:
        if d["department"] in out and Decimal(d["total"]) >= 1000:
            total = Decimal(d["total"])
            out[d["department"]] += [f"{total:,.2f}", f"{total:.2f}"]
    return out


def _calls() -> list[Any]:
    out = []
    for route in ROUTES:
        if route.public or route.name == "logout" or "{handle}" in route.path:
            continue
        for role in sorted(DEPARTMENT_ROLES):
            if not allowed(route, role, OWN, OWN if route.scoped else None):
                continue
            if route.method == "POST" and route.name not in ("request_dry_run",
                                                             "request_check"):
                continue  # posts that change something: their answers are the GETs'
            out.append(pytest.param(route, role, id=f"{route.method}:{route.path}:{role}"))
    return out


CALLS = _calls()


@pytest.fixture(scope="module")
def markers(site: Site) -> dict[str, list[str]]:
    return _markers(site, sign_in(site, account("operator")))


@pytest.fixture(scope="module")
def people(site: Site) -> dict[str, Any]:
    return {role: sign_in(site, account(role)) for role in DEPARTMENT_ROLES}


def test_every_route_a_department_role_may_call_is_covered() -> None:
    names = {p.values[0].name for p in CALLS}
    assert {"department", "requests", "request", "request_dry_run", "me", "home",
            "department_bill_csv", "department_statement", "sessions"} <= names
    assert len(CALLS) >= 20, len(CALLS)


@pytest.mark.parametrize(("route", "role"), CALLS)
def test_no_answer_holds_another_departments_data(route: Route, role: str, site: Site,
                                                   people: dict[str, Any],
                                                   markers: dict[str, list[str]]) -> None:
    c = people[role]
    path = route.path.replace("{department}", OWN).replace("{period}", PERIOD)
    path = path.replace("{number}", str(site.requests[OWN]))
    if route.method == "GET":
        r = c.get(path)
    elif route.kind == "api":
        r = c.post(path, json=ASK, headers={"x-csrf-token": csrf_of(c.get("/").text)})
    else:
        r = c.post(path, data={"csrf": csrf_of(c.get("/").text), "kind": "replicas",
                               "reason": "leak probe", "server": "fin-budget-app",
                               "count": "4"})
    assert r.status_code in (200, 303, 422), (path, r.status_code, r.text[:300])
    text = r.content.decode("utf-8", "replace")
    found = {dep: [w for w in words if w in text] for dep, words in markers.items()}
    found = {dep: words for dep, words in found.items() if words}
    assert not found, (path, role, found)
    assert not re.search(r"\bhealth\b", text.replace("healthy", "")), path


def test_a_verdict_names_no_other_departments_server_or_site(site: Site,
                                                              people: dict[str, Any]) -> None:
    """A trial's find: a dry-run of a server or site another department has answered
    "duplicate server 'wj-booking-web' (also in plans/health.yaml:21)", so a member could
    probe another department's names one by one. The name is refused without the file."""
    c = people["member"]
    csrf = csrf_of(c.get("/").text)
    for ask in ({"kind": "servers", "reason": "probe", "server": {
                    "name": "wj-booking-web", "flavor": "m1.large", "image": "kylin-v10-sp3",
                    "count": 1}},
                {"kind": "website", "reason": "probe", "website": {
                    "domain": "wsjkw.qingdao.gov.cn", "kind": "static", "public": False}}):
        r = c.post(f"/api/departments/{OWN}/requests/dry-run", json=ask,
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["ok"] is False, r.text[:300]
        text = r.text
        assert "taken by another department" in text, text[:500]
        assert "health" not in text and "plans/" + OWN not in text.replace(
            f"plans/{OWN}.yaml", ""), text[:500]


def test_a_site_under_or_over_another_departments_is_refused_without_naming_it(
        site: Site, people: dict[str, Any]) -> None:
    """A trial's find: health's www.czj-intra.qingdao.gov.cn (under finance's site) was
    approved at once. A name under or over another department's is refused, and the verdict
    names neither that site nor its plan."""
    c = people["member"]
    csrf = csrf_of(c.get("/").text)
    for domain in ("www.wsjkw.qingdao.gov.cn", "qd.gov.cn"):  # under health's; over theirs
        ask = {"kind": "website", "reason": "probe", "website": {
            "domain": domain, "kind": "static", "public": False}}
        r = c.post(f"/api/departments/{OWN}/requests/dry-run", json=ask,
                   headers={"x-csrf-token": csrf})
        assert r.status_code == 200 and r.json()["ok"] is False, r.text[:300]
        assert "lies under or over" in r.text and "taken by another department" in r.text
        assert "health" not in r.text and "wsjkw" not in r.text.replace(domain, ""), \
            r.text[:600]
