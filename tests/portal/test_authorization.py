"""The authorization matrix, generated from the route table: every route and API endpoint ×
every role × the person's own department, another one and forged department ids → the
expected allow or deny, checked over HTTP against the real app. A route added to the table is
in the matrix at once; a route the app serves that is not in the table fails the first test."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import pytest

from govcloud.core.roles import DEPARTMENT_ROLES, ROLES
from govcloud.portal.routes import ROUTES, Route, allowed
from tests.portal.conftest import OTHER, OWN, Site, account, client, sign_in

# Department ids a member might forge: another department, one that does not exist, case and
# encoding tricks, traversal. Only OWN, exactly, is theirs.
FORGED = [OTHER, "no-such-dept", "FINANCE", "finance ", "finance%2F..%2Fhealth",
          "..%2Fhealth", "finance.", "%66inance", "health%00finance"]
TARGETS = [OWN, *FORGED]
# Independent of the table: what each role must never reach (the table could be wrong too).
NEVER = {"member": {"/audit", "/api/audit", "/estate", "/api/estate", "/users", "/api/users",
                    "/finance/chargeback", "/api/finance/chargeback",
                    "/finance/chargeback.csv"},
         "approver": {"/audit", "/api/audit", "/users", "/api/users", "/estate",
                      "/finance/chargeback.csv"},
         "finance": {"/audit", "/api/audit", "/users", "/api/users"},
         "operator": {"/audit", "/api/audit"}}
PUBLIC_PATHS = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/portal.css"),
                ("GET", "/api/openapi.json")}


def _cases() -> list[Any]:
    out = []
    for route in ROUTES:
        if route.method != "GET" or route.public:
            continue
        for role in ROLES:
            for target in (TARGETS if route.scoped else [None]):
                out.append(pytest.param(route, role, target,
                                        id=f"{route.kind}:{route.path}:{role}:{target}"))
    return out


CASES = _cases()


@pytest.fixture(scope="module")
def clients(site: Site) -> dict[str, Any]:
    return {role: sign_in(site, account(role)) for role in ROLES}


def test_the_app_serves_exactly_the_route_table(site: Site) -> None:
    served = set()
    for r in site.app.routes:  # type: ignore[attr-defined]
        served |= {(m, r.path) for m in r.methods if m != "HEAD"}
    declared = {(r.method, r.path) for r in ROUTES}
    assert served == declared
    assert {(r.method, r.path) for r in ROUTES if r.public} == PUBLIC_PATHS
    assert len(CASES) >= 200, len(CASES)


@pytest.mark.parametrize(("route", "role", "target"), CASES)
def test_matrix(route: Route, role: str, target: str | None, clients: dict[str, Any]) -> None:
    path = route.path.replace("{department}", target) if target is not None else route.path
    r = clients[role].get(path)
    own = OWN if role in DEPARTMENT_ROLES else None
    meant = None if target is None else unquote(target)  # what the server reads: %66 is f
    exists = meant in (None, OWN, OTHER)
    may = allowed(route, role, own, meant) and exists
    if route.path in NEVER.get(role, set()):
        assert not may, f"the route table lets a {role} reach {route.path}"
    if may:
        assert r.status_code == 200, (path, role, r.status_code, r.text[:300])
        if route.kind == "api":
            assert r.headers["content-type"].startswith("application/json")
        elif route.kind == "download":
            assert "attachment" in r.headers["content-disposition"]
    else:
        assert r.status_code in (403, 404), (path, role, r.status_code)
        if role in DEPARTMENT_ROLES and route.scoped:
            assert r.status_code == 403 or meant != OTHER, path
            assert "青岛市卫生健康委员会" not in r.text  # nothing of the other department
    if route.scoped and target == OTHER and role in DEPARTMENT_ROLES:
        assert r.status_code == 403


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
