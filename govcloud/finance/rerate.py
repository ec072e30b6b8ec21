"""Re-rating an open month: what changed between the month as last rated and as rated now.

Pure. A rating is a month's statement (and savings) with the text of the price lines it
cites. The diff lists, per department, the total and every pool's share old → new, and why:
the rates, the pools' cost lines and the cited price lines that changed — a price line known
by what it prices and the month it takes effect (``units.vcpu from 2026-01``,
``pools.network from 2026-04``), not by its line number, so inserting a line elsewhere in
prices.yaml changes nothing — the usage that changed, and the savings the next close would
freeze.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import ZERO, Statement
from govcloud.finance.closing import digest
from govcloud.finance.period import Month
from govcloud.finance.savings import Ledger


@dataclass(frozen=True)
class Rating:
    """A month's statement as rated, with the price book it was rated with."""

    statement: Statement
    book_digest: str
    price_lines: dict[str, str]  # file:line → its text
    rated_at: str  # for the closed figures: when it was closed, and by whom
    rated_by: str
    how: str  # rerate | closed (the closed figures, kept when the month was reopened)
    ledger: Ledger | None = None  # the savings as rated (None: not recorded, older ratings)
    reopened: dict[str, str] | None = None  # closed figures: the reopen's at, by and reason

    def as_dict(self) -> dict[str, Any]:
        out = {"statement": self.statement.as_dict(), "book_digest": self.book_digest,
               "price_lines": self.price_lines, "rated_at": self.rated_at,
               "rated_by": self.rated_by, "how": self.how}
        if self.ledger is not None:
            out["ledger"] = self.ledger.as_dict()
        if self.reopened is not None:
            out["reopened"] = dict(self.reopened)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rating:
        return cls(Statement.from_dict(d["statement"]), d["book_digest"],
                   dict(d["price_lines"]), d["rated_at"], d["rated_by"], d["how"],
                   Ledger.from_dict(d["ledger"]) if d.get("ledger") else None,
                   dict(d["reopened"]) if d.get("reopened") else None)

    def baseline(self) -> str:
        """What this rating is, in words: when it was rated (or closed) and by whom."""
        text = f"as {_HOW.get(self.how, self.how)} at {self.rated_at} by {self.rated_by}"
        r = self.reopened
        if r:
            text += f" (reopened at {r['at']} by {r['by']}: {r['reason']})"
        return text

    def cited(self) -> dict[str, str]:
        """The cited price lines by identity (what they price, from which month) → text."""
        return identities(self.statement, self.ledger, self.price_lines)

    def digest(self) -> str:
        import json

        return digest(json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False).encode())


@dataclass(frozen=True)
class FigureChange:
    """One figure old → new (None: absent on that side)."""

    what: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"what": self.what, "old": _s(self.old), "new": _s(self.new)}


def _s(v: Any) -> Any:
    return str(v) if isinstance(v, Decimal) else v


@dataclass(frozen=True)
class DepartmentDiff:
    department: str
    old: Decimal
    new: Decimal
    lines: tuple[FigureChange, ...]  # per pool (and adjustment) share old → new
    usage: tuple[FigureChange, ...]  # per item units old → new

    @property
    def delta(self) -> Decimal:
        return self.new - self.old

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "old": str(self.old), "new": str(self.new),
                "delta": str(self.delta), "lines": [c.as_dict() for c in self.lines],
                "usage": [c.as_dict() for c in self.usage]}


@dataclass(frozen=True)
class Rerate:
    """What re-rating a month changed; ``period`` is its statement's month."""

    period: Month
    baseline: str  # what the month is compared with, in words
    departments: tuple[DepartmentDiff, ...]  # only those whose charge or usage changed
    rates: tuple[FigureChange, ...]
    cost_lines: tuple[FigureChange, ...]
    price_lines: tuple[FigureChange, ...]
    platform: FigureChange
    idle: FigureChange
    book: FigureChange  # price book digest
    savings: tuple[FigureChange, ...] = ()  # what the next close would freeze, old → new

    @property
    def changed(self) -> bool:
        return bool(self.departments or self.rates or self.cost_lines or self.price_lines
                    or self.savings or self.platform.old != self.platform.new
                    or self.idle.old != self.idle.new)

    def as_dict(self) -> dict[str, Any]:
        return {"period": str(self.period), "baseline": self.baseline, "changed": self.changed,
                "departments": [d.as_dict() for d in self.departments],
                "why": {"rates": [c.as_dict() for c in self.rates],
                        "cost_lines": [c.as_dict() for c in self.cost_lines],
                        "price_lines": [c.as_dict() for c in self.price_lines],
                        "price_book": self.book.as_dict()},
                "savings": [c.as_dict() for c in self.savings],
                "platform_cost": self.platform.as_dict(), "idle": self.idle.as_dict()}


def _changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FigureChange, ...]:
    return tuple(FigureChange(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
                 if old.get(k) != new.get(k))


_HOW = {"rerate": "re-rated", "closed": "closed"}


def diff(old: Rating | None, new: Rating) -> Rerate:
    """The month as ``new`` rates it against ``old`` (None: never rated, every figure new)."""
    o = old.statement if old is not None else None
    n = new.statement
    old_deps = {d.department: d for d in o.departments} if o else {}
    new_deps = {d.department: d for d in n.departments}
    deps = []
    for name in sorted(set(old_deps) | set(new_deps)):
        a, b = old_deps.get(name), new_deps.get(name)
        lines_a = {**(a.by_pool if a else {}), "adjustment": a.adjustment if a else ZERO}
        lines_b = {**(b.by_pool if b else {}), "adjustment": b.adjustment if b else ZERO}
        use = _changes(a.usage if a else {}, b.usage if b else {})
        total_a, total_b = a.total if a else ZERO, b.total if b else ZERO
        if total_a != total_b or use or (a is None) != (b is None):
            deps.append(DepartmentDiff(name, total_a, total_b, _changes(lines_a, lines_b), use))
    rates_a = {k: v for k, (v, _) in o.rates.items()} if o else {}
    rates_b = {k: v for k, (v, _) in n.rates.items()}
    cost_a = {f"{p.name}: {x.label}": x.yuan for p in o.pools for x in p.lines} if o else {}
    cost_b = {f"{p.name}: {x.label}": x.yuan for p in n.pools for x in p.lines}
    return Rerate(
        n.period, old.baseline() if old else "never rated before",
        tuple(deps), _changes(rates_a, rates_b), _changes(cost_a, cost_b),
        _cited_changes(old, new),
        FigureChange("platform cost", o.platform_cost if o else None, n.platform_cost),
        FigureChange("idle", o.idle if o else None, n.idle),
        FigureChange("price book", old.book_digest if old else None, new.book_digest),
        _changes(_savings(old.ledger if old else None), _savings(new.ledger)))


def _cited_changes(old: Rating | None, new: Rating) -> tuple[FigureChange, ...]:
    """The cited price lines that changed, by identity, over what both ratings cite: the
    savings' lines only when the old rating recorded its savings, the rate card's only when
    it recorded their text (a month closed by an earlier version did not)."""
    if old is None:
        return _changes({}, new.cited())
    rates = any(_line(s) in old.price_lines for _, s in old.statement.rates.values())

    def cited(r: Rating) -> dict[str, str]:
        return identities(r.statement, r.ledger if old.ledger else None, r.price_lines, rates)

    return _changes(cited(old), cited(new))


def _savings(led: Ledger | None) -> dict[str, Decimal]:
    """The figures of a month's savings a close freezes: per department legacy cost and
    saving, and the estate's saving."""
    if led is None:
        return {}
    out = {"estate saving": led.saving}
    for d in led.departments:
        out[f"{d.department} legacy cost"] = d.legacy_total
        out[f"{d.department} saving"] = d.saving
    return out


_SOURCE = re.compile(r"([\w./-]+\.ya?ml):(\d+) (\S+)")
_FROM = re.compile(r"\bfrom:\s*[\"']?([0-9]{4}-[0-9]{2}(?:-[0-9]{2})?)")
_INDEX = re.compile(r"\[(\d+)\]$")


def _line(source: str) -> str:
    """``file:line`` of a one-line source (``prices.yaml:5 units.vcpu[0]``), or ''."""
    m = _SOURCE.search(source)
    return f"{m[1]}:{m[2]}" if m else ""


def identities(st: Statement, led: Ledger | None, lines: dict[str, str],
               rates: bool = True) -> dict[str, str]:
    """Every price line the figures cite, by identity → its text: the key path with a pool's
    name for its position (``pools.network``) and a dated entry's month for its index
    (``units.vcpu from 2026-01``). ``lines`` is file:line → text, as recorded."""
    cites = [(x.source, p.name) for p in st.pools for x in p.lines]
    if rates:
        cites += [(s, "") for _, s in st.rates.values()]
    if led is not None:
        cites += [(x.price_source, "") for d in led.departments for x in d.legacy]
    out: dict[str, str] = {}
    for source, pool in cites:
        for part in source.split(";"):
            m = _SOURCE.search(part)
            if m is None or f"{m[1]}:{m[2]}" not in lines:
                continue
            text = lines[f"{m[1]}:{m[2]}"]
            out[_identity(m[3], pool, text)] = text
    return dict(sorted(out.items()))


def _identity(path: str, pool: str, text: str) -> str:
    if pool and path.startswith("pools["):
        path = f"pools.{pool}" + path[path.index("]") + 1:]
    index = _INDEX.search(path)
    if index is None:
        return path
    months = _FROM.findall(text)
    i = int(index[1])
    when = months[0] if len(months) == 1 else months[i] if i < len(months) else None
    return path[:index.start()] + f" from {when}" if when else path
