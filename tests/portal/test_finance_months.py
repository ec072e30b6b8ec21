"""Issue #23 case 10: the chargeback page of any month at ``?period=YYYY-MM`` (a closed month
from its closed record, an unwritable or future month a 404 page in the person's language),
the printable statement opened in the browser with a title of the department and its cost
centre, and a message after closing a month."""

from __future__ import annotations

import json

import pytest

from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in
from tests.support.cli import NOW, govcloud


@pytest.fixture(scope="module")
def october(site: Site) -> str:
    """October's usage, collected (a whole month, so it can be closed)."""
    govcloud("usage", "collect", "--period", "2026-10", estate=site.estate, env=NOW,
             check=True)
    return "2026-10"


def _cli_rows(site: Site, period: str) -> list[dict[str, str]]:
    done = govcloud("report", "chargeback", "--period", period, "-o", "json",
                    estate=site.estate, env=NOW, check=True)
    return json.loads(done.stdout)["departments"]


def test_the_chargeback_page_shows_the_month_asked(site: Site, october: str) -> None:
    c = sign_in(site, account("finance"))
    data = c.get(f"/api/finance/chargeback?period={october}").json()
    assert data["period"] == october and data["next"] == "2026-11"
    cli = {d["department"]: d["total"] for d in _cli_rows(site, october)}
    assert {d["department"]: d["total"] for d in data["departments"]} == cli
    page = c.get(f"/finance/chargeback?period={october}&lang=en").text
    assert f"Chargeback {october}" in page
    assert 'href="/finance/chargeback?period=2026-09"' in page  # the month before
    assert 'href="/finance/chargeback?period=2026-11"' in page  # and after
    assert f'href="/finance/statements/{october}/chargeback.csv"' in page
    now = c.get("/api/finance/chargeback").json()
    assert now["period"] == "2026-11" and now["next"] == ""  # no link past this month
    listed = c.get("/finance/statements?lang=en").text
    assert f'href="/finance/chargeback?period={october}"' in listed  # seen, not only saved


@pytest.mark.parametrize("period", ["2026-12", "2027-01", "2026-13", "oct"])
def test_a_future_or_unwritable_month_is_a_404_in_the_persons_language(
        site: Site, period: str) -> None:
    c = sign_in(site, account("auditor"))
    r = c.get(f"/finance/chargeback?period={period}&lang=en")
    assert r.status_code == 404 and "Traceback" not in r.text
    assert ("has not begun" in r.text and "2026-11 or an earlier month" in r.text) \
        if period.startswith("2026-12") or period == "2027-01" else "YYYY-MM" in r.text
    zh = c.get(f"/finance/chargeback?period={period}&lang=zh")
    assert zh.status_code == 404 and ("尚未开始" in zh.text or "YYYY-MM" in zh.text)
    assert "has not begun" not in zh.text and "write the month" not in zh.text


def test_the_printable_statement_opens_in_the_browser(site: Site, october: str) -> None:
    c = sign_in(site, account("member"))
    r = c.get(f"/departments/{OWN}/statements/{october}.html")
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("inline;")
    assert r.headers["content-type"].startswith("text/html")
    assert "@media print" in r.text
    policy = r.headers["content-security-policy"]
    assert "style-src 'self' 'sha256-" in policy and "script-src" not in policy
    title = r.text.split("<title>")[1].split("</title>")[0]
    name = c.get(f"/api/departments/{OWN}").json()
    assert title.startswith(name["name"]) and october in title and "qingdao" not in title
    assert f"成本中心 Cost centre: {name['cost_centre']}" in r.text and name["cost_centre"]


def test_closing_says_so_and_the_closed_month_keeps_its_record(site: Site,
                                                              october: str) -> None:
    c = sign_in(site, account("finance"))
    before = c.get(f"/api/finance/chargeback?period={october}").json()["departments"]
    form = c.get(f"/finance/statements/{october}/close")
    r = c.post(f"/finance/statements/{october}/close", data={"csrf": csrf_of(form.text)})
    assert r.status_code == 303 and r.headers["location"] == \
        f"/finance/statements?closed={october}"
    said = c.get(r.headers["location"] + "&lang=en").text
    assert f"{october} is closed: its figures are frozen." in said and 'role="status"' in said
    assert "已结账：其数字已冻结" in c.get(r.headers["location"] + "&lang=zh").text
    assert 'role="status"' not in c.get("/finance/statements?closed=2099-01").text
    closed = c.get(f"/api/finance/chargeback?period={october}").json()  # its record
    assert closed["departments"] == before and closed["closed_by"] == account("finance")
    assert closed["price_book"]["digest"].startswith("sha256:")  # the prices it was closed with
