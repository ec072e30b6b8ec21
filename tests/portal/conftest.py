"""An applied example estate with one account per role, and the portal built on it (in this
process, through Starlette's TestClient: the same ASGI app uvicorn serves)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from govcloud.access import users
from govcloud.core.roles import DEPARTMENT_ROLES, ROLES
from govcloud.state.store import Store
from tests.support.cli import NOW, apply_and_collect
from tests.support.estate import copy_estate

PASSWORD = "correct horse battery"
OWN, OTHER = "finance", "health"  # the department of the member and the approver; another


@dataclass
class Site:
    estate: Path
    app: object  # the Starlette app
    requests: dict[str, int]  # department -> a request of it, waiting for an operator

    def store(self) -> Store:
        return Store(f"sqlite:///{self.estate}/.state/govcloud.db", self.estate)


def account(role: str) -> str:
    return f"{role}.one"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    estate = apply_and_collect(copy_estate(tmp_path_factory.mktemp("portal") / "estate"),
                               "2026-11")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
        store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
        for role in ROLES:
            users.add(store, {OWN, OTHER}, account(role), role,
                       OWN if role in DEPARTMENT_ROLES else None, PASSWORD, "test")
        from govcloud.applying import engine
        from govcloud.requests import decisions, records

        filed = {}
        with engine.records(estate) as (est, st):
            for dep, who in ((OWN, account("member")), (OTHER, account("operator"))):
                cores = est.plans[dep].quota.cores  # a raise of quota waits for an operator
                filed[dep] = decisions.submit(est, st, users.find(st, who), {
                    "kind": "quota", "department": dep, "reason": f"{dep}-matrix",
                    "quota": {"cores": cores + 8}}).id
                assert records.find(st, filed[dep]).state == "waiting"
        store.close()
        from govcloud.portal.app import create_app

        yield Site(estate, create_app(estate, secret="test-secret"), filed)


def client(site: Site) -> object:
    from starlette.testclient import TestClient

    return TestClient(site.app, base_url="http://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def sign_in(site: Site, name: str, password: str = PASSWORD) -> object:
    """A client signed in as ``name`` (asserting it worked)."""
    c = client(site)
    form = c.get("/login")  # type: ignore[attr-defined]
    r = c.post("/login", data={"name": name, "password": password,  # type: ignore[attr-defined]
                               "csrf": csrf_of(form.text), "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/", r.text[:500]
    return c
