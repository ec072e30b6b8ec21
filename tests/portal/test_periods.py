"""A month in a path (statements, their downloads, closing, a department's statement) that
is no calendar month Python can hold, or is written with other digits than 0-9, is a 404 with
one sentence: never a 500 (0000-01 failed in ``Month.start`` with "year 0 is out of range")."""

from __future__ import annotations

import pytest

from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in

BAD = ("0000-01", "9999-12", "१९९९-10", "2026-13", "2026-00", "x" * 300)


@pytest.mark.parametrize("period", BAD)
def test_a_month_out_of_range_is_a_404_everywhere(site: Site, period: str) -> None:
    fin = sign_in(site, account("finance"))
    for path in (f"/finance/statements/{period}/chargeback.csv",
                 f"/finance/statements/{period}/chargeback.xlsx",
                 f"/finance/statements/{period}/close"):
        r = fin.get(path)
        assert r.status_code == 404, (path, r.status_code, r.text[:300])
        assert "YYYY-MM" in r.text and "Traceback" not in r.text
    closed = fin.post(f"/api/finance/statements/{period}/close", json={},
                      headers={"x-csrf-token": csrf_of(fin.get("/").text)})
    assert closed.status_code == 404 and "YYYY-MM" in closed.json()["error"]
    member = sign_in(site, account("member"))
    r = member.get(f"/departments/{OWN}/statements/{period}.html")
    assert r.status_code == 404 and "Traceback" not in r.text


@pytest.mark.parametrize("text", ["0000-01", "9999-12", "1969-12", "२०२६-10", "2026-1"])
def test_month_parse_refuses_what_it_cannot_hold(text: str) -> None:
    with pytest.raises(GovcloudError, match="is not a month"):
        Month.parse(text)


def test_month_parse_takes_the_years_it_can_hold() -> None:
    assert str(Month.parse(" 1970-01 ")) == "1970-01"
    assert Month.parse("9998-12").end.year == 9999
