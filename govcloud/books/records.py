"""Usage records, closed months, adjustments and the finance audit trail, kept in the state
store (``usage``, ``statements``, ``adjustments``, ``finance_audit``) so every report runs
from the state store alone, without a cloud."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from govcloud.clock import now
from govcloud.errors import StateError
from govcloud.finance.chargeback import Adjustment
from govcloud.finance.closing import Closing
from govcloud.finance.rerate import Rating
from govcloud.finance.usage import Record
from govcloud.state.store import Store

TABLES = [
    """CREATE TABLE IF NOT EXISTS usage (
        period TEXT NOT NULL, department TEXT NOT NULL, item TEXT NOT NULL,
        allocated REAL NOT NULL, used REAL, source TEXT NOT NULL, collected_at TEXT NOT NULL,
        PRIMARY KEY (period, department, item))""",
    # The chargeback reads (department, item, allocated) of a month from this index alone.
    """CREATE INDEX IF NOT EXISTS usage_allocated
        ON usage (period, department, item, allocated)""",
    """CREATE TABLE IF NOT EXISTS statements (
        period TEXT PRIMARY KEY, body TEXT NOT NULL, closed_at TEXT NOT NULL,
        closed_by TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS adjustments (
        period TEXT NOT NULL, department TEXT NOT NULL, yuan TEXT NOT NULL,
        reason TEXT NOT NULL, made_by TEXT NOT NULL, made_at TEXT NOT NULL)""",
    # Every rating of an open month a re-rate recorded (and the closed figures a reopen
    # left): what the next re-rate is compared with.
    """CREATE TABLE IF NOT EXISTS ratings (
        period TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
        rated_at TEXT NOT NULL, rated_by TEXT NOT NULL, PRIMARY KEY (period, seq))""",
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
    _check_amounts(store, period, [(d, i, a) for _, d, i, a, _, _ in rows]
                   + [(d, i, u) for _, d, i, _, u, _ in rows if u is not None])
    return [Record(p, d, i, float(a), None if u is None else float(u), s)
            for p, d, i, a, u, s in rows]


def _check_amounts(store: Store, period: str, rows: list[tuple[str, str, Any]]) -> None:
    """Every amount a plain number, at least 0 and finite; else the row is damaged, named
    with the way out (a collect of the month writes it again)."""
    bad = [(d, i, v) for d, i, v in rows
           if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf]
    if bad:
        d, i, v = bad[0]
        raise store.damaged("usage", f"{period}/{d}/{i}", f"amount {v!r} is not a number of "
                            "units, at least 0", {"period": period, "department": d,
                                                  "item": i},
                            f"collect the month again: govcloud usage collect --period {period}")


def allocated(store: Store, period: str) -> list[tuple[str, str, float]]:
    """(department, item, allocated) of a month: what the chargeback needs, without building
    a Record per row (a year of 2,000 departments is 200,000 rows)."""
    ensure_tables(store)
    rows = store.query("SELECT department, item, allocated FROM usage WHERE period = ?",
                       (period,))
    _check_amounts(store, period, rows)
    return rows


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


def closed_periods(store: Store) -> list[str]:
    """Every closed month, oldest first."""
    ensure_tables(store)
    return [p for (p,) in store.query("SELECT period FROM statements ORDER BY period")]


def closing(store: Store, period: str) -> Closing | None:
    """A closed month's frozen figures, or None (the month is open)."""
    ensure_tables(store)
    rows = store.query("SELECT body FROM statements WHERE period = ?", (period,))
    if not rows:
        return None
    body = store.document("statements", period, rows[0][0], {"period": period})
    if is_old_closing(body):
        raise StateError(f"{period} was closed by an earlier govcloud (its statement only) and "
                         "is not yet in this version's format",
                         "run govcloud validate and fix what it reports: the month is "
                         "brought over when the estate's plans and price book load")
    try:
        return Closing.from_dict(body)
    except KeyError as exc:
        raise store.damaged("statements", period, f"no {exc.args[0]!r} field",
                            {"period": period}) from None
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise store.damaged("statements", period, f"a field has the wrong type: {exc}",
                            {"period": period}) from None


def is_old_closing(body: dict[str, Any]) -> bool:
    """A closed month as govcloud wrote it before closing froze every figure: the bare
    chargeback statement (``departments`` and ``pools`` at the top)."""
    return "statement" not in body and "departments" in body and "pools" in body


def old_closings(store: Store) -> list[tuple[str, dict[str, Any], str, str]]:
    """(period, statement body, closed at, closed by) of every month closed in the earlier
    format."""
    ensure_tables(store)
    rows = store.query("SELECT period, body, closed_at, closed_by FROM statements "
                       "WHERE body NOT LIKE ? ORDER BY period", ('{"book_digest"%',))
    out = []
    for period, body, at, by in rows:
        doc = store.document("statements", period, body, {"period": period})
        if is_old_closing(doc):
            out.append((period, doc, at, by))
    return out


def replace_closing(store: Store, c: Closing, note: str, who: str) -> None:
    """Rewrite a closed month in this version's format (same period, closed at and by);
    audited."""
    with store.transaction():
        store.execute("UPDATE statements SET body = ? WHERE period = ?",
                      (json.dumps(c.as_dict(), ensure_ascii=False, sort_keys=True), c.period))
        audit(store, c.period, "migrate", note, who, c.body_digest())


def reopen(store: Store, period: str, reason: str, who: str) -> Closing | None:
    """Delete the month's frozen figures; its statement is kept as a rating, so a re-rate
    shows what changed since it was closed."""
    ensure_tables(store)
    with store.transaction():
        c = closing(store, period)
        if c is not None:
            store.execute("DELETE FROM statements WHERE period = ?", (period,))
            audit(store, period, "reopen", reason, who, c.body_digest())
            save_rating(store, period, Rating(c.statement, c.book_digest, c.price_lines,
                                              now(), who, "closed"), reason)
    return c


def save_rating(store: Store, period: str, r: Rating, reason: str) -> None:
    """Record a rating of the month; audited as a re-rate (or a reopen's closed figures)."""
    ensure_tables(store)
    with store.transaction():
        seq = store.query("SELECT COALESCE(MAX(seq), 0) + 1 FROM ratings WHERE period = ?",
                          (period,))[0][0]
        store.execute("INSERT INTO ratings (period, seq, body, rated_at, rated_by) "
                      "VALUES (?,?,?,?,?)",
                      (period, seq, json.dumps(r.as_dict(), ensure_ascii=False,
                                               sort_keys=True), r.rated_at, r.rated_by))
        if r.how == "rerate":
            audit(store, period, "rerate", reason, r.rated_by, r.digest())


def last_rating(store: Store, period: str) -> Rating | None:
    """The month's latest recorded rating, or None."""
    ensure_tables(store)
    rows = store.query("SELECT body FROM ratings WHERE period = ? ORDER BY seq DESC LIMIT 1",
                       (period,))
    return Rating.from_dict(store.document("ratings", period, rows[0][0], {"period": period})
                            ) if rows else None


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
