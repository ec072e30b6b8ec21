"""The authorization matrix, generated from the route table: every route and API endpoint ×
every role × the person's own department, another one and forged department ids → the
expected allow or deny, checked over HTTP against the real app (the API's reads also with a
govcloud API token of each role). A route added to the table is
in the matrix at once; a route the app serves that is not in the table fails the first test."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

from govcloud.core.roles import DEPARTMENT_ROLES, ROLES
from govcloud.portal.routes import ROUTES, Route, allowed
from tests.portal.conftest import OTHER, OWN, Site, account, client, csrf_of, sign_in

# Department ids a member might forge: another department, one that does not exist, case and
# encoding tricks, traversal. Only OWN, exactly, is theirs.
FORGED = [OTHER, "no-such-dept", "FINANCE", "finance ", "finance%2F..%2Fhealth",
          "..%2Fhealth", "finance.", "%66inance", "health%00finance"]
TARGETS = [OWN, *FORGED]
# Independent of the table: what each role must never reach (the table could be wrong too).
NEVER = {"member": {"/audit", "/api/audit", "/estate", "/api/estate", "/users", "/api/users",
                    "/operations", "/api/operations", "/finance/savings",
                    "/finance/chargeback", "/api/finance/chargeback",
                    "/finance/chargeback.csv", "/finance/chargeback.xlsx"},
         "approver": {"/audit", "/api/audit", "/users", "/api/users", "/estate",
                      "/finance/chargeback.csv", "/finance/chargeback.xlsx"},
         "finance": {"/audit", "/api/audit", "/users", "/api/users"},
         "operator": {"/audit", "/api/audit"}}
PUBLIC_PATHS = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/portal.css"),
                ("GET", "/api/openapi.json")}


SIGN_IN_STEPS = ("logout", "second_factor_form", "second_factor")
NUMBERED = [OWN, OTHER, "no-such-dept"]  # departments tried on paths with a request number
NUMBERS = ["own", "other", "999999", "abc"]  # own/other: a request of OWN / of OTHER


def _cases(method: str) -> list[Any]:
    out = []
    for route in ROUTES:
        # Sign-in steps, not things a role reaches (test_second_factor holds them).
        if route.method != method or route.public or route.name in SIGN_IN_STEPS:
            continue
        for role in ROLES:
            for target in (NUMBERED if "{number}" in route.path else TARGETS
                           if route.scoped else [None]):
                for number in (NUMBERS if "{number}" in route.path else [None]):
                    out.append(pytest.param(
                        route, role, target, number,
                        id=f"{route.kind}:{route.path}:{role}:{target}:{number}"))
    return out


PERIOD = "2026-11"  # the month the site's usage is recorded for (month to date)


def _path(route: Route, target: str | None, number: str | None, site: Site) -> str:
    path = route.path.replace("{department}", target) if target is not None else route.path
    path = path.replace("{period}", PERIOD)
    if number is not None:
        real = {"own": site.requests[OWN], "other": site.requests[OTHER]}.get(number, number)
        path = path.replace("{number}", str(real))
    return path


def _exists(target: str | None, number: str | None) -> bool:
    """Whether the path names something real: a department, and a request of it."""
    meant = None if target is None else unquote(target)
    if meant not in (None, OWN, OTHER):
        return False
    return number is None or (number, meant) in (("own", OWN), ("other", OTHER))


CASES = _cases("GET")
POSTS = _cases("POST")


@pytest.fixture(scope="module")
def clients(site: Site) -> dict[str, Any]:
    return {role: sign_in(site, account(role)) for role in ROLES}


@pytest.fixture(scope="module")
def tokens(clients: dict[str, Any]) -> dict[str, str]:
    return {role: csrf_of(c.get("/").text) for role, c in clients.items()}


def test_the_app_serves_exactly_the_route_table(site: Site) -> None:
    served = set()
    for r in site.app.routes:  # type: ignore[attr-defined]
        served |= {(m, r.path) for m in r.methods if m != "HEAD"}
    declared = {(r.method, r.path) for r in ROUTES}
    assert served == declared
    assert {(r.method, r.path) for r in ROUTES if r.public} == PUBLIC_PATHS
    assert len(CASES) + len(POSTS) >= 400, (len(CASES), len(POSTS))


@pytest.mark.parametrize(("route", "role", "target", "number"), CASES)
def test_matrix(route: Route, role: str, target: str | None, number: str | None,
                clients: dict[str, Any], site: Site) -> None:
    path = _path(route, target, number, site)
    r = clients[role].get(path)
    own = OWN if role in DEPARTMENT_ROLES else None
    meant = None if target is None else unquote(target)  # what the server reads: %66 is f
    may = allowed(route, role, own, meant) and _exists(target, number)
    if route.path in NEVER.get(role, set()):
        assert not may, f"the route table lets a {role} reach {route.path}"
    if may:
        assert r.status_code == 200, (path, role, r.status_code, r.text[:300])
        if route.kind == "api":
            assert r.headers["content-type"].startswith("application/json")
        elif route.kind == "download":
            how = "inline" if route.name == "department_statement" else "attachment"
            assert how in r.headers["content-disposition"]
    else:
        assert r.status_code in (403, 404), (path, role, r.status_code)
        if role in DEPARTMENT_ROLES and route.scoped:
            assert r.status_code == 403 or meant != OTHER, path
            assert "青岛市卫生健康委员会" not in r.text  # nothing of the other department
            assert "health-matrix" not in r.text  # nor of its request
    if route.scoped and meant == OTHER and role in DEPARTMENT_ROLES:
        assert r.status_code == 403


@pytest.fixture(scope="module")
def api_tokens(site: Site) -> dict[str, str]:
    """A govcloud API token per role (member and approver: of OWN)."""
    from govcloud.access import tokens as api

    store = site.store()
    try:
        return {role: api.add(store, {OWN, OTHER}, account(role), "matrix", "test")[1]
                for role in ROLES}
    finally:
        store.close()


@pytest.mark.parametrize(("route", "role", "target", "number"),
                         [c for c in CASES if c.values[0].kind == "api"])
def test_matrix_with_api_tokens(route: Route, role: str, target: str | None,
                                number: str | None, api_tokens: dict[str, str],
                                site: Site) -> None:
    """Every API read with a Bearer token of each role: the same answer as a session's."""
    path = _path(route, target, number, site)
    r = client(site).get(path, headers={"authorization": f"Bearer {api_tokens[role]}"})
    own = OWN if role in DEPARTMENT_ROLES else None
    meant = None if target is None else unquote(target)
    if allowed(route, role, own, meant) and _exists(target, number):
        assert r.status_code == 200, (path, role, r.status_code, r.text[:300])
    else:
        assert r.status_code in (403, 404), (path, role, r.status_code)
        if route.scoped and meant == OTHER and role in DEPARTMENT_ROLES:
            assert r.status_code == 403


@pytest.mark.parametrize(("route", "role", "target", "number"), POSTS)
def test_matrix_of_posts(route: Route, role: str, target: str | None, number: str | None,
                         clients: dict[str, Any], tokens: dict[str, str], site: Site) -> None:
    """Every form and API post, with the session's CSRF token and a request that changes
    nothing (an unknown kind, a request number that does not exist): a role the table
    refuses gets 403; one it allows gets past the gate (never 401/403, never a 5xx)."""
    if number in ("own", "other"):
        number = "999999"  # never decide a real request here
    path = _path(route, target, number, site)
    body = {"kind": "no-such-kind", "reason": "matrix"}
    if route.kind == "api":
        r = clients[role].post(path, json=body, headers={"x-csrf-token": tokens[role]})
    else:
        r = clients[role].post(path, data={**body, "csrf": tokens[role]})
    own = OWN if role in DEPARTMENT_ROLES else None
    meant = None if target is None else unquote(target)
    if allowed(route, role, own, meant):
        assert r.status_code not in (401, 403) and r.status_code < 500, (path, role,
                                                                          r.status_code)
    else:  # refused by the gate, or a path that names no route at all (%2F in an id)
        assert r.status_code == 403 or (r.status_code == 404 and "%2F" in path), (
            path, role, r.status_code)


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.public],
                         ids=lambda r: f"{r.method}:{r.path}")
def test_without_a_session_nothing_but_the_sign_in(route: Route, site: Site) -> None:
    c = client(site)
    path = route.path.replace("{department}", OWN)
    r = c.request(route.method, path)  # type: ignore[attr-defined]
    if route.kind == "api":
        assert r.status_code == 401 and r.json() == {"error": "not signed in"}
    else:
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_department_lists_show_only_what_a_role_may_see(clients: dict[str, Any],
                                                        site: Site) -> None:
    for role in ROLES:
        ids = [d["id"] for d in clients[role].get("/api/departments").json()["departments"]]
        if role in DEPARTMENT_ROLES:
            assert ids == [OWN]
        else:
            assert len(ids) == 16 and OWN in ids and OTHER in ids
        page = clients[role].get("/departments").text
        assert ('href="/departments/health"' in page) == (role not in DEPARTMENT_ROLES)


def test_a_verdict_shows_no_other_departments_bill(site: Site) -> None:
    """#21 case 2: a member's dry-run, or a request of their department, answered
    ``verdict.cost.departments`` with every department's monthly bill before and after,
    though the member may not read those departments. The cost part now holds their own
    department and the estate's totals, the others only as a count and a sum — also for a
    request recorded before (its stored verdict still names every department)."""
    c: Any = sign_in(site, account("member"))
    csrf = csrf_of(c.get("/").text)
    ask = {"kind": "replicas", "reason": "leak probe", "server": "fin-budget-app", "count": 4}
    r = c.post(f"/api/departments/{OWN}/requests/dry-run", json=ask,
               headers={"x-csrf-token": csrf})
    assert r.status_code == 200, r.text[:300]
    cost = r.json()["cost"]
    assert set(cost["departments"]) <= {OWN}, sorted(cost["departments"])
    assert cost["other_departments"]["count"] >= 1  # antivirus seats: a usage pool
    assert OTHER not in r.text
    n = site.requests[OWN]
    store = site.store()
    try:
        verdict = json.loads(store.query("SELECT verdict FROM requests WHERE id = ?",
                                         (n,))[0][0])
        pair = {"before": "100.00", "after": "101.50", "delta": "1.50"}
        verdict["cost"]["departments"] = {OWN: pair, OTHER: pair, "parks": pair}
        store.execute("UPDATE requests SET verdict = ? WHERE id = ?", (json.dumps(verdict), n))
    finally:
        store.close()
    r = c.get(f"/api/departments/{OWN}/requests/{n}")
    assert r.status_code == 200, r.text[:300]
    shown = r.json()["verdict"]["cost"]
    assert shown["departments"] == {OWN: pair}
    assert shown["other_departments"] == {"count": 2, "delta": "3.00"}
    assert OTHER not in r.text and "parks" not in r.text
