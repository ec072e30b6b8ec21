"""#23 "Finance in the browser": any month's savings and unit costs at ``?period=`` (closed
months included, as the chargeback already was), the same figures as ``govcloud report``
prints, in the person's language. Before, /finance/savings ignored ?period= and unit costs
had no page. (The chart of a department's last twelve bills: tests/portal/test_records.py.)"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html import unescape

import pytest

from tests.portal.conftest import Site, account, sign_in
from tests.support.cli import NOW, govcloud


@pytest.fixture(scope="module")
def october(site: Site) -> str:
    """October's usage, collected and the month closed: a closed month's figures."""
    govcloud("usage", "collect", "--period", "2026-10", estate=site.estate, env=NOW,
             check=True)
    govcloud("statement", "close", "--period", "2026-10", estate=site.estate,
             env=NOW, check=True)
    return "2026-10"


def _cli(site: Site, kind: str, period: str) -> dict:
    return json.loads(govcloud("report", kind, "--period", period, "-o", "json",
                               estate=site.estate, env=NOW, check=True).stdout)


def test_savings_of_a_closed_month_at_period(site: Site, october: str) -> None:
    c = sign_in(site, account("finance"))
    data = c.get(f"/api/finance/savings?period={october}").json()
    assert data["period"] == october and data["next"] == "2026-11"
    cli = _cli(site, "savings", october)
    assert data["departments"] == cli["departments"]
    assert data != c.get("/api/finance/savings").json()  # not this month's figures
    page = c.get(f"/finance/savings?period={october}&lang=en").text
    assert f"Savings {october}" in page
    assert 'href="/finance/savings?period=2026-09"' in page
    assert 'href="/finance/savings?period=2026-11"' in page
    assert f'href="/finance/unit-costs?period={october}"' in page


def test_unit_costs_page_in_both_languages(site: Site, october: str) -> None:
    c = sign_in(site, account("finance"))
    data = c.get(f"/api/finance/unit-costs?period={october}").json()
    assert data["period"] == october
    cli = _cli(site, "unit-costs", october)
    assert data["items"] == cli["items"]
    en = c.get(f"/finance/unit-costs?period={october}&lang=en")
    assert en.status_code == 200 and f"Unit costs {october}" in en.text
    assert "Cost per unit" in en.text and "Paid by departments" in en.text
    zh = c.get(f"/finance/unit-costs?period={october}&lang=zh").text
    assert "单位成本（元/单位）" in zh and "每个计费项每单位" in zh and "防病毒点数" in zh
    assert "Cost per unit" not in zh and "antivirus_seat" not in zh
    # every per-unit figure is shown with the decimals that multiply back to its cost
    rows = re.findall(r"<tr><th scope=\"row\">([^<]+)</th>(.*?)</tr>", en.text)
    checked = 0
    for item, cells in rows:
        nums = [unescape(v).replace(",", "") for v in re.findall(r'<td class="num">([^<]*)</td>',
                                                                  cells)]
        if item.startswith("(") or not nums[0] or not nums[6]:
            continue
        units, cost, per_unit = Decimal(nums[0]), Decimal(nums[5]), Decimal(nums[6])
        assert abs(units * per_unit - cost) < Decimal("0.005"), item
        checked += 1
    assert checked >= 5


def test_a_closed_months_chargeback_says_who_closed_it_when_and_its_price_book(
        site: Site, october: str) -> None:
    c = sign_in(site, account("auditor"))
    data = c.get(f"/api/finance/chargeback?period={october}").json()
    assert data["closed_by"] and data["price_book"]["digest"]
    for lang, closed in (("en", "Closed"), ("zh", "结账时间")):
        page = c.get(f"/finance/chargeback?period={october}&lang={lang}").text
        assert f"<dt>{closed}</dt>" in page and data["closed_by"] in page
        assert data["price_book"]["digest"] in page
        assert data["closed_at"] not in page  # a time in the page's zone, not the raw record
    assert "<dt>Closed</dt>" not in c.get("/finance/chargeback?lang=en").text  # still open
