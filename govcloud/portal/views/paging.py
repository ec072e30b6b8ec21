"""Lists that scale: what a list's query string asks for (``?q=`` a search, ``?page=``) and
the page of the list it gets, with how many rows match, which page it is and the links to the
others (the same filters kept). Every row is reachable, page by page; the CSV of a list is
every row that matches, not one page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from govcloud.portal.views.results import Data, Table

PER_PAGE = 50
MAX_PAGE = 10**6


@dataclass(frozen=True)
class Asked:
    """A list's search text, page (from 1) and the other filters it keeps in its links."""

    q: str = ""
    page: int = 1
    filters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, query: dict[str, str] | None, *keep: str) -> Asked:
        """From the query string: ``q``, ``page`` (anything but a number is page 1; a number
        past the last page is the last page, ``paged``) and the parameters named in ``keep``."""
        query = query or {}
        page = str(query.get("page", "1"))
        number = (int(page) if len(page) < 7 else MAX_PAGE) \
            if page.isascii() and page.isdigit() else 1
        return cls(_text(query.get("q", "")), min(max(number, 1), MAX_PAGE),
                   tuple((k, _text(query[k])) for k in keep if _text(query.get(k, ""))))

    @property
    def limit(self) -> int:
        return PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def link(self, page: int | None = None) -> str:
        """The query string of this list's page ``page`` (without one: the CSV's, all
        pages)."""
        pairs = ([("q", self.q)] if self.q else []) + list(self.filters)
        if page is not None and page > 1:
            pairs.append(("page", str(page)))
        return "?" + urlencode(pairs) if pairs else ""

    def matches(self, *texts: Any) -> bool:
        """Whether the search text is in one of ``texts`` (any letter case); no search: all."""
        q = self.q.casefold()
        return not q or any(q in str(x).casefold() for x in texts if x is not None)


def _text(value: object) -> str:
    """A query parameter as a search or filter takes it: without control characters (no
    database stores a NUL in text), trimmed, at most 200 characters."""
    return "".join(c for c in str(value) if c >= " " and c != "\x7f").strip()[:200]


def window(asked: Asked, total: int) -> Data:
    """Which page of ``total`` matching rows this is, and the links to the pages around it."""
    pages, page = max(1, -(-total // asked.limit)), asked.page
    return {"total": total, "page": page, "pages": pages, "per_page": asked.limit,
            "q": asked.q, "filters": dict(asked.filters),
            "previous": asked.link(min(page - 1, pages)) or "?" if page > 1 else None,
            "next": asked.link(page + 1) if page < pages else None,
            "csv": asked.link()}


def paged(rows: Sequence[Any], asked: Asked) -> tuple[list[Any], Data]:
    """The rows of the page asked for (of rows already filtered; past the last page, the
    last page's), and its window."""
    last = max(1, -(-len(rows) // asked.limit))
    if asked.page > last:
        asked = replace(asked, page=last)
    return list(rows[asked.offset:asked.offset + asked.limit]), window(asked, len(rows))


def table(filename: str, columns: Sequence[tuple[str, Callable[[Data], Any]]],
          rows: Sequence[Data], words: Sequence[str] = ()) -> Table:
    """A list's CSV: a column per (header, how to read it from a row); the columns named in
    ``words`` hold words written in the person's language (a state, a kind)."""
    cells = [[read(r) for _, read in columns] for r in rows]
    at = {j for j, (h, _) in enumerate(columns) if h in words}
    return Table(filename, [h for h, _ in columns], cells,
                 frozenset((i, j) for i in range(len(cells)) for j in at))
