"""A closed month: every figure of its reports, frozen with what it was computed from.

Pure. Closing stores the chargeback, the savings ledger, the utilization, the departments'
names, the price book's digest and the text of every price line the figures cite; a closed
month's reports render from this alone, so no later edit of prices or plans can change them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from govcloud.finance.chargeback import Statement
from govcloud.finance.period import Month
from govcloud.finance.savings import Ledger
from govcloud.finance.utilization import Utilization

_CITED = re.compile(r"([\w./-]+\.ya?ml):(\d+)")


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def cited_lines(texts: Iterable[str], files: dict[str, str]) -> dict[str, str]:
    """``file:line`` → the text of that line, for every price-book citation in ``texts``."""
    out: dict[str, str] = {}
    for t in texts:
        for name, line in _CITED.findall(t):
            if name in files:
                lines = files[name].splitlines()
                n = int(line)
                if 0 < n <= len(lines):
                    out[f"{name}:{n}"] = lines[n - 1].strip()
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Closing:
    """A closed month. ``period`` is the month (stored as YYYY-MM, parsed back when
    loaded); ``month`` is the same value, by its older name."""

    period: Month
    statement: Statement
    ledger: Ledger
    utilization: Utilization
    names: dict[str, tuple[str, str]]  # department → (name, English name)
    estate: str
    book_digest: str
    price_lines: dict[str, str]
    closed_at: str
    closed_by: str

    @property
    def month(self) -> Month:
        return self.period

    def as_dict(self) -> dict[str, Any]:
        return {"period": str(self.period), "statement": self.statement.as_dict(),
                "ledger": self.ledger.as_dict(), "utilization": self.utilization.as_dict(),
                "names": {k: list(v) for k, v in self.names.items()}, "estate": self.estate,
                "book_digest": self.book_digest, "price_lines": self.price_lines,
                "closed_at": self.closed_at, "closed_by": self.closed_by}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Closing:
        st = Statement.from_dict(d["statement"])
        return cls(Month.parse(d["period"], "period"), st, Ledger.from_dict(d["ledger"]),
                   Utilization.from_dict(d["utilization"]),
                   {k: (v[0], v[1]) for k, v in d["names"].items()}, d["estate"],
                   d["book_digest"], dict(d["price_lines"]), d["closed_at"], d["closed_by"])

    def body_digest(self) -> str:
        import json

        return digest(json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False).encode())
