"""The audit trail in the state store: append a record (chained to the one before, sealed
with the key kept outside the store, its head anchored outside it: ``audit.custody``), read it
back, verify the chain against the anchors, export it.

Appending takes the store's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
transaction lock), so records from several processes get consecutive numbers and each links to
the one before. A record is appended inside the caller's transaction when there is one: the
change it records and the record commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govcloud.audit.custody import CUSTODY_DOC, Custody
from govcloud.clock import now
from govcloud.core.trail import UNKEYED, Anchor, Entry, Head, cut, keyed_from, seal, span
from govcloud.core.trail import verify as verify_chain
from govcloud.state.store import LOCK_KEY, Store

HEAD = "audit_head"  # the meta row that holds the newest record's number and hash
# A department's records since a person last looked: counted for every page of the portal
# (its navigation's notices); without it, a scan of the whole trail each time.
BY_DEPARTMENT = "CREATE INDEX IF NOT EXISTS audit_by_department ON audit (department, seq)"
COLUMNS = ("seq, at, actor, action, subject, department, before, after, reason, source, "
           "prev, hash, alg")


def append(store: Store, actor: str, action: str, subject: str, department: str = "",
           before: Any = None, after: Any = None, reason: str = "", source: str = "") -> Entry:
    """Add one record to the end of the trail, sealed with the audit key, and return it; its
    head is anchored once it has committed (with the caller's transaction, if any)."""
    custody = Custody.of(store)
    with store.transaction():
        if store.kind == "postgresql":
            store.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY + 2,))
        rows = store.query(f"SELECT {COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1")
        last = _entry(rows[0]) if rows else None
        entry = seal(last, now(), actor, action, subject, department, before, after, reason,
                     source, custody.key_for_writing(last), custody.alg)
        store.execute(f"INSERT INTO audit ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (entry.seq, entry.at, entry.actor, entry.action, entry.subject,
                       entry.department, entry.before, entry.after, entry.reason,
                       entry.source, entry.prev, entry.hash, entry.alg))
        store.set_meta(HEAD, str(Head(entry.seq, entry.hash)))
        store.after_commit(lambda: custody.anchor(entry))
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


def head(store: Store) -> tuple[int, str] | None:
    """The newest record's number and algorithm (``sha256`` for one sealed before keys)."""
    rows = store.query("SELECT seq, alg FROM audit ORDER BY seq DESC LIMIT 1")
    return (int(rows[0][0]), str(rows[0][1]) or "sha256") if rows else None


def latest(store: Store, limit: int, action: str | None = None) -> list[Entry]:
    """The newest ``limit`` records (of one action), newest first."""
    where, params = ("WHERE action = ? ", (action,)) if action else ("", ())
    rows = store.query(f"SELECT {COLUMNS} FROM audit {where}ORDER BY seq DESC LIMIT ?",
                       (*params, limit))
    return [_entry(r) for r in rows]


def holding(text: str, columns: tuple[str, ...]) -> tuple[str, list[str]]:
    """The SQL condition (and its parameters) that one of ``columns`` holds ``text``, in any
    letter case of its ASCII letters (``%`` and ``_`` in it are themselves)."""
    like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%") \
        .replace("_", "\\_") + "%"
    return ("(" + " OR ".join(f"lower({c}) LIKE ? ESCAPE '\\'" for c in columns) + ")",
            [like] * len(columns))


# The records of signing in and out (actions beginning so), hidden from the audit page
# unless asked for.
SIGN_INS = ("sign-", "session end")


@dataclass(frozen=True)
class Sought:
    """Which records to find: of one action, department, person (who did it), at or after
    ``since`` and before ``until`` (times as recorded), whose text holds ``text``; sign-ins
    only with ``sign_ins``; only of ``departments`` when it is given."""

    action: str = ""
    department: str = ""
    actor: str = ""
    since: str = ""
    until: str = ""
    text: str = ""
    sign_ins: bool = False
    departments: tuple[str, ...] | None = None

    def where(self) -> tuple[str, list[Any]]:
        parts, params = [], []
        for column, value in (("action", self.action), ("department", self.department),
                              ("actor", self.actor)):
            if value:
                parts.append(f"{column} = ?")
                params.append(value)
        if self.since:
            parts.append("at >= ?")
            params.append(self.since)
        if self.until:
            parts.append("at < ?")
            params.append(self.until)
        if self.text:
            sql, more = holding(self.text, ("actor", "action", "subject", "department",
                                            "reason", "after"))
            parts.append(sql)
            params += more
        if not self.sign_ins and not self.action:
            parts.append("NOT (" + " OR ".join("action LIKE ?" for _ in SIGN_INS) + ")")
            params += [f"{a}%" for a in SIGN_INS]
        if self.departments is not None:
            parts.append("department IN (" + ", ".join("?" for _ in self.departments) + ")"
                         if self.departments else "1 = 0")
            params += list(self.departments)
        return (" WHERE " + " AND ".join(parts) if parts else ""), params


def search(store: Store, sought: Sought, offset: int = 0,
           limit: int | None = None) -> tuple[int, list[Entry]]:
    """How many records match, and the matching records from ``offset`` (``limit`` of
    them; all without), newest first."""
    where, params = sought.where()
    total = int(store.query(f"SELECT COUNT(*) FROM audit{where}", params)[0][0])
    sql = f"SELECT {COLUMNS} FROM audit{where} ORDER BY seq DESC"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, limit, offset]
    return total, [_entry(r) for r in store.query(sql, params)]


def about_requests(store: Store, others_than: str, department: str | None,
                   numbers: list[int] | None, after: int = 0,
                   limit: int | None = None) -> tuple[int, list[Entry]]:
    """The records of requests (``request …`` actions) of ``department``, or of the request
    ``numbers``, that someone other than ``others_than`` made: how many after record
    ``after``, and the newest ``limit`` of them (new or not)."""
    where, params = ["action LIKE ?", "actor <> ?"], ["request %", others_than]
    if department is not None:
        where.append("department = ?")
        params.append(department)
    if numbers is not None:
        where.append("subject IN (" + ", ".join("?" for _ in numbers) + ")" if numbers
                     else "1 = 0")
        params += [f"request {n}" for n in numbers]
    sql = " AND ".join(where)
    new = int(store.query(f"SELECT COUNT(*) FROM audit WHERE seq > ? AND {sql}",
                          [after, *params])[0][0])
    if limit is None:
        return new, []
    rows = store.query(f"SELECT {COLUMNS} FROM audit WHERE {sql} ORDER BY seq DESC LIMIT ?",
                       [*params, limit])
    return new, [_entry(r) for r in rows]


def actions(store: Store) -> list[str]:
    """The actions the trail holds records of."""
    return [str(r[0]) for r in store.query("SELECT DISTINCT action FROM audit ORDER BY action")]


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
    """What ``govcloud audit verify`` found: ``problems`` make the trail not whole; ``notes``
    say how it was checked."""

    records: int
    head: Head | None
    problems: list[str]
    keyed_from: int | None = None
    anchored: int | None = None  # the newest anchored record
    notes: list[str] = field(default_factory=list)
    pruned_below: int | None = None  # the records before it were pruned (audit prune)

    @property
    def whole(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "head": str(self.head) if self.head else None,
                "whole": self.whole, "problems": self.problems,
                "keyed_from": self.keyed_from, "anchored": self.anchored, "notes": self.notes,
                "pruned_below": self.pruned_below}


def verify(store: Store, expected: Head | None = None) -> ChainCheck:
    """Check the whole chain with the audit key, against the anchors kept outside the store,
    the head kept in the store and ``expected`` (a head noted earlier, e.g. from a previous
    verify or export)."""
    trail = entries(store)
    head = Head(trail[-1].seq, trail[-1].hash) if trail else None
    custody = Custody.of(store)
    key = custody.key()
    anchors, problems = custody.anchors()
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
    problems += _custody(custody, trail, key, anchors)
    begins = cut(trail, custody.marks(), key, str(custody.anchors_file), anchors is not None)
    problems += begins.problems
    problems += verify_chain(trail, heads, key, anchors or (), begins.origin)
    if kept is None and trail:
        problems.append("the head kept in the store is missing: it was deleted")
    start = keyed_from(trail, anchors or ())
    return ChainCheck(len(trail), head, problems, start,
                      max((a.seq for a in anchors or ()), default=None),
                      begins.notes + _notes(custody, trail, start, anchors),
                      begins.origin.seq if begins.origin.seq > 1 else None)


def _custody(custody: Custody, trail: list[Entry], key: bytes | None,
             anchors: list[Anchor] | None) -> list[str]:
    """A missing key or anchors file, when the trail needs it."""
    keyed = [e.seq for e in trail if e.alg != UNKEYED]
    problems: list[str] = []
    if key is None and (keyed or anchors):
        what = f"{span(keyed[0], keyed[-1])} are sealed with it and cannot be checked" \
            if keyed else "the anchors say records were sealed with it"
        problems.append(f"the audit key {custody.key_file} is missing: {what} — restore it "
                        f"from its backup ({CUSTODY_DOC})")
    if anchors is None and (keyed or key is not None):
        problems.append(f"the anchors file {custody.anchors_file} is missing: a cut or wipe of "
                        "the newest records cannot be told — restore it from its backup; if "
                        "it is lost, check the history of govcloud_audit_head in Prometheus "
                        "(the next record written starts a new file)")
    return problems


def _notes(custody: Custody, trail: list[Entry], start: int | None,
           anchors: list[Anchor] | None) -> list[str]:
    if start is None:
        return [f"not keyed yet: the next record written makes the key {custody.key_file} "
                "and starts the keyed chain"] if trail else []
    notes = [f"keyed ({custody.alg} for new records) from record {start}"
             + (f"; {span(1, start - 1)} were sealed before keys (SHA-256 chain, held by "
                f"record {start}'s link)" if start > 1 else "")]
    first = min((a.seq for a in anchors or ()), default=None)
    if first is not None and first > start:
        notes.append(f"the anchors begin at record {first}, after the keyed chain's start: "
                     f"the anchors file was started again; a cut before record {first} shows "
                     "only in the history of govcloud_audit_head")
    return notes
