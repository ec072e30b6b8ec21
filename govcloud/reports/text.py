"""Plain-text tables for the terminal: columns line up Chinese names too (CJK characters take
two columns), numbers are right-aligned, money to the fen."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from govcloud.reports.tables import Percent


def width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain text table; ``align`` has one letter per column, ``r`` right-aligns it."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(width(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            pad = " " * (widths[i] - width(cell))
            right = i < len(align) and align[i] == "r"
            parts.append(pad + cell if right else cell + pad)
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cell(v: Any) -> str:
    """A value as the terminal shows it: money to the fen with separators."""
    if isinstance(v, Decimal):
        return f"{v:,.2f}"
    if isinstance(v, Percent):
        return f"{v * 100:.1f}%"
    if isinstance(v, float):
        return f"{v:,.6g}"
    return "" if v is None else str(v)


def csv_cell(v: Any) -> Any:
    """A value as CSV carries it: money to the fen without separators, None as empty."""
    if isinstance(v, Decimal):
        return f"{v:.2f}"
    if isinstance(v, Percent):
        return f"{v:.4f}"
    return "" if v is None else v


def columns(header: Sequence[str], rows: Sequence[Sequence[Any]], names: Sequence[str]
            ) -> tuple[list[str], list[list[Any]]]:
    """The named columns of a table, in the order of ``names``."""
    index = [list(header).index(n) for n in names]
    return [header[i] for i in index], [[r[i] for i in index] for r in rows]
