"""Usage records, closed months, adjustments and the finance audit trail, kept in the state
store (``usage``, ``statements``, ``adjustments``, ``finance_audit``) so every report runs
from the state store alone, without a cloud.

The edge of the books where a period is stored: every function takes a
:class:`~govcloud.finance.period.Month`, and writes it (and reads it back) as the ``period``
column's text, YYYY-MM."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from govcloud.audit import trail
from govcloud.clock import now
from govcloud.errors import GovcloudError, StateError
from govcloud.finance.chargeback import Adjustment
from govcloud.finance.closing import Closing
from govcloud.finance.period import Month
from govcloud.finance.rerate import Rating
from govcloud.finance.usage import Record
from govcloud.state.store import Store

# The figures are DOUBLE PRECISION: 8 bytes on PostgreSQL, where REAL is 4 (6 digits; a
# store made with REAL is widened by state/upgrade); SQLite reads either as its 8-byte REAL.
TABLES = [
    """CREATE TABLE IF NOT EXISTS usage (
        period TEXT NOT NULL, department TEXT NOT NULL, item TEXT NOT NULL,
        allocated DOUBLE PRECISION NOT NULL, used DOUBLE PRECISION, source TEXT NOT NULL,
        collected_at TEXT NOT NULL,
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


def record(store: Store, records: Iterable[Record], replacing: Month | None = None) -> int:
    """Store records (replacing earlier ones of the same month, department and item; with
    ``replacing``, every earlier record of that month)."""
    ensure_tables(store)
    rows = list(records)
    stamp = now()
    with store.transaction():
        if replacing is not None:
            store.execute("DELETE FROM usage WHERE period = ?", (str(replacing),))
        for r in rows:
            store.execute(
                "INSERT INTO usage (period, department, item, allocated, used, source, "
                "collected_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (period, department, item) "
                "DO UPDATE SET allocated = excluded.allocated, used = excluded.used, "
                "source = excluded.source, collected_at = excluded.collected_at",
                (str(r.month), r.department, r.item, r.allocated, r.used, r.source, stamp))
    return len(rows)


def load(store: Store, month: Month) -> list[Record]:
    """The month's usage records."""
    ensure_tables(store)
    rows = store.query("SELECT department, item, allocated, used, source FROM usage "
                       "WHERE period = ? ORDER BY department, item", (str(month),))
    _check_amounts(store, month, [(d, i, a) for d, i, a, _, _ in rows]
                   + [(d, i, u) for d, i, _, u, _ in rows if u is not None])
    return [Record(month, d, i, float(a), None if u is None else float(u), s)
            for d, i, a, u, s in rows]


def _check_amounts(store: Store, month: Month, rows: list[tuple[str, str, Any]]) -> None:
    """Every amount a plain number, at least 0 and finite; else the row is damaged, named
    with the way out (a collect of the month writes it again)."""
    bad = [(d, i, v) for d, i, v in rows
           if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf]
    if bad:
        d, i, v = bad[0]
        raise store.damaged("usage", f"{month}/{d}/{i}", f"amount {v!r} is not a number of "
                            "units, at least 0", {"period": str(month), "department": d,
                                                  "item": i},
                            f"collect the month again: govcloud usage collect --period {month}")


def allocated(store: Store, month: Month) -> list[tuple[str, str, float]]:
    """(department, item, allocated) of a month: what the chargeback needs, without building
    a Record per row (a year of 2,000 departments is 200,000 rows)."""
    ensure_tables(store)
    rows = store.query("SELECT department, item, allocated FROM usage WHERE period = ?",
                       (str(month),))
    _check_amounts(store, month, rows)
    return rows


def months(store: Store) -> list[Month]:
    """Every month with usage recorded, oldest first."""
    out = []
    for p in periods(store):
        try:
            out.append(Month.parse(p))
        except GovcloudError:
            raise store.damaged("usage", p, "its period is not a month, YYYY-MM",
                                {"period": p}) from None
    return out


def periods(store: Store) -> list[str]:
    """Every month with usage recorded, oldest first, as the stored text (YYYY-MM): what the
    portal lists (below it, read ``months``)."""
    ensure_tables(store)
    return [p for (p,) in store.query("SELECT DISTINCT period FROM usage ORDER BY period")]


def audit(store: Store, month: Month, action: str, reason: str, who: str,
          digest: str = "", department: str = "", before: Any = None,
          after: Any = None, source: str = "cli") -> None:
    """One finance action, in the finance audit trail and in the hash-chained audit trail
    (``govcloud audit``: action "statement <verb>", subject "statement YYYY-MM"), in one
    transaction, with who, when and why."""
    with store.transaction():
        store.execute("INSERT INTO finance_audit (at, period, action, reason, who, digest) "
                      "VALUES (?,?,?,?,?,?)", (now(), str(month), action, reason, who, digest))
        trail.append(store, who, f"statement {action.split()[0]}", f"statement {month}",
                     department, before, {**(after or {}), **({"digest": digest} if digest
                                                               else {})}, reason, source)


def audit_trail(store: Store, month: Month | None = None) -> list[dict[str, str]]:
    """Every row of the finance audit trail (of ``month`` only, when given), oldest first."""
    ensure_tables(store)
    rows = store.query("SELECT at, period, action, reason, who, digest FROM finance_audit "
                       + ("WHERE period = ? " if month else "") + "ORDER BY at",
                       (str(month),) if month else ())
    return [dict(zip(("at", "period", "action", "reason", "who", "digest"), r, strict=True))
            for r in rows]


def save_closing(store: Store, c: Closing, source: str = "cli") -> None:
    ensure_tables(store)
    st = c.statement
    with store.transaction():
        store.execute("INSERT INTO statements (period, body, closed_at, closed_by) "
                      "VALUES (?,?,?,?)",
                      (str(c.period), json.dumps(c.as_dict(), ensure_ascii=False, sort_keys=True),
                       c.closed_at, c.closed_by))
        audit(store, c.month, "close", "", c.closed_by, c.body_digest(),
              after={"platform_cost": str(st.platform_cost), "idle": str(st.idle),
                     "adjustments": str(st.adjusted())}, source=source)


def closed_periods(store: Store) -> list[str]:
    """Every closed month, oldest first."""
    ensure_tables(store)
    return [p for (p,) in store.query("SELECT period FROM statements ORDER BY period")]


def closing(store: Store, month: Month) -> Closing | None:
    """A closed month's frozen figures, or None (the month is open)."""
    ensure_tables(store)
    period = str(month)
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


def old_closings(store: Store) -> list[tuple[Month, dict[str, Any], str, str]]:
    """(month, statement body, closed at, closed by) of every month closed in the earlier
    format."""
    ensure_tables(store)
    rows = store.query("SELECT period, body, closed_at, closed_by FROM statements "
                       "WHERE body NOT LIKE ? ORDER BY period", ('{"book_digest"%',))
    out = []
    for period, body, at, by in rows:
        doc = store.document("statements", period, body, {"period": period})
        if is_old_closing(doc):
            out.append((Month.parse(period), doc, at, by))
    return out


def replace_closing(store: Store, c: Closing, note: str, who: str) -> None:
    """Rewrite a closed month in this version's format (same period, closed at and by);
    audited."""
    with store.transaction():
        store.execute("UPDATE statements SET body = ? WHERE period = ?",
                      (json.dumps(c.as_dict(), ensure_ascii=False, sort_keys=True), str(c.period)))
        audit(store, c.month, "migrate", note, who, c.body_digest())


def reopen(store: Store, month: Month, reason: str, who: str) -> Closing | None:
    """Delete the month's frozen figures; its statement and savings are kept as a rating,
    so a re-rate shows what changed since it was closed. The rating keeps who closed the
    month and when; the reopen (who, when, why) is added beside it, never over it."""
    ensure_tables(store)
    with store.transaction():
        c = closing(store, month)
        if c is not None:
            store.execute("DELETE FROM statements WHERE period = ?", (str(month),))
            audit(store, month, "reopen", reason, who, c.body_digest(),
                  before={"closed_at": c.closed_at, "closed_by": c.closed_by})
            save_rating(store, month, Rating(
                c.statement, c.book_digest, c.price_lines, c.closed_at, c.closed_by, "closed",
                c.ledger, {"at": now(), "by": who, "reason": reason}), reason)
    return c


def save_rating(store: Store, month: Month, r: Rating, reason: str) -> None:
    """Record a rating of the month; audited as a re-rate (or a reopen's closed figures)."""
    ensure_tables(store)
    period = str(month)
    with store.transaction():
        seq = store.query("SELECT COALESCE(MAX(seq), 0) + 1 FROM ratings WHERE period = ?",
                          (period,))[0][0]
        store.execute("INSERT INTO ratings (period, seq, body, rated_at, rated_by) "
                      "VALUES (?,?,?,?,?)",
                      (period, seq, json.dumps(r.as_dict(), ensure_ascii=False,
                                               sort_keys=True), r.rated_at, r.rated_by))
        if r.how == "rerate":
            audit(store, month, "rerate", reason, r.rated_by, r.digest(),
                  after={"book_digest": r.book_digest,
                         "platform_cost": str(r.statement.platform_cost)})


def last_rating(store: Store, month: Month) -> Rating | None:
    """The month's latest recorded rating, or None."""
    ensure_tables(store)
    period = str(month)
    rows = store.query("SELECT body FROM ratings WHERE period = ? ORDER BY seq DESC LIMIT 1",
                       (period,))
    if not rows:
        return None
    r = Rating.from_dict(store.document("ratings", period, rows[0][0], {"period": period}))
    return _who_closed(store, month, r) if r.how == "closed" and r.reopened is None else r


def _who_closed(store: Store, month: Month, r: Rating) -> Rating:
    """A reopen recorded by an earlier version kept the reopen's time and who as the closed
    figures' (so a re-rate read "as closed at <the reopen>"): read who closed, and when, from
    the finance audit trail instead, and the reopen beside it. Nothing stored is changed."""
    reopens = store.query("SELECT at, reason FROM finance_audit WHERE period = ? AND "
                          "action = 'reopen' AND at <= ? AND who = ? ORDER BY at DESC "
                          "LIMIT 1", (str(month), r.rated_at, r.rated_by))
    if not reopens:
        return r
    closes = store.query("SELECT at, who FROM finance_audit WHERE period = ? AND "
                         "action = 'close' AND at <= ? ORDER BY at DESC LIMIT 1",
                         (str(month), reopens[0][0]))
    if not closes:
        return r
    return replace(r, rated_at=closes[0][0], rated_by=closes[0][1],
                   reopened={"at": reopens[0][0], "by": r.rated_by, "reason": reopens[0][1]})


def add_adjustment(store: Store, month: Month, a: Adjustment) -> None:
    ensure_tables(store)
    with store.transaction():
        store.execute("INSERT INTO adjustments (period, department, yuan, reason, made_by, "
                      "made_at) VALUES (?,?,?,?,?,?)",
                      (str(month), a.department, str(a.yuan), a.reason, a.by, a.at))
        audit(store, month, f"adjust {a.department} {a.yuan:+}", a.reason, a.by,
              department=a.department, after={"yuan": str(a.yuan), "at": a.at})


def adjustments(store: Store, month: Month) -> tuple[Adjustment, ...]:
    ensure_tables(store)
    from decimal import Decimal

    rows = store.query("SELECT department, yuan, reason, made_by, made_at FROM adjustments "
                       "WHERE period = ? ORDER BY made_at, department", (str(month),))
    return tuple(Adjustment(d, Decimal(y), r, b, a) for d, y, r, b, a in rows)
