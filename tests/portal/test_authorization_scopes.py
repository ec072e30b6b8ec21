"""The authorization matrix for people scoped to an organisation (#25): a district's
operator, approver, finance officer and auditor, each checked against every route of the
route table for a department inside their district and one outside it, in the portal and
the API (sessions and API tokens): a route the table allows them on a department inside
answers; on one outside, 403/404 and nothing of it. The lists, overview, queue, finance
reports (page, CSV, XLSX, API) and audit records hold only the district's departments."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest

from govcloud.access import users
from govcloud.core.directory import Change, Organisation
from govcloud.core.roles import SCOPED_ROLES
from govcloud.estate import organisations
from govcloud.portal.routes import ROUTES, Route, allowed
from tests.portal.conftest import OTHER, OWN, PASSWORD, Site, client, csrf_of, sign_in
from tests.portal.test_authorization import NUMBERS, PERIOD, SIGN_IN_STEPS

DISTRICT = "shinan"  # OWN and INSIDE are under it; OTHER is under another district
INSIDE = ("finance", "approval", "big-data")
OUTSIDE_NAME = "青岛市卫生健康委员会"  # OTHER's name: never on a scoped person's answer
TREE = [("qingdao", "青岛市", ""), (DISTRICT, "市南区", "qingdao"),
        ("laoshan", "崂山区", "qingdao"),
        *[(d, d, DISTRICT) for d in INSIDE], (OTHER, OTHER, "laoshan")]
ROLES = sorted(SCOPED_ROLES)
OUTSIDERS = [("member.health", "member", OTHER, ""), ("operator.laoshan", "operator", None,
                                                      "laoshan")]


def scoped(role: str) -> str:
    return f"{role}.district"


@pytest.fixture(scope="module")
def district(site: Site) -> Iterator[Site]:
    """The site's store with the tree above recorded (as govcloud directory sync records
    it) and one person of each scoped role scoped to the district."""
    with pytest.MonkeyPatch.context() as mp:
        from tests.support.cli import NOW

        mp.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
        store = site.store()
        try:
            organisations.record(store, [
                Change("add", code, None, Organisation(code, name, parent,
                                                      "CC-1" if code in INSIDE else "",
                                                      f"ou={code}"), "test")
                for code, name, parent in TREE])
            known = set(organisations.parents(store))
            for role in ROLES:
                users.add(store, {OWN, OTHER, *INSIDE}, scoped(role), role, None, PASSWORD,
                          "test", scope=DISTRICT, organisations=known)
            for name, role, dep, scope in OUTSIDERS:  # accounts outside the district
                users.add(store, {OWN, OTHER, *INSIDE}, name, role, dep, PASSWORD, "test",
                          scope=scope, organisations=known)
        finally:
            store.close()
        yield site


@pytest.fixture(scope="module")
def clients(district: Site) -> dict[str, Any]:
    return {role: sign_in(district, scoped(role)) for role in ROLES}


@pytest.fixture(scope="module")
def api_tokens(district: Site) -> dict[str, str]:
    from govcloud.access import tokens as api

    store = district.store()
    try:
        return {role: api.add(store, {OWN, OTHER}, scoped(role), "matrix", "test")[1]
                for role in ROLES}
    finally:
        store.close()


REACH = frozenset(INSIDE)
TARGETS = [OWN, OTHER]  # inside the district, outside it


def _cases(method: str, api_only: bool = False) -> list[Any]:
    out = []
    for route in ROUTES:
        if route.method != method or route.public or route.name in SIGN_IN_STEPS or (
                api_only and route.kind != "api"):
            continue
        for role in ROLES:
            for target in (TARGETS if route.scoped else [None]):
                for number in (NUMBERS[:2] if "{number}" in route.path else [None]):
                    out.append(pytest.param(route, role, target, number,
                                            id=f"{route.kind}:{route.path}:{role}:{target}:"
                                            f"{number}"))
    return out


def _path(route: Route, target: str | None, number: str | None, site: Site) -> str:
    path = route.path.replace("{department}", target or "").replace("{period}", PERIOD)
    if number is not None:
        path = path.replace("{number}", str(site.requests[OWN if number == "own" else OTHER]))
    return path


def _expected(route: Route, role: str, target: str | None, number: str | None) -> bool:
    meant = None if target is None else unquote(target)
    real = number is None or (number, meant) in (("own", OWN), ("other", OTHER))
    return allowed(route, role, None, meant, REACH) and real


def _check(r: Any, route: Route, role: str, target: str | None, number: str | None) -> None:
    path = r.request.url.path
    if target == OTHER or number == "other":  # independent of the table: never outside
        assert r.status_code in (403, 404), (path, role, r.status_code)
        assert OUTSIDE_NAME not in r.text and "health-matrix" not in r.text, path
        return
    if _expected(route, role, target, number):
        assert r.status_code == 200, (path, role, r.status_code, r.text[:300])
    else:
        assert r.status_code in (403, 404), (path, role, r.status_code)


@pytest.mark.parametrize(("route", "role", "target", "number"), _cases("GET"))
def test_scoped_matrix(route: Route, role: str, target: str | None, number: str | None,
                       clients: dict[str, Any], district: Site) -> None:
    r = clients[role].get(_path(route, target, number, district))
    _check(r, route, role, target, number)


@pytest.mark.parametrize(("route", "role", "target", "number"), _cases("GET", api_only=True))
def test_scoped_matrix_with_api_tokens(route: Route, role: str, target: str | None,
                                       number: str | None, api_tokens: dict[str, str],
                                       district: Site) -> None:
    """A scoped person's API token reaches what they reach, never more."""
    r = client(district).get(_path(route, target, number, district),
                             headers={"authorization": f"Bearer {api_tokens[role]}"})
    _check(r, route, role, target, number)


@pytest.mark.parametrize(("route", "role", "target", "number"), _cases("POST"))
def test_scoped_matrix_of_posts(route: Route, role: str, target: str | None,
                                number: str | None, clients: dict[str, Any],
                                district: Site) -> None:
    """Every post on a department outside the district is refused at the gate (403); one
    inside gets past it (never 401/403, never a 5xx). Nothing is decided: request numbers
    that do not exist, a kind that does not exist."""
    c = clients[role]
    path = _path(route, target, None, district).replace("{number}", "999999")
    csrf = csrf_of(c.get("/").text)
    body = {"kind": "no-such-kind", "reason": "matrix"}
    if route.kind == "api":
        r = c.post(path, json=body, headers={"x-csrf-token": csrf})
    else:
        r = c.post(path, data={**body, "csrf": csrf})
    meant = None if target is None else unquote(target)
    if target == OTHER:
        assert r.status_code == 403, (path, role, r.status_code)
    elif allowed(route, role, None, meant, REACH):
        assert r.status_code not in (401, 403) and r.status_code < 500, (path, role,
                                                                          r.status_code)
    else:
        assert r.status_code == 403, (path, role, r.status_code)


def test_lists_reports_and_records_hold_only_the_district(clients: dict[str, Any]) -> None:
    for role in ROLES:
        c = clients[role]
        ids = [d["id"] for d in c.get("/api/departments").json()["departments"]]
        assert ids == sorted(INSIDE), (role, ids)
        assert 'href="/departments/health"' not in c.get("/departments").text
    c = clients["operator"]
    overview = c.get("/api/estate").json()
    assert sorted(r["id"] for r in overview["rows"]) == sorted(INSIDE)
    assert overview["departments"] == len(INSIDE)
    queue = c.get("/requests")
    assert queue.status_code == 200 and "health-matrix" not in queue.text
    assert c.get("/api/me").json()["scope"] == DISTRICT
    finance = clients["finance"]
    report = finance.get("/api/finance/chargeback").json()
    assert {r[0] for r in report["rows"]} == {*INSIDE, "(subtree)"}, report["rows"]
    assert {d["department"] for d in report["departments"]} <= set(INSIDE)
    *kept, together = report["rows"]
    assert Decimal(str(together[-1])) == sum(Decimal(str(r[-1])) for r in kept) > 0
    for path in ("/finance/chargeback.csv", f"/finance/statements/{PERIOD}/chargeback.csv",
                 "/finance/chargeback", "/finance/savings", "/api/finance/savings"):
        r = finance.get(path)
        assert r.status_code == 200 and OUTSIDE_NAME not in r.text and \
            "health" not in r.text, path
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(finance.get("/finance/chargeback.xlsx").content))
    cells = {str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
             for v in row}
    assert OTHER not in cells and OUTSIDE_NAME not in cells and "finance" in cells
    audit = clients["auditor"].get("/api/audit").json()["entries"]
    assert audit and {e["department"] for e in audit} <= set(INSIDE), \
        {e["department"] for e in audit}


def test_a_scoped_operator_files_only_for_the_district(district: Site,
                                                      clients: dict[str, Any]) -> None:
    """Trial of #25: a district operator posted to an inside department's address with a
    body naming a department outside the district, and the request was filed for it. The
    body's department must be the address's; and filing (portal, CLI, resubmit: one
    decisions.may_file) refuses a department outside the scope."""
    from govcloud.applying import engine
    from govcloud.requests import decisions

    c = clients["operator"]
    csrf = csrf_of(c.get("/").text)
    body = {"kind": "quota", "department": OTHER, "reason": "smuggle", "quota": {"cores": 6}}
    r = c.post(f"/api/departments/{OWN}/requests", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 400 and OTHER in r.text, r.text[:300]
    with engine.records(district.estate) as (est, store):
        person = users.find(store, scoped("operator"))
        assert person is not None and person.subtree == DISTRICT
        with pytest.raises(decisions.RequestRefused, match=f"under {DISTRICT} only"):
            decisions.may_file(person, body, est, store)
        assert decisions.may_file(person, {**body, "department": OWN}, est, store) == OWN
        filed = [r for r in decisions.listing(store, OTHER) if r.requester == person.name]
    assert filed == []


def test_a_scoped_finance_officer_sees_no_estate_totals_and_closes_no_month(
        district: Site, clients: dict[str, Any]) -> None:
    """Trial of #25: a district's finance officer read the estate's platform cost, idle
    capacity and charged total in the chargeback, savings and statements (page, API, XLSX:
    the pools and unit-costs sheets), and could close the whole estate's month."""
    unscoped = sign_in(district, "finance.one")
    whole = unscoped.get("/api/finance/chargeback").json()
    estate_figures = {whole["platform_cost"], whole["idle"], whole["charged"]}
    assert all(Decimal(v) > 0 for v in estate_figures)
    finance = clients["finance"]
    report = finance.get("/api/finance/chargeback").json()
    assert report["platform_cost"] is None and report["idle"] is None
    assert report["pools"] == [] and report["charged"] is None
    savings = finance.get("/api/finance/savings").json()
    assert savings["legacy_total"] is None and savings["saving"] is None
    for path in ("/api/finance/statements", "/finance/statements", "/finance/chargeback",
                 f"/finance/chargeback?period={PERIOD}"):
        text = finance.get(path).text
        shown = {v for v in estate_figures if v in text or f"{Decimal(v):,.2f}" in text}
        assert shown == set(), (path, shown)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(finance.get("/finance/chargeback.xlsx").content))
    cells = {f"{v:.2f}" if isinstance(v, float) else str(v) for ws in book.worksheets
             for row in ws.iter_rows(values_only=True) for v in row}
    assert not estate_figures & cells, estate_figures & cells
    csrf = csrf_of(finance.get("/").text)
    r = finance.post(f"/api/finance/statements/{PERIOD}/close", json={},
                     headers={"x-csrf-token": csrf})
    assert r.status_code in (403, 404), r.text[:300]
    assert finance.get(f"/finance/statements/{PERIOD}/close").status_code in (403, 404)


def _handles(c: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in c.get("/api/sessions").json()["sessions"]:
        out.setdefault(s["name"], []).append(s["handle"])
    return out


def test_accounts_and_sessions_hold_only_the_district(clients: dict[str, Any],
                                                      district: Site) -> None:
    """#25: /users, /api/users and a scoped operator's sessions list the accounts of the
    district's departments and people scoped inside it; a session outside is not theirs to
    end (404, still live). An unscoped operator's lists keep everyone."""
    outsiders = [sign_in(district, name) for name, *_ in OUTSIDERS]
    whole = sign_in(district, "operator.one")
    everyone = {u["name"] for u in whole.get("/api/users").json()["users"]}
    assert {"member.health", "operator.laoshan", "member.one", "operator.one"} <= everyone
    for role in ("operator", "auditor"):
        c = clients[role]
        names = {u["name"] for u in c.get("/api/users").json()["users"]}
        assert names >= {scoped(r) for r in ROLES} | {"member.one", "approver.one"}, names
        assert not names & {"member.health", "operator.laoshan", "operator.one"}, names
        page = c.get("/users").text
        assert "member.health" not in page and "operator.laoshan" not in page
    c = clients["operator"]
    seen = _handles(c)
    assert scoped("operator") in seen and not set(seen) & {"member.health",
                                                          "operator.laoshan", "operator.one"}
    theirs = _handles(whole)
    assert {"member.health", "operator.laoshan"} <= set(theirs)
    handle = theirs["member.health"][0]
    r = c.post(f"/api/sessions/{handle}/end", json={},
               headers={"x-csrf-token": csrf_of(c.get("/").text)})
    assert r.status_code == 404, (r.status_code, r.text[:300])
    assert handle in _handles(whole)["member.health"]
    assert outsiders[0].get("/api/me").status_code == 200  # still signed in


@pytest.fixture
def drifted(district: Site) -> Iterator[None]:
    """Out-of-band changes to a quota inside the district and one outside, put back after."""
    from govcloud.applying import engine
    from govcloud.core.desired import Resource

    keys = [f"{OWN}/quota/{OWN}", f"{OTHER}/quota/{OTHER}"]
    with engine.session(district.estate) as s:
        before = {r.key: r for r in s.driver.read() if r.key in keys}
        for r in before.values():
            s.driver.update(r, Resource(r.kind, r.department, r.name,
                                        {**r.attrs, "cores": 999}))
    try:
        yield
    finally:
        with engine.session(district.estate) as s:
            now_ = {r.key: r for r in s.driver.read() if r.key in keys}
            for key, r in before.items():
                s.driver.update(now_[key], r)


def test_operations_hold_only_the_district(clients: dict[str, Any], district: Site,
                                           drifted: None) -> None:
    """#25: an apply's journal, the applied requests, drift and consolidation moves name
    departments; a scoped operator's and auditor's hold only the district's (the hosts'
    figures as they are). The whole estate's apply is not theirs: 403, saying why."""
    whole = sign_in(district, "operator.one")
    assert {d["department"] for d in whole.get("/api/operations").json()["drift"]} == {
        OWN, OTHER}
    assert OTHER in {s["key"].split("/")[0]
                     for s in whole.get("/api/operations/apply").json()["steps"]}
    for role in ("operator", "auditor"):
        c = clients[role]
        steps = c.get("/api/operations/apply").json()["steps"]
        assert steps and {s["key"].split("/")[0] for s in steps} <= REACH, steps[:3]
        ops = c.get("/api/operations").json()
        assert {d["department"] for d in ops["drift"]} == {OWN}, ops["drift"]
        assert {q["department"] for a in ops["applies"] for q in a["requests"]} <= REACH
        moves = c.get("/api/operations/consolidation").json()["steps"]
        assert {m["server"].split("/")[0] for m in moves} <= REACH, moves[:3]
        for path in ("/operations", "/operations/apply/progress", "/operations/consolidation"):
            r = c.get(path)
            assert r.status_code == 200 and f"{OTHER}/" not in r.text, path
            assert 'href="/operations/apply"' not in r.text, path  # not theirs to start
    c = clients["operator"]
    for r in (c.get("/api/operations/plan?lang=en"), c.get("/operations/apply?lang=en"),
              c.post("/api/operations/apply", json={"digest": "x"},
                     headers={"x-csrf-token": csrf_of(c.get("/").text)})):
        assert r.status_code == 403, (r.request.url.path, r.status_code)
        assert "whole estate" in r.text, r.text[:300]
    assert "整个平台" in c.get("/operations/apply?lang=zh").text  # in Chinese too


def test_the_command_line_refuses_a_decision_outside_the_district(district: Site) -> None:
    """#25: ``govcloud request approve|reject --as`` a scoped person, on a request of a
    department outside their subtree: exit 1, one line naming why, nothing decided (the
    shared decisions code refuses it, as the portal's gate does)."""
    from tests.support.cli import NOW, govcloud

    number = str(district.requests[OTHER])
    for args in (["approve", number], ["reject", number, "--reason", "not yours"]):
        proc = govcloud("request", *args, "--as", scoped("operator"), estate=district.estate,
                        env=NOW)
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        assert proc.stderr.count("\n") == 1 and f"outside {DISTRICT}" in proc.stderr, \
            proc.stderr  # one line, no traceback
    shown = govcloud("request", "show", number, "-o", "json", estate=district.estate, env=NOW)
    assert json.loads(shown.stdout)["state"] == "waiting", shown.stdout[:300]


def test_notices_and_home_hold_only_the_district(clients: dict[str, Any],
                                                 district: Site) -> None:
    """#25: a person scoped to the district after filing a request of a department outside
    it is no longer noticed of that request (the notices page, its API twin and every page's
    count); the home page counts the district's departments."""
    from govcloud.applying import engine
    from govcloud.requests import decisions
    from tests.support.cli import NOW

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
        with engine.records(district.estate) as (est, store):
            known = set(organisations.parents(store))
            users.add(store, set(est.plans), "operator.moved", "operator", None, PASSWORD,
                      "test")
            filed = decisions.submit(est, store, users.find(store, "operator.moved"), {
                "kind": "quota", "department": OTHER, "reason": "filed before the move",
                "quota": {"cores": est.plans[OTHER].quota.cores + 4}})
            decisions.close(store, users.find(store, "operator.one"), filed.id, "rejected",
                            "not now")
            users.set_role(store, set(est.plans), "operator.moved", "operator", None, "test",
                           "moved to the district", scope=DISTRICT, organisations=known)
    c = sign_in(district, "operator.moved")
    home = c.get("/api/me").json()
    assert home["scope"] == DISTRICT
    notices = c.get("/api/notices").json()
    assert notices["new"] == 0 and not notices["notices"], notices
    assert {r["department"] for r in notices["waiting"]} <= REACH
    assert "not now" not in c.get("/notices").text
    start = c.get("/?lang=en").text
    assert "0 new since you last looked." in start, start
    assert f"{len(INSIDE)} departments" in clients["operator"].get("/?lang=en").text
