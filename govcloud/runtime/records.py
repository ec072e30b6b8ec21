"""Usage records and closed statements, kept in the state store's ``usage`` and
``statements`` tables so every report runs from the state store alone, without a cloud."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

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


def periods(store: Store) -> list[str]:
    ensure_tables(store)
    return [p for (p,) in store.query("SELECT DISTINCT period FROM usage ORDER BY period")]


def save_statement(store: Store, period: str, body: dict[str, Any], by: str) -> None:
    ensure_tables(store)
    store.execute("INSERT INTO statements (period, body, closed_at, closed_by) "
                  "VALUES (?,?,?,?)", (period, json.dumps(body, ensure_ascii=False,
                                                         sort_keys=True), now(), by))


def statement(store: Store, period: str) -> tuple[dict[str, Any], str] | None:
    """A closed month's frozen chargeback and when it was closed, or None."""
    ensure_tables(store)
    rows = store.query("SELECT body, closed_at FROM statements WHERE period = ?", (period,))
    return (store.document("statements", period, rows[0][0]), rows[0][1]) if rows else None
