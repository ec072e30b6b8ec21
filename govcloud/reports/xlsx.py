"""The finance workbook: one sheet per report, plus the traceability sheets and assumptions.

Money cells are numbers (yuan, two decimals, #,##0.00) so finance can sum them; the totals
rows are the same figures as the JSON report.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from govcloud.errors import MissingExtra
from govcloud.reports.tables import Table

MONEY = "#,##0.00"


def workbook(sheets: list[tuple[str, Table]], notes: list[str], active: str = "") -> bytes:
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font, PatternFill
    except ImportError as exc:
        raise MissingExtra("the xlsx output", "xlsx", "openpyxl",
                           "use --output csv") from exc

    wb = Workbook()
    blank = wb.active  # a new workbook starts with one empty sheet
    if blank is not None:
        wb.remove(blank)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for title, (header, rows) in sheets:
        ws = wb.create_sheet(title)
        ws.append(header)
        for cell in ws[1]:
            cell.font = bold
            cell.fill = fill
        for row in rows:
            ws.append([_cell(v) for v in row])
            if str(row[0]).startswith("("):
                for cell in ws[ws.max_row]:
                    cell.font = bold
        for col in ws.iter_cols(min_row=2):
            for cell in col:
                if isinstance(cell.value, float) and _is_money(header[cell.column - 1]):
                    cell.number_format = MONEY
        for i, name in enumerate(header, start=1):
            letter = ws.cell(row=1, column=i).column_letter
            longest = max([len(str(name))] + [len(str(r[i - 1])) for r in rows[:200]])
            ws.column_dimensions[letter].width = min(max(10, longest + 2), 60)
        ws.freeze_panes = "C2"
    ws = wb.create_sheet("Assumptions")
    ws.append(["assumption"])
    ws["A1"].font = bold
    for n in notes:
        ws.append([n])
    ws.column_dimensions["A"].width = 120
    if active in wb.sheetnames:
        wb.active = wb.sheetnames.index(active)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _is_money(name: str) -> bool:
    return not any(w in name for w in ("gb", "vcpu", "servers", "seats", "volumes", "websites",
                                       "quota", "util"))


def _cell(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    return "" if v is None else v
