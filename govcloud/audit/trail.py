"""The audit trail in the state store: append a record (chained to the one before), read it
back, verify the chain, export it.

Appending takes the store's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
transaction lock), so records from several processes get consecutive numbers and each links to
the one before. A record is appended inside the caller's transaction when there is one: the
change it records and the record commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govcloud.clock import now
from govcloud.core.trail import Entry, Head, seal
from govcloud.core.trail import verify as verify_chain
from govcloud.state.store import LOCK_KEY, Store

HEAD = "audit_head"  # the meta row that holds the newest record's number and hash
COLUMNS = ("seq, at, actor, action, subject, department, before, after, reason, source, "
           "prev, hash")


def append(store: Store, actor: str, action: str, subject: str, department: str = "",
           before: Any = None, after: Any = None, reason: str = "", source: str = "") -> Entry:
    """Add one record to the end of the trail and return it."""
    with store.transaction():
        if store.kind == "postgresql":
            store.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY + 2,))
        rows = store.query(f"SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1")
        entry = seal(_entry(rows[0]) if rows else None, now(), actor, action, subject,
                     department, before, after, reason, source)
        store.execute(f"INSERT INTO audit ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                      (entry.seq, entry.at, entry.actor, entry.action, entry.subject,
                       entry.department, entry.before, entry.after, entry.reason,
                       entry.source, entry.prev, entry.hash))
        store.set_meta(HEAD, str(Head(entry.seq, entry.hash)))
    return entry


def _entry(row: tuple[Any, ...]) -> Entry:
    seq, *rest = row
    return Entry(int(seq), *(str(v) for v in rest))


def entries(store: Store, since: int = 0, limit: int | None = None) -> list[Entry]:
    """The records after number ``since``, oldest first."""
    sql = f"SELECT {COLUMNS} FROM audit WHERE seq > ? ORDER BY seq"
    params: tuple[Any, ...] = (since,)
    if limit is not None:
        sql += " LIMIT ?"
        params += (limit,)
    return [_entry(r) for r in store.query(sql, params)]


def last_about(store: Store, subject: str, actions: tuple[str, ...]) -> Entry | None:
    """The newest record of one of ``actions`` about ``subject`` (who decided it last)."""
    marks = ", ".join("?" for _ in actions)
    rows = store.query(f"SELECT {COLUMNS} FROM audit WHERE subject = ? AND action IN ({marks}) "
                       "ORDER BY seq DESC LIMIT 1", (subject, *actions))
    return _entry(rows[0]) if rows else None


def latest(store: Store, limit: int, action: str | None = None) -> list[Entry]:
    """The newest ``limit`` records (of one action), newest first."""
    where, params = ("WHERE action = ? ", (action,)) if action else ("", ())
    rows = store.query(f"SELECT {COLUMNS} FROM audit {where}ORDER BY seq DESC LIMIT ?",
                       (*params, limit))
    return [_entry(r) for r in rows]


def count(store: Store, action: str, since: str, subject: str | None = None,
          source: str | None = None) -> int:
    """How many records of ``action`` (for ``subject``, whatever the letter case of its
    ASCII letters, from ``source``) since a time."""
    sql = "SELECT COUNT(*) FROM audit WHERE action = ? AND at >= ?"
    params: list[Any] = [action, since]
    if subject is not None:
        sql += " AND lower(subject) = lower(?)"
        params.append(subject)
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    return int(store.query(sql, params)[0][0])


@dataclass(frozen=True)
class ChainCheck:
    """What ``govcloud audit verify`` found."""

    records: int
    head: Head | None
    problems: list[str]

    @property
    def whole(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "head": str(self.head) if self.head else None,
                "whole": self.whole, "problems": self.problems}


def verify(store: Store, expected: Head | None = None) -> ChainCheck:
    """Check the whole chain, against the head kept in the store and ``expected`` (a head
    noted earlier, e.g. from a previous verify or export)."""
    trail = entries(store)
    heads: dict[str, Head] = {}
    kept = store.get_meta(HEAD)
    if kept is not None:
        parsed = Head.parse(kept)
        if parsed is None:
            return ChainCheck(len(trail), None, [f"the head kept in the store ({kept[:80]!r}) "
                                              "is not a record number and hash: it was "
                                              "edited"])
        heads["the head kept in the store"] = parsed
    if expected is not None:
        heads["the head given"] = expected
    problems = verify_chain(trail, heads)
    if kept is None and trail:
        problems.append("the head kept in the store is missing: it was deleted")
    return ChainCheck(len(trail), Head(trail[-1].seq, trail[-1].hash) if trail else None,
                   problems)
