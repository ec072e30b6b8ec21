"""The HTML report in real headless Chromium (no console error, charts drawn, screenshot not
blank, Chinese names present), and the XLSX workbook against the JSON reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import png_pixels, render
from tests.support.cli import govcloud

PAGE_FACTS = """({
    charts: document.querySelectorAll('svg.chart').length,
    bars: document.querySelectorAll('svg.chart rect.bar').length,
    nonzero: [...document.querySelectorAll('svg.chart rect.bar')]
              .filter(r => r.getBBox().width > 0).length,
    lines: document.querySelectorAll('svg.chart polyline.series').length,
    ids: [...document.querySelectorAll('svg.chart')].map(s => s.id),
    text: document.body.innerText,
    charset: document.characterSet,
    tables: document.querySelectorAll('table').length })"""


@pytest.mark.real
@pytest.mark.chromium
def test_html_report_renders_in_chromium(example: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    govcloud("report", "html", "--period", "2026-10", "--out", str(page), estate=example,
             check=True)
    text = page.read_text(encoding="utf-8")
    bare = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in bare and "https://" not in bare  # self-contained: nothing to fetch
    assert "<script" not in text and "<link" not in text
    rendered = render(page, PAGE_FACTS, tmp_path)
    found, shot = rendered.value, rendered.screenshot
    assert rendered.errors == []
    assert found["charset"] == "UTF-8"
    assert set(found["ids"]) >= {"chart-cost", "chart-savings", "chart-utilization",
                                 "chart-hosts"}
    assert found["bars"] > 40 and found["nonzero"] > 40
    assert found["lines"] == 4
    assert "青岛市财政局" in found["text"] and "青岛市公安局" in found["text"]
    (tmp_path / "report.png").write_bytes(shot)
    width, height, rows = png_pixels(shot)
    assert width >= 1000 and height >= 1000
    background = rows[0][:3]
    sample = [row for row in rows[::8]]
    inked = sum(1 for row in sample for x in range(0, len(row) - 4, 4 * 8)
                if row[x:x + 3] != background)
    total = sum(len(range(0, len(row) - 4, 4 * 8)) for row in sample)
    assert inked / total > 0.02, f"screenshot looks blank ({inked}/{total} pixels inked)"
    coloured = sum(1 for row in sample for x in range(0, len(row) - 4, 4 * 8)
                   if abs(row[x] - row[x + 2]) > 60)  # bars are blue, red, green
    assert coloured > 50


def _sheet_totals(ws: Any) -> dict[str, list[Any]]:
    """Rows by their first cell, columns by code name (the sheet's titles are in words)."""
    from govcloud.reports.tables import TITLES

    code = {t: c for c, t in TITLES.items()}
    rows = list(ws.iter_rows(values_only=True))
    header = [code.get(h, h) for h in rows[0]]
    return {str(r[0]): dict(zip(header, r, strict=True)) for r in rows[1:]}


def test_xlsx_totals_equal_the_json_reports(example: Path, tmp_path: Path) -> None:
    import openpyxl

    book = tmp_path / "finance.xlsx"
    govcloud("report", "chargeback", "--period", "2026-10", "-o", "xlsx", "--out", str(book),
             estate=example, check=True)
    wb = openpyxl.load_workbook(book)
    assert {"Utilization", "Chargeback", "Savings", "Assumptions"} <= set(wb.sheetnames)
    cb = json.loads(govcloud("report", "chargeback", "--period", "2026-10", "-o", "json",
                             estate=example, check=True).stdout)
    sv = json.loads(govcloud("report", "savings", "--period", "2026-10", "-o", "json",
                             estate=example, check=True).stdout)
    ut = json.loads(govcloud("report", "utilization", "--period", "2026-10", "-o", "json",
                             estate=example, check=True).stdout)
    c = _sheet_totals(wb["Chargeback"])
    assert f"{c['(total)']['total']:.2f}" == cb["platform_cost"]
    assert f"{c['(idle)']['total']:.2f}" == cb["idle"]
    for d in cb["departments"]:
        assert f"{c[d['department']]['total']:.2f}" == d["total"]
    assert f"{sum(c[d['department']]['total'] for d in cb['departments']):.2f}" == cb["charged"]
    s = _sheet_totals(wb["Savings"])
    assert f"{s['(total)']['saving']:.2f}" == sv["saving"]
    assert f"{s['(total)']['legacy_cost']:.2f}" == sv["legacy_total"]
    u = _sheet_totals(wb["Utilization"])
    assert sum(u[d["department"]]["vcpu"] for d in ut["departments"]) == \
        sum(d["allocated"]["vcpu"] for d in ut["departments"])
    assert u["finance"]["name"] == "青岛市财政局"
    # issue #12 case 8: percentages are numbers with a percent format, every sheet filters
    ws = wb["Utilization"]
    col = [c.value for c in ws[1]].index("vCPU使用率 vCPU utilization") + 1
    cell = ws.cell(row=2, column=col)
    assert isinstance(cell.value, float) and 0 < cell.value < 1 and cell.number_format == "0.0%"
    assert all(wb[n].auto_filter.ref for n in ("Utilization", "Chargeback", "Savings"))
    assert "部门 Department" in [c.value for c in wb["Chargeback"][1]]
    assert "list_value" not in [c.value for c in wb["Chargeback"][1]]
