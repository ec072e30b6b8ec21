"""The dated record of what ran when, kept in the state store: every resource finance reads,
every host's enabled state and every department's plan, as rows appended whenever govcloud
sees one change, never updated or deleted.

``history`` holds the rows (see ``govcloud.finance.history`` for what a row means and how
its hours are counted); ``history_now`` holds each subject's latest row, so that
:func:`observe` compares the cloud with the record without reading the whole record. The
latter is a cache of the former and rebuilt from it when missing.

:func:`observe` is called by apply (after its changes), consolidate (after its migrations
and parking) and ``usage collect`` (before it computes a month): it reads the cloud and the
estate and appends what differs from the record. A change is dated by the cloud when the
driver can say when it happened (the HISTORY ability: the sim's actions, nova's instance
actions and compute services), a new resource by its ``created_at``, a deleted one by its
``deleted_at``; anything else when govcloud saw it. A store that has resources but no record
yet (written by a release before the record) is seeded once from the cloud as it is, each
resource from its ``created_at`` (source ``seed``): sizes and hosts before that are not
known, and the documentation says so. The record's first row (subject ``record``) says when
it began; apply observes before its changes too, so a new store's record begins empty.

Size: one row per change (about 150 bytes of JSON); an estate of 2,000 departments with
ten changes each a month grows by about 240,000 rows a year.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from govcloud.clock import clock, now, stamp
from govcloud.core.model import Estate, TenancyPlan
from govcloud.drivers.base import Ability, Driver, Happening
from govcloud.finance import history as record
from govcloud.finance.history import HOST, PLAN, RESOURCE, Entry
from govcloud.finance.period import Window, parse_time
from govcloud.state.store import Store

BEGAN = "record"  # the subject of the record's first row: when it began

TABLES = [
    """CREATE TABLE IF NOT EXISTS history (
        seq INTEGER PRIMARY KEY, at TEXT NOT NULL, subject TEXT NOT NULL, key TEXT NOT NULL,
        department TEXT NOT NULL, body TEXT, source TEXT NOT NULL, recorded_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS history_at ON history (at, seq)",
    """CREATE TABLE IF NOT EXISTS history_now (
        subject TEXT NOT NULL, key TEXT NOT NULL, department TEXT NOT NULL, body TEXT,
        at TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (subject, key))""",
]


def ensure_tables(store: Store) -> None:
    for stmt in TABLES:
        store.execute(stmt)


def _dumps(body: dict[str, Any] | None) -> str | None:
    return None if body is None else json.dumps(body, sort_keys=True, ensure_ascii=False)


def append(store: Store, entries: Iterable[Entry], source: str) -> int:
    """Append ``entries`` (in order) to the record, in one transaction."""
    rows = list(entries)
    if not rows:
        return 0
    ensure_tables(store)
    recorded = now()
    with store.transaction():
        seq = store.query("SELECT COALESCE(MAX(seq), 0) FROM history")[0][0]
        for e in rows:
            seq += 1
            at, body = stamp(e.at), _dumps(e.body)
            store.execute("INSERT INTO history (seq, at, subject, key, department, body, "
                          "source, recorded_at) VALUES (?,?,?,?,?,?,?,?)",
                          (seq, at, e.subject, e.key, e.department, body, source, recorded))
            store.execute(
                "INSERT INTO history_now (subject, key, department, body, at, seq) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (subject, key) DO UPDATE SET "
                "department = excluded.department, body = excluded.body, at = excluded.at, "
                "seq = excluded.seq WHERE history_now.at <= excluded.at",
                (e.subject, e.key, e.department, body, at, seq))
    return len(rows)


def _entry(row: tuple[Any, ...], store: Store) -> Entry:
    seq, at, subject, key, department, body, source = row
    try:
        when = parse_time(at)
    except ValueError:
        raise store.damaged("history", str(seq), f"its time {at!r} is not a time",
                            {"seq": seq}) from None
    doc = None if body is None else store.document("history", str(seq), body, {"seq": seq})
    return Entry(when, subject, key, department, doc, int(seq), source)


def entries(store: Store, until: datetime | None = None) -> list[Entry]:
    """The record's rows that happened before ``until`` (all of them: None), in order."""
    ensure_tables(store)
    sql = "SELECT seq, at, subject, key, department, body, source FROM history"
    rows = store.query(sql + " WHERE at < ? ORDER BY at, seq", (stamp(until),)) if until \
        else store.query(sql + " ORDER BY at, seq")
    return [_entry(r, store) for r in rows]


def in_window(store: Store, window: Window) -> list[record.Stretch]:
    """Every subject's states over the window's hours."""
    return record.stretches(entries(store, window.end), window)


def latest(store: Store, subject: str | None = None) -> dict[tuple[str, str], Entry]:
    """(subject, key) → its latest row (of ``subject`` only, when given)."""
    ensure_tables(store)
    sql = "SELECT seq, at, subject, key, department, body, '' FROM history_now"
    rows = store.query(sql + " WHERE subject = ?", (subject,)) if subject else store.query(sql)
    return {(e.subject, e.key): e for e in (_entry(r, store) for r in rows)}


def names(store: Store) -> dict[str, tuple[str, str]]:
    """Department → (name, English name) as its plan was last recorded: departments that
    have left the estate included."""
    return {key: (e.body.get("name", key), e.body.get("name_en", ""))
            for (_, key), e in latest(store, PLAN).items() if e.body is not None}


def plan_body(plan: TenancyPlan, line_of: Any = None) -> dict[str, Any]:
    """What the record keeps of a department's plan: its names, cost centre and legacy
    inventory (what its savings are counted from), the digest of those, and where in the
    file each legacy line is (``line_of``: path → line, for the savings' citations)."""
    dep = plan.department
    legacy = asdict(plan.legacy)
    body: dict[str, Any] = {"file": plan.file, "name": dep.name, "name_en": dep.name_en,
                            "cost_centre": dep.cost_centre, "legacy": legacy}
    body["digest"] = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                                    .encode()).hexdigest()[:16]
    if line_of is not None:
        paths = [("legacy", "servers", i) for i in range(len(plan.legacy.servers))] + \
            [("legacy", f) for f in ("admin_staff", "antivirus_yuan_per_year",
                                     "backup_yuan_per_year", "websites")]
        body["lines"] = {".".join(map(str, p)): line_of(p) for p in paths}
    return body


def _when(happenings: dict[tuple[str, str], datetime], subject: str, key: str,
          since: datetime, fallback: datetime) -> datetime:
    at = happenings.get((subject, key))  # never later than now: a clock set back (tests)
    return min(at, fallback) if at is not None and at >= since else fallback


def _created(res: Any, fallback: datetime, since: datetime | None) -> datetime:
    text = res.computed.get("created_at")
    try:
        at = parse_time(text) if text else fallback
    except ValueError:
        return fallback
    return at if since is None or at >= since else fallback


def _resource_changes(driver: Driver, known: dict[tuple[str, str], Entry],
                      happenings: dict[tuple[str, str], datetime], seeding: bool
                      ) -> list[Entry]:
    t = clock()
    out = []
    seen = set()
    for res in driver.read():
        body = record.resource_body(res)
        if body is None:
            continue
        seen.add(res.key)
        was = known.get((RESOURCE, res.key))
        if was is None or was.body is None:
            since = None if was is None else was.at
            at = _created(res, t, since)
            out.append(Entry(at, RESOURCE, res.key, res.department, body))
        elif was.body != body:
            out.append(Entry(_when(happenings, RESOURCE, res.key, was.at, t), RESOURCE,
                             res.key, res.department, body))
    gone = [e for (subject, key), e in known.items()
            if subject == RESOURCE and e.body is not None and key not in seen]
    if gone and not seeding:
        since = min(e.at for e in gone)
        deleted = {r.key: r.computed.get("deleted_at") for r in driver.retired(since)}
        for e in gone:
            text = deleted.get(e.key)
            at = parse_time(text) if text else t
            out.append(Entry(max(at, e.at), RESOURCE, e.key, e.department, None))
    return out


def _host_changes(driver: Driver, known: dict[tuple[str, str], Entry],
                  happenings: dict[tuple[str, str], datetime]) -> list[Entry]:
    if not driver.can(Ability.PLACEMENT):
        return []
    t = clock()
    out = []
    for h in driver.hosts():
        body = {"zone": h.zone, "class": h.host_class, "enabled": bool(h.enabled)}
        was = known.get((HOST, h.name))
        if was is None and h.enabled:
            continue  # a host never recorded counts as enabled
        if was is None or was.body != body:
            since = was.at if was is not None else datetime.min.replace(tzinfo=t.tzinfo)
            out.append(Entry(_when(happenings, HOST, h.name, since, t), HOST, h.name, "",
                             body))
    return out


def _plan_changes(estate: Estate, known: dict[tuple[str, str], Entry],
                  first_seen: dict[str, datetime], line_of: Any) -> list[Entry]:
    t = clock()
    out = []
    for dep, plan in sorted(estate.plans.items()):
        body = plan_body(plan)
        was = known.get((PLAN, dep))
        if was is not None and was.body is not None and was.body.get("digest") == \
                body["digest"]:
            continue
        body = plan_body(plan, line_of(plan) if line_of else None)
        at = first_seen.get(dep, t) if was is None else t
        out.append(Entry(min(at, t), PLAN, dep, dep, body))
    return out


def _happenings(driver: Driver, known: dict[tuple[str, str], Entry]
                ) -> dict[tuple[str, str], datetime]:
    """(subject, key) → when the cloud last changed it, since the record's latest row."""
    if not driver.can(Ability.HISTORY) or not known:
        return {}
    since = max(e.at for e in known.values())
    found: list[Happening] = driver.happened(since)
    return {(h.subject, h.key): h.at for h in sorted(found, key=lambda h: h.at)}


def observe(estate: Estate, store: Store, driver: Driver, source: str,
            line_of: Any = None) -> int:
    """Append to the record what the cloud and the estate show that it does not (see the
    module): resources made, changed or gone, hosts enabled or parked, plans edited.
    Returns the rows appended. ``line_of``: plan → (path → line), for new plan rows."""
    known = latest(store)
    seeding = not known
    happenings = _happenings(driver, known)
    found = _resource_changes(driver, known, happenings, seeding)
    found += _host_changes(driver, known, happenings)
    first_seen: dict[str, datetime] = {}
    for e in found:
        if e.subject == RESOURCE and e.body is not None and e.body.get("kind") == "project":
            first_seen[e.department] = e.at
    found += _plan_changes(estate, known, first_seen, line_of)
    if seeding:  # the record's first row says when it began, and a cloud seen then is a seed
        found.insert(0, Entry(clock(), BEGAN, "began", "", {"seeded": len(found)}))
    return append(store, found, "seed" if seeding and any(
        e.subject == RESOURCE for e in found) else source)
