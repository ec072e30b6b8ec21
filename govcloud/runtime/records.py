"""Usage records, closed months, adjustments and the finance audit trail, kept in the state
store (``usage``, ``statements``, ``adjustments``, ``finance_audit``) so every report runs
from the state store alone, without a cloud."""

from __future__ import annotations

import json
from collections.abc import Iterable

from govcloud.finance.chargeback import Adjustment
from govcloud.finance.closing import Closing
from govcloud.finance.usage import Record
from govcloud.runtime.store import Store, now

TABLES = [
    """CREATE TABLE IF NOT EXISTS usage (
        period TEXT NOT NULL, department TEXT NOT NULL, item TEXT NOT NULL,
        allocated REAL NOT NULL, used REAL, source TEXT NOT NULL, collected_at TEXT NOT NULL,
        PRIMARY KEY (period, department, item))""",
    """CREATE TABLE IF NOT EXISTS statements (
        period TEXT PRIMARY KEY, body TEXT NOT NULL, closed_at TEXT NOT NULL,
        closed_by TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS adjustments (
        period TEXT NOT NULL, department TEXT NOT NULL, yuan TEXT NOT NULL,
        reason TEXT NOT NULL, made_by TEXT NOT NULL, made_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS finance_audit (
        at TEXT NOT NULL, period TEXT NOT NULL, action TEXT NOT NULL, reason TEXT NOT NULL,
        who TEXT NOT NULL, digest TEXT NOT NULL)""",
]


def ensure_tables(store: Store) -> None:
    for stmt in TABLES:
        store.execute(stmt)


def record(store: Store, records: Iterable[Record], replace_period: str | None = None) -> int:
    """Store records (replacing earlier ones of the same period, department and item)."""
    ensure_tables(store)
    rows = list(records)
    stamp = now()
    with store.transaction():
        if replace_period:
            store.execute("DELETE FROM usage WHERE period = ?", (replace_period,))
        for r in rows:
            store.execute(
                "INSERT INTO usage (period, department, item, allocated, used, source, "
                "collected_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (period, department, item) "
                "DO UPDATE SET allocated = excluded.allocated, used = excluded.used, "
                "source = excluded.source, collected_at = excluded.collected_at",
                (r.period, r.department, r.item, r.allocated, r.used, r.source, stamp))
    return len(rows)


def load(store: Store, period: str) -> list[Record]:
    ensure_tables(store)
    rows = store.query("SELECT period, department, item, allocated, used, source FROM usage "
                       "WHERE period = ? ORDER BY department, item", (period,))
    return [Record(p, d, i, float(a), None if u is None else float(u), s)
            for p, d, i, a, u, s in rows]


def allocated(store: Store, period: str) -> list[tuple[str, str, float]]:
    """(department, item, allocated) of a month: what the chargeback needs, without building
    a Record per row (a year of 2,000 departments is 200,000 rows)."""
    ensure_tables(store)
    return store.query("SELECT department, item, allocated FROM usage WHERE period = ?",
                       (period,))


def periods(store: Store) -> list[str]:
    ensure_tables(store)
    return [p for (p,) in store.query("SELECT DISTINCT period FROM usage ORDER BY period")]


def audit(store: Store, period: str, action: str, reason: str, who: str,
          digest: str = "") -> None:
    store.execute("INSERT INTO finance_audit (at, period, action, reason, who, digest) "
                  "VALUES (?,?,?,?,?,?)", (now(), period, action, reason, who, digest))


def audit_trail(store: Store, period: str | None = None) -> list[dict[str, str]]:
    ensure_tables(store)
    rows = store.query("SELECT at, period, action, reason, who, digest FROM finance_audit "
                       + ("WHERE period = ? " if period else "") + "ORDER BY at",
                       (period,) if period else ())
    return [dict(zip(("at", "period", "action", "reason", "who", "digest"), r, strict=True))
            for r in rows]


def save_closing(store: Store, c: Closing) -> None:
    ensure_tables(store)
    with store.transaction():
        store.execute("INSERT INTO statements (period, body, closed_at, closed_by) "
                      "VALUES (?,?,?,?)", (c.period, json.dumps(c.as_dict(),
                                                                 ensure_ascii=False,
                                                                 sort_keys=True),
                                           c.closed_at, c.closed_by))
        audit(store, c.period, "close", "", c.closed_by, c.body_digest())


def closing(store: Store, period: str) -> Closing | None:
    """A closed month's frozen figures, or None (the month is open)."""
    ensure_tables(store)
    rows = store.query("SELECT body FROM statements WHERE period = ?", (period,))
    return Closing.from_dict(store.document("statements", period, rows[0][0])) if rows else None


def reopen(store: Store, period: str, reason: str, who: str) -> Closing | None:
    ensure_tables(store)
    with store.transaction():
        c = closing(store, period)
        if c is not None:
            store.execute("DELETE FROM statements WHERE period = ?", (period,))
            audit(store, period, "reopen", reason, who, c.body_digest())
    return c


def add_adjustment(store: Store, period: str, a: Adjustment) -> None:
    ensure_tables(store)
    with store.transaction():
        store.execute("INSERT INTO adjustments (period, department, yuan, reason, made_by, "
                      "made_at) VALUES (?,?,?,?,?,?)",
                      (period, a.department, str(a.yuan), a.reason, a.by, a.at))
        audit(store, period, f"adjust {a.department} {a.yuan:+}", a.reason, a.by)


def adjustments(store: Store, period: str) -> tuple[Adjustment, ...]:
    ensure_tables(store)
    from decimal import Decimal

    rows = store.query("SELECT department, yuan, reason, made_by, made_at FROM adjustments "
                       "WHERE period = ? ORDER BY made_at, department", (period,))
    return tuple(Adjustment(d, Decimal(y), r, b, a) for d, y, r, b, a in rows)
