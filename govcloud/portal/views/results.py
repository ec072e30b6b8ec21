"""What a view returns besides its data (a ``dict``, which feeds both the page's template and
the API's JSON): the page to see after a form post, what an API call made, a file to
download; and ``NotFound``, raised when a path names something that does not exist."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govcloud.errors import GovcloudError

Data = dict[str, Any]


class NotFound(GovcloudError):
    """A path names something that does not exist (a department, a record)."""


class BadBody(GovcloudError):
    """A post's body is not what the route takes at all (e.g. JSON that is not an object):
    400."""


@dataclass(frozen=True)
class Amiss:
    """A page's query is wrong (a filter that is no day): the page shows ``data`` with
    ``error`` above it and its form kept to fix it (400); an API call gets the error alone."""

    data: Data
    error: GovcloudError


@dataclass(frozen=True)
class Redirect:
    """After a form post: the page to see next (303 See Other)."""

    url: str
    status: int = 303


@dataclass(frozen=True)
class Created:
    """An API call made something: its data, 201."""

    data: Data


@dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    body: bytes
    inline: bool = False  # opened in the browser (a printable page), not saved


@dataclass(frozen=True)
class Table:
    """A CSV download for people: the endpoint writes its header and its ``words`` (the
    cells, as (row, column), that are words such as a pool or "(idle)", not data) in the
    person's language (``i18n``), the rest as it is."""

    filename: str
    header: list[str]
    rows: list[list[Any]]
    words: frozenset[tuple[int, int]] = frozenset()

    def download(self, t: Callable[[str], str]) -> Download:
        rows = [[t(v) if (i, j) in self.words else v for j, v in enumerate(row)]
                for i, row in enumerate(self.rows)]
        return Download(self.filename, "text/csv; charset=utf-8",
                        csv_body([t(h) for h in self.header], rows))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Workbook:
    """An XLSX download for people (``govcloud report ... -o xlsx``'s workbook, made by the
    same code): the endpoint names its sheets, columns and the words of its idle and total
    rows in the person's language; the figures and the assumptions as they are."""

    filename: str
    sheets: list[tuple[str, tuple[list[str], list[list[Any]]]]]
    notes: list[str]

    def download(self, t: Callable[[str], str], chinese: bool) -> Download:
        from govcloud.reports.tables import title_in
        from govcloud.reports.xlsx import workbook

        def label(code: str) -> str:  # a pool's share column is headed by the pool's name
            return title_in(code, chinese) or t(code)

        return Download(self.filename, XLSX,
                        workbook(self.sheets, self.notes, active=self.sheets[0][0],
                                 label=label, words=t))


def csv_body(header: list[str], rows: list[list[Any]]) -> bytes:
    """A CSV file as a spreadsheet opens it: UTF-8 with a byte-order mark."""
    buf = io.StringIO("\ufeff")
    buf.seek(0, io.SEEK_END)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def no_department(department: str) -> NotFound:
    return NotFound(f"no department {department!r}", "choose one from the list")
