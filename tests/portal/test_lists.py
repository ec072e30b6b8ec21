"""Lists that scale (#23, cases 11 and 12). The audit trail is found by action, department,
person, days and text, a page at a time (the page says how many records match and which page
it is), every record reachable, exported as CSV, sign-ins hidden unless asked for, each
request a link; the API's /api/audit takes the same parameters. The departments, a
department's requests and the queue are searched and paged on the server, with CSV; an
oversight role's home page is a summary with links, not the list of departments; the
navigation counts what waits for the person and their new notices; the notices page shows
what happened to the requests of the person's department since they last looked.

On the old main the audit page showed the newest 200 records and nothing more: after 160
sign-ins the records of request #1 could not be reached."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.portal.views import paging
from govcloud.requests import decisions
from tests.portal.conftest import OTHER, OWN, Site, account, sign_in

SIGN_INS = 160


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _pages(c: Any, path: str) -> list[dict[str, Any]]:
    """Every record of the API's audit, page by page, following the paging's next link."""
    out: list[dict[str, Any]] = []
    query = "?sign_ins=1"
    while True:
        body = c.get(path + query).json()
        out += body["entries"]
        if body["paging"]["next"] is None:
            return out
        query = body["paging"]["next"]


@pytest.fixture(scope="module")
def signed_in(site: Site) -> Site:
    """160 sign-ins (each with its sign-out) after the requests were filed (the quoted
    case: more than the 200 newest records the old page showed)."""
    store = site.store()
    try:
        for i in range(SIGN_INS):
            name = account("member")
            trail.append(store, name, "sign-in", name, OWN, None, {"n": i}, "", "portal")
            trail.append(store, name, "sign-out", name, OWN, None, {"n": i}, "", "portal")
    finally:
        store.close()
    return site


def test_every_audit_record_is_reachable_page_by_page(signed_in: Site) -> None:
    """After 160 sign-ins the records of request #1 are reachable: the API pages through
    every record (50 a page), and the page says how many match and which page it is."""
    c = sign_in(signed_in, account("auditor"))
    first = c.get("/api/audit?sign_ins=1").json()
    every = _pages(c, "/api/audit")
    assert [e["seq"] for e in every] == list(range(first["records"], 0, -1))
    assert first["paging"]["total"] == first["records"] > 200 and len(first["entries"]) == 50
    own = signed_in.requests[OWN]
    assert any(e["subject"] == f"request {own}" and e["action"] == "request new"
               for e in every)
    page = c.get("/audit?lang=en&sign_ins=1&page=2").text
    assert f"{first['records']} found; page 2 of {-(-first['records'] // 50)}." in page
    pages = first["paging"]["pages"]
    beyond = c.get("/api/audit?sign_ins=1&page=999").json()
    assert beyond["entries"] == [] and beyond["paging"]["previous"] == \
        f"?sign_ins=1&page={pages}"  # back to the last page, not to page 998


def test_sign_ins_are_hidden_unless_asked_for(signed_in: Site) -> None:
    c = sign_in(signed_in, account("auditor"))
    shown = c.get("/api/audit").json()
    assert shown["entries"] and not any(e["action"].startswith("sign-")
                                        for e in shown["entries"])
    assert shown["paging"]["total"] <= shown["records"] - 2 * SIGN_INS
    # the request's record is on the first page now, and a link to the request
    own = signed_in.requests[OWN]
    page = c.get("/audit?lang=en").text
    assert f'href="/departments/{OWN}/requests/{own}"' in page
    assert 'name="sign_ins"' in page and "Show sign-ins" in page
    asked = c.get("/api/audit?action=sign-in").json()
    assert asked["paging"]["total"] >= SIGN_INS
    assert {e["action"] for e in asked["entries"]} == {"sign-in"}


def test_audit_filters_and_search(signed_in: Site) -> None:
    c = sign_in(signed_in, account("auditor"))
    by_action = c.get("/api/audit?action=request%20new").json()
    assert {e["subject"] for e in by_action["entries"]} == {
        f"request {n}" for n in signed_in.requests.values()}
    by_department = c.get(f"/api/audit?action=request%20new&department={OTHER}").json()
    assert [e["department"] for e in by_department["entries"]] == [OTHER]
    by_person = c.get(f"/api/audit?person={account('operator')}&action=request%20new").json()
    assert [e["subject"] for e in by_person["entries"]] == [
        f"request {signed_in.requests[OTHER]}"]
    searched = c.get(f"/api/audit?q={OTHER.upper()}-MATRIX").json()  # the request's reason
    assert searched["entries"] and all(OTHER in (e["reason"] + str(e["after"])).lower()
                                       or e["department"] == OTHER
                                       for e in searched["entries"])
    # the days are the estate's (Asia/Shanghai): 26 November there is 16:00 UTC the 25th to
    # 16:00 UTC the 26th; the sign-ins were recorded at noon UTC the 26th, the estate was
    # built on 1 January
    days = c.get("/api/audit?sign_ins=1&from=2026-11-26&to=2026-11-26").json()
    assert days["paging"]["total"] >= 2 * SIGN_INS
    assert all("2026-11-25T16" <= e["at"] < "2026-11-26T16" for e in days["entries"])
    assert c.get("/api/audit?sign_ins=1&from=2026-11-27").json()["paging"]["total"] == 0
    early = c.get("/api/audit?sign_ins=1&to=2026-11-25").json()
    assert 0 < early["paging"]["total"] == early["records"] - days["paging"]["total"]
    for day in ("from=26.11.2026", "to=9999-12-31", "from=0001-01-01"):
        bad = c.get(f"/api/audit?{day}")
        assert bad.status_code == 404 and "YYYY-MM-DD" in bad.json()["error"], day
    odd = c.get("/api/audit?q=%00&page=-3&department=%00")  # nothing a database refuses
    assert odd.status_code == 200 and odd.json()["paging"]["page"] == 1


def test_audit_csv_is_every_matching_record(signed_in: Site) -> None:
    c = sign_in(signed_in, account("auditor"))
    rows = _csv(c.get("/audit.csv?sign_ins=1&action=sign-in&lang=en"))
    assert rows[0][:4] == ["number", "time", "who", "action"]
    assert len(rows) - 1 >= SIGN_INS  # all of them, not one page
    news = _csv(c.get(f"/audit.csv?action=request%20new&department={OWN}&lang=en"))
    assert [r[4] for r in news[1:]] == [f"request {signed_in.requests[OWN]}"]
    zh = _csv(c.get(f"/audit.csv?action=request%20new&department={OWN}&lang=zh"))
    assert zh[0][0] != "number" and zh[1][3] != "request new"  # headers and actions in Chinese
    assert sign_in(signed_in, account("operator")).get("/audit.csv").status_code == 403


def test_departments_are_searched_and_paged(site: Site,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    c = sign_in(site, account("finance"))
    with engine.records(site.estate) as (est, _):
        ids = sorted(est.plans)
    monkeypatch.setattr(paging, "PER_PAGE", 2)
    first = c.get("/api/departments").json()
    assert [d["id"] for d in first["departments"]] == ids[:2]
    assert first["paging"]["total"] == len(ids) and first["paging"]["next"] == "?page=2"
    seen = [d["id"] for n in range(1, first["paging"]["pages"] + 1)
            for d in c.get(f"/api/departments?page={n}").json()["departments"]]
    assert seen == ids
    # past the last page (found trying #24: page 999 of 1, empty, its "previous" 998): the
    # last page; a huge number too, and anything not a number is the first
    pages = first["paging"]["pages"]
    last = c.get(f"/api/departments?page={pages}").json()
    for beyond in (pages + 1, 999, 1000000, "99999999999999999999999"):
        got = c.get(f"/api/departments?page={beyond}").json()
        assert got == last, beyond
    for odd in ("-1", "abc", "0"):
        assert c.get(f"/api/departments?page={odd}").json() == first, odd
    assert f"page {pages} of {pages}." in c.get("/departments?page=999&lang=en").text
    found = c.get(f"/api/departments?q={OTHER.upper()}").json()
    assert [d["id"] for d in found["departments"]] == [OTHER]
    page = c.get(f"/departments?q={OTHER}&lang=en").text
    assert "1 found; page 1 of 1." in page and f'href="/departments.csv?q={OTHER}"' in page
    rows = _csv(c.get(f"/departments.csv?q={OTHER}&lang=en"))
    assert rows[0][0] == "id" and [r[0] for r in rows[1:]] == [OTHER]
    monkeypatch.setattr(paging, "PER_PAGE", 50)
    assert len(_csv(c.get("/departments.csv"))) - 1 == len(ids)
    # a member sees only their own department, in the list and in its CSV
    m = sign_in(site, account("member"))
    assert [r[0] for r in _csv(m.get("/departments.csv"))[1:]] == [OWN]


def test_oversight_home_is_a_summary(site: Site) -> None:
    """The operator's home page counts the departments and links to the list: it lists
    none of them, so it does not grow with the estate."""
    with engine.records(site.estate) as (est, _):
        ids = sorted(est.plans)
    for role in ("operator", "finance", "auditor"):
        page = sign_in(site, account(role)).get("/?lang=en").text
        assert "<table" not in page
        assert f'<a href="/departments">{len(ids)} departments</a>' in page
        assert not any(f'href="/departments/{d}"' in page for d in ids)
    member = sign_in(site, account("member")).get("/?lang=en").text
    assert f'href="/departments/{OWN}"' in member
    assert f'href="/departments/{OWN}/requests"' in member


def test_requests_and_queue_are_searched_paged_and_exported(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    c = sign_in(site, account("operator"))
    own = site.requests[OWN]
    listed = c.get(f"/api/departments/{OWN}/requests?q={OWN}-MATRIX").json()
    assert [r["id"] for r in listed["requests"]] == [own]
    assert c.get(f"/api/departments/{OWN}/requests?q=nothing-like-it").json()[
        "paging"]["total"] == 0
    assert c.get(f"/api/departments/{OWN}/requests?state=rejected").json()["requests"] == []
    assert c.get(f"/api/departments/{OWN}/requests?q={own}").json()["requests"][0]["id"] == own
    monkeypatch.setattr(paging, "PER_PAGE", 1)
    both = [c.get(f"/api/departments/{d}/requests").json() for d in (OWN, OTHER)]
    assert all(b["paging"]["total"] == len(b["requests"]) == 1 for b in both)
    rows = _csv(c.get(f"/departments/{OWN}/requests.csv?lang=en"))
    assert rows[0][:3] == ["number", "department", "kind"] and rows[1][0] == str(own)
    # the queue: what waits for an operator (not the request they filed themselves)
    queue = c.get("/requests?lang=en").text
    assert "1 found; page 1 of 1." in queue
    assert f'href="/departments/{OWN}/requests/{own}"' in queue
    assert f'href="/departments/{OTHER}/requests/{site.requests[OTHER]}"' not in queue
    assert "nothing" not in c.get("/requests?q=nothing&lang=en").text.split("found")[0][-5:]
    assert "0 found" in c.get("/requests?q=nothing&lang=en").text
    assert [r[0] for r in _csv(c.get("/requests.csv?lang=en"))[1:]] == [str(own)]
    # a member cannot read another department's requests, nor their CSV
    m = sign_in(site, account("member"))
    assert m.get(f"/departments/{OTHER}/requests.csv").status_code == 403


def _count(page: str, link: str) -> int:
    found = re.search(rf'<a href="{link}">[^<]*(?:<span class="count">(\d+)</span>)?</a>',
                      page)
    assert found, f"no link to {link}"
    return int(found.group(1) or 0)


def test_pending_counts_and_notices(site: Site) -> None:
    """The navigation counts what waits for an operator; an approver of the department is
    told of its member's request, and the member of the decision, each once; a member of
    another department is told nothing of it."""
    operator = sign_in(site, account("operator"))
    page = operator.get("/?lang=en").text
    assert _count(page, "/requests") == 1  # the finance request (not the one they filed)
    assert "1 requests wait for your decision." in page
    approver, member = sign_in(site, account("approver")), sign_in(site, account("member"))
    assert _count(approver.get("/").text, "/notices") == 1  # the member's "request new"
    assert _count(member.get("/").text, "/notices") == 0  # their own doing
    seen = approver.get("/notices?lang=en").text
    assert f'href="/departments/{OWN}/requests/{site.requests[OWN]}"' in seen
    assert f"requests/{site.requests[OTHER]}" not in seen  # another department's
    assert _count(approver.get("/").text, "/notices") == 0  # seen now
    with engine.records(site.estate) as (est, store):
        from govcloud.access import users

        decisions.approve(est, store, users.find(store, account("operator")),
                          site.requests[OWN], "fits the pool", "test")
    page = member.get("/?lang=en").text
    assert _count(page, "/notices") == 1
    told = member.get("/notices?lang=en").text
    assert "fits the pool" in told and "1 new since you last looked." in told
    assert _count(member.get("/").text, "/notices") == 0
    assert _count(operator.get("/").text, "/requests") == 0  # nothing waits any more
    notices = operator.get("/api/notices").json()
    assert notices["waiting_count"] == 0 and isinstance(notices["notices"], list)
