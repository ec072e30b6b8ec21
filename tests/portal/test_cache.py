"""The portal makes a department's page, the estate overview and the month's reports once per
change (``Portal.figures``), and no figure outlives the change that makes it wrong: an apply
or a usage collection by another process, an approval through the portal, an edit of the
price book. Each test reads through the app first (so the figures are made and kept), makes
the change, and reads again at once.

The estate's files are looked at again only when the store changed (``FILES_RECHECK`` is
set to an hour here, except for the price-book test): so each invalidation below is the one
the test names, not a timer."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.portal import context
from govcloud.state.store import Store
from tests.portal.conftest import PASSWORD, Site, csrf_of, sign_in
from tests.support.cli import NOW, apply_and_collect, govcloud
from tests.support.estate import copy_estate, edit

NEW_SERVER = """  - name: fin-cache-probe
    flavor: m1.small
    image: kylin-v10-sp3
    count: 1
    load: {cpu: 0.1, ram: 0.3}
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    estate = apply_and_collect(copy_estate(tmp_path / "estate"), "2026-11")
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    monkeypatch.setattr(context, "FILES_RECHECK", 3600.0)
    store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    plans = {p.stem for p in (estate / "plans").glob("*.yaml")}
    users.add(store, plans, "li.member", "member", "finance", PASSWORD, "test")
    users.add(store, plans, "op.operator", "operator", None, PASSWORD, "test")
    users.add(store, plans, "fin.finance", "finance", None, PASSWORD, "test")
    store.close()
    from govcloud.portal.app import create_app

    app = create_app(estate, secret="test-secret")
    yield Site(estate, app, {})
    app.state.portal.close()


def _get(c: Any, path: str) -> Any:
    r = c.get(path)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:300]}"
    return r.json()


def _total(c: Any, department: str) -> Decimal:
    bill = _get(c, f"/api/departments/{department}")["bill"]
    assert bill is not None, "no bill: usage was collected for 2026-11"
    return Decimal(bill["total"])


def _chargeback_total(c: Any, department: str) -> str:
    data = _get(c, "/api/finance/chargeback")
    header = data["header"]
    row = next(r for r in data["rows"] if department in r)
    return str(row[header.index(next(h for h in header if "total" in h.lower()))])


def _cli_total(estate: Path, department: str) -> Decimal:
    """The department's November total as ``govcloud report chargeback`` prints it now."""
    out = govcloud("report", "chargeback", "--period", "2026-11", "-o", "json",
                   estate=estate, env=NOW, check=True)
    rows = json.loads(out.stdout)["departments"]
    return Decimal(next(r["total"] for r in rows if r["department"] == department))


def _row_servers(c: Any, department: str) -> int:
    """The servers column of the department's row on the estate overview page (HTML: its
    rows are a fragment kept per change)."""
    page = c.get("/estate")
    assert page.status_code == 200
    found = re.search(rf'<a href="/departments/{department}">{department}</a></td><td>[^<]*'
                      r'</td><td>[^<]*</td><td class="num">(\d+)</td>', page.text)
    assert found, page.text[:1000]
    return int(found.group(1))


def test_an_apply_then_a_usage_collection_show_at_once(site: Site) -> None:
    op = sign_in(site, "op.operator")
    before = _get(op, "/api/departments/finance")
    servers_before = _get(op, "/api/estate")["servers"]
    row_before = _row_servers(op, "finance")
    bill_before = _total(op, "finance")
    assert "fin-cache-probe" not in {s["name"] for s in before["servers"]}

    edit(site.estate / "plans" / "finance.yaml", "\nwebsites:", f"{NEW_SERVER}\nwebsites:")
    # Not applied yet, and the files are not looked at again until the store changes: the
    # kept figures are served (they are still the cloud's).
    assert _get(op, "/api/departments/finance") == before

    # Applied half an hour later: the apply collects the month's usage to that hour. (Not
    # with the clock set back to an earlier day: a month recorded further is never shrunk.)
    govcloud("apply", "--yes", "--no-services", estate=site.estate, check=True,
             env={"GOVCLOUD_NOW": "2026-11-26T12:30:00Z"})
    after = _get(op, "/api/departments/finance")
    assert "fin-cache-probe" in {s["name"] for s in after["servers"]}, after["servers"]
    assert after["quota"]["instances"]["used"] == before["quota"]["instances"]["used"] + 1
    assert _get(op, "/api/estate")["servers"] == servers_before + 1
    assert _row_servers(op, "finance") == row_before + 1
    applied = _total(op, "finance")
    assert applied != bill_before
    assert applied == _cli_total(site.estate, "finance")

    govcloud("usage", "collect", "--period", "2026-11", estate=site.estate, check=True,
             env={"GOVCLOUD_NOW": "2026-11-28T00:00:00Z"})  # to the 28th
    collected = _total(op, "finance")
    assert collected > applied
    assert collected == _cli_total(site.estate, "finance")


def test_an_approval_through_the_portal_shows_at_once(site: Site) -> None:
    member = sign_in(site, "li.member")
    cores = _get(member, "/api/departments/finance")["quota"]["cores"]["quota"]
    token = csrf_of(member.get("/").text)  # type: ignore[attr-defined]
    filed = member.post("/api/departments/finance/requests",  # type: ignore[attr-defined]
                        json={"kind": "quota", "reason": "cache test",
                              "quota": {"cores": cores + 8}},
                        headers={"x-csrf-token": token})
    assert filed.status_code == 201, filed.text[:500]
    assert filed.json()["state"] == "waiting"
    assert _get(member, "/api/departments/finance")["quota"]["cores"]["quota"] == cores

    op = sign_in(site, "op.operator")
    assert _get(op, "/api/departments/finance")["quota"]["cores"]["quota"] == cores
    token = csrf_of(op.get("/").text)  # type: ignore[attr-defined]
    done = op.post(f"/api/departments/finance/requests/{filed.json()['id']}/approve",  # type: ignore[attr-defined]
                   json={"reason": "ok"}, headers={"x-csrf-token": token})
    assert done.status_code == 200, done.text[:500]
    assert done.json()["state"] == "approved"

    assert _get(member, "/api/departments/finance")["quota"]["cores"]["quota"] == cores + 8
    assert _get(op, "/api/departments/finance")["quota"]["cores"]["quota"] == cores + 8


def test_a_changed_price_book_shows_within_the_recheck(site: Site,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(context, "FILES_RECHECK", 0.0)  # the files are looked at every time
    fin = sign_in(site, "fin.finance")
    bill_before = _total(fin, "finance")
    row_before = _chargeback_total(fin, "finance")
    edit(site.estate / "prices.yaml", "{from: 2026-01, yuan_per_kwh: 0.85}",
         "{from: 2026-01, yuan_per_kwh: 1.85}")
    assert _total(fin, "finance") > bill_before
    assert _chargeback_total(fin, "finance") != row_before


def test_each_department_gets_its_own_figures(site: Site) -> None:
    op = sign_in(site, "op.operator")
    member = sign_in(site, "li.member")
    estate_rows = {r["id"]: r for r in _get(op, "/api/estate")["rows"]}
    for department in ("health", "finance", "health"):  # made, then kept
        page = _get(op, f"/api/departments/{department}")
        assert page["id"] == department
        assert len(page["servers"]) == estate_rows[department]["servers"]
        assert page["bill"]["department"] == department
    own = _get(member, "/api/departments/finance")
    assert own == _get(op, "/api/departments/finance")
    assert own != _get(op, "/api/departments/health")
    assert member.get("/api/departments/health").status_code == 403  # type: ignore[attr-defined]
