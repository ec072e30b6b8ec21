"""#23, "Translations": the finance workbook downloaded from the portal speaks the person's
language: its sheets, its column titles and the words of its idle and total rows. It was the
command line's bilingual workbook ("部门标识 Department id", sheets "Utilization",
"Assumptions") for everyone, in Chinese and in English alike."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from tests.portal.conftest import Site, account, sign_in

CJK = re.compile(r"[\u4e00-\u9fff]")


def _workbook(site: Site, lang: str) -> object:
    finance = sign_in(site, account("finance"))
    got = finance.get(f"/finance/chargeback.xlsx?lang={lang}")
    assert got.status_code == 200
    return load_workbook(io.BytesIO(got.content))


def _words(wb: object) -> list[str]:
    """Every sheet's name and column title, and the first two cells of each idle or total
    row (the cells the workbook writes as words)."""
    out: list[str] = []
    for ws in wb.worksheets:  # type: ignore[attr-defined]
        out.append(ws.title)
        out += [str(c.value) for c in ws[1]]
        for row in ws.iter_rows(min_row=2, values_only=True):
            if str(row[0]).startswith(("(", "（")):
                out += [str(v) for v in row[:2] if isinstance(v, str)]
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_workbook_speaks_the_persons_language(site: Site, lang: str) -> None:
    wb = _workbook(site, lang)
    words = _words(wb)
    names = [ws.title for ws in wb.worksheets]  # type: ignore[attr-defined]
    if lang == "zh":
        assert names[0] == "费用分摊" and "假设与口径" in names and "资源使用率" in names
        units = re.compile(r"vCPU|GiB|GB")  # the units a Chinese title keeps
        english = [w for w in words if re.search(r"[A-Za-z]{3,}", units.sub("", w))]
        assert not english, f"English left in the Chinese workbook: {english}"
        assert "部门标识" in words and "（合计）" in words
    else:
        assert names[0] == "Chargeback" and "Assumptions" in names
        chinese = [w for w in words if CJK.search(w)]
        assert not chinese, f"Chinese left in the English workbook: {chinese}"
        assert "Department id" in words and "(total)" in words
    totals = next(ws for ws in wb.worksheets)  # type: ignore[attr-defined]
    last = [c for c in totals.iter_rows(values_only=True)][-1]
    assert isinstance(last[-1], float) and last[-1] > 0  # the figures stay numbers
