"""The figures are kept between pages while nothing changes: reading a department's page (its
twelve months' bills read statements of months without usage) writes nothing that moves
``Store.version``. Before, each ``statement_for`` ran the finance tables' ``CREATE TABLE IF
NOT EXISTS``, which counted as writes: every page emptied the cache, and each department page
read the whole cloud and the month's chargeback again (0.5 s for 20 warm pages of a
50-department estate, against 2 ms once kept)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.portal.conftest import OWN, Site, account, sign_in


def test_a_second_department_page_reads_neither_the_cloud_nor_the_chargeback(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    portal: Any = site.app.state.portal  # type: ignore[attr-defined]
    member = sign_in(site, account("member"))
    first = member.get(f"/api/departments/{OWN}")
    assert first.status_code == 200 and first.json()["bill"] is not None
    version = portal.store.version()

    reads: list[int] = []
    read = portal.driver.read
    monkeypatch.setattr(portal.driver, "read", lambda *a, **k: reads.append(1) or read(*a, **k))
    from govcloud.books import accounts
    made: list[str] = []
    statement_for = accounts.statement_for
    monkeypatch.setattr(accounts, "statement_for",
                        lambda *a, **k: made.append(str(a[2])) or statement_for(*a, **k))

    again = member.get(f"/api/departments/{OWN}")
    assert again.status_code == 200
    assert again.json()["bills"] == first.json()["bills"]
    assert portal.store.version() == version  # the page wrote nothing a figure reads
    assert reads == [] and made == []  # kept: not read nor made again
    page = member.get(f"/departments/{OWN}")
    assert page.status_code == 200 and reads == [] and made == []


def test_after_a_change_a_month_s_statement_is_made_once_for_a_page(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """This month's bill and the twelve bills share the month's statement: after a change,
    a department page makes each month's statement once (it was made twice for this month)."""
    from govcloud.books import accounts

    portal: Any = site.app.state.portal  # type: ignore[attr-defined]
    member = sign_in(site, account("member"))
    assert member.get(f"/api/departments/{OWN}").status_code == 200
    made: list[str] = []
    statement_for = accounts.statement_for
    monkeypatch.setattr(accounts, "statement_for",
                        lambda *a, **k: made.append(str(a[2])) or statement_for(*a, **k))
    portal.store.execute("UPDATE applies SET holder = holder WHERE 0")  # a change
    page = member.get(f"/api/departments/{OWN}").json()
    assert page["bill"]["total"] == page["bills"][0]["total"]
    assert made and len(made) == len(set(made)), made
