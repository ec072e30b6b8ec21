"""The finance workbook: one sheet per report, plus the traceability sheets and assumptions.

Money cells are numbers (yuan, two decimals, #,##0.00) so finance can sum them; the totals
rows are the same figures as the JSON report.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from govcloud.errors import MissingExtra
from govcloud.reports.tables import Percent, Table, title

MONEY = "#,##0.00"
PERCENT = "0.0%"


def _same(text: str) -> str:
    return text


def workbook(sheets: list[tuple[str, Table]], notes: list[str], active: str = "",
             label: Callable[[str], str] = title, words: Callable[[str], str] = _same) -> bytes:
    """The workbook's bytes. ``label`` gives a column's title from its code (both languages
    for the command line; the portal passes the person's language), ``words`` the sheets' own
    names, the assumptions sheet's and the words of the idle and total rows."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError as exc:
        raise MissingExtra("the xlsx output", "xlsx", "openpyxl",
                           "use --output csv") from exc

    wb = Workbook()
    blank = wb.active  # a new workbook starts with one empty sheet
    if blank is not None:
        wb.remove(blank)
    for name, (header, rows) in sheets:
        _sheet(wb.create_sheet(words(name)), header, rows, label, words)
    ws = wb.create_sheet(words("Assumptions"))
    ws.append([words("assumption")])
    ws["A1"].font = Font(bold=True)
    for n in notes:
        ws.append([n])
    ws.column_dimensions["A"].width = 120
    if words(active) in wb.sheetnames:
        wb.active = wb.sheetnames.index(words(active))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet(ws: Any, header: list[str], rows: list[list[Any]], label: Callable[[str], str],
           words: Callable[[str], str]) -> None:
    """One report's sheet: its titled header, its rows (the idle and total rows' words
    through ``words``, in bold), money and percent formats, widths, frozen panes, filters."""
    from openpyxl.styles import Font, PatternFill

    bold = Font(bold=True)
    ws.append([label(h) for h in header])
    for cell in ws[1]:
        cell.font = bold
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in rows:
        totals = str(row[0]).startswith("(")  # "(idle)", "(total)"
        ws.append([_cell(words(v) if totals and j < 2 and isinstance(v, str) else v)
                   for j, v in enumerate(row)])
        if totals:
            for cell in ws[ws.max_row]:
                cell.font = bold
    for r, row in enumerate(rows, start=2):
        for c, v in enumerate(row, start=1):
            if isinstance(v, Percent):
                ws.cell(row=r, column=c).number_format = PERCENT
            elif isinstance(v, Decimal) or (isinstance(v, float)
                                            and _is_money(header[c - 1])):
                ws.cell(row=r, column=c).number_format = MONEY
    for i, code in enumerate(header, start=1):
        letter = ws.cell(row=1, column=i).column_letter
        longest = max([len(label(code))] + [len(str(r[i - 1])) for r in rows[:200]])
        ws.column_dimensions[letter].width = min(max(10, longest + 2), 60)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = ws.dimensions


def _is_money(name: str) -> bool:
    return not any(w in name for w in ("gb", "vcpu", "servers", "seats", "volumes", "websites",
                                       "quota", "util", "per_unit"))


def _cell(v: Any) -> Any:
    if isinstance(v, Decimal | Percent):
        return float(v)
    return "" if v is None else v
