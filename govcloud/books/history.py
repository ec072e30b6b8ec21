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
from datetime import UTC, date, datetime
from typing import Any

from govcloud.clock import clock, now, stamp
from govcloud.core.model import Estate, TenancyPlan
from govcloud.drivers.base import CONSOLIDATED, Ability, Driver, Happening
from govcloud.errors import DamagedState
from govcloud.finance import history as record
from govcloud.finance.history import HOST, PLAN, RESOURCE, Entry
from govcloud.finance.period import Month, Window, floor_hour, parse_time
from govcloud.placement.hosts import Host
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


NUMBERS = ("vcpus", "ram_gb", "disk_gb", "size_gb", "storage_gb")


def _damaged(store: Store, table: str, seq: Any, why: str) -> DamagedState:
    """A row of the record that cannot be read. The record is append-only and every figure
    of an open month reads it, so the way out is the store's backup, or mending the row by
    hand to what happened — never deleting it, which would bill as if it had not."""
    return DamagedState(
        f"the state store's {table} row {seq} is damaged ({why})",
        f"restore the store ({store.where}) from a backup; or mend the row by hand (the "
        "time as 2026-01-31T12:00:00.000000Z, the body as the JSON of docs/finance.md's "
        "dated record) — do not delete it: the months it covers would bill as if the change "
        "had not happened (closed months keep their figures)", table, str(seq))


def _body(store: Store, table: str, seq: Any, subject: str, text: Any) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        body = json.loads(text)
    except (TypeError, ValueError):
        raise _damaged(store, table, seq, "its body is not JSON") from None
    if not isinstance(body, dict):
        raise _damaged(store, table, seq, "its body is not a JSON object")
    if subject == RESOURCE and body.get("kind") not in record.RECORDED:
        raise _damaged(store, table, seq, f"its kind {body.get('kind')!r} is not one the "
                       "record keeps")
    for f in NUMBERS:
        v = body.get(f)
        if f in body and (isinstance(v, bool) or not isinstance(v, int | float) or v < 0):
            raise _damaged(store, table, seq, f"its {f} {v!r} is not a number, at least 0")
    if subject == HOST and not (isinstance(body.get("zone"), str)
                                and isinstance(body.get("class"), str)):
        raise _damaged(store, table, seq, "a host row needs its zone and class")
    if subject == PLAN and not isinstance(body.get("legacy"), dict):
        raise _damaged(store, table, seq, "a plan row needs its legacy inventory")
    return body


def _entry(row: tuple[Any, ...], store: Store, table: str = "history") -> Entry:
    seq, at, subject, key, department, body, source = row
    try:
        when = parse_time(str(at))
    except ValueError:
        raise _damaged(store, table, seq, f"its time {at!r} is not a time") from None
    return Entry(when, subject, key, department, _body(store, table, seq, subject, body),
                 int(seq), source)


def entries(store: Store, until: datetime | None = None) -> list[Entry]:
    """The record's rows that happened before ``until`` (all of them: None), in order.
    Every row's time is read and checked, so a damaged one is named, never skipped."""
    ensure_tables(store)
    rows = store.query("SELECT seq, at, subject, key, department, body, source FROM history "
                       "ORDER BY seq")
    found = []
    for r in rows:
        try:
            when = parse_time(str(r[1]))
        except ValueError:
            raise _damaged(store, "history", r[0], f"its time {r[1]!r} is not a time") \
                from None
        if until is None or when < until:
            found.append(_entry(r, store))
    found.sort(key=lambda e: (e.at, e.seq))
    return found


def began(store: Store) -> Month | None:
    """The month of the record's first row: no month before it can have run (None: the
    record is empty)."""
    first = began_at(store)
    return None if first is None else Month.of(first)


def began_at(store: Store) -> datetime | None:
    """When the record's earliest row happened: nothing of the estate ran before it, so no
    hour before it is billed (None: the record is empty, or that row's time is damaged)."""
    ensure_tables(store)
    first = store.query("SELECT at FROM history ORDER BY at LIMIT 1")
    if not first:
        return None
    try:
        return parse_time(str(first[0][0]))
    except ValueError:
        return None  # a damaged time: entries() names it when the record is read


def first_hour(store: Store, window: Window) -> int:
    """The hours of ``window`` before the estate's record began (the hour it began, begun,
    is counted): 0 when it began before the window."""
    first = began_at(store)
    if first is None or first <= window.start:
        return 0
    return min(int((floor_hour(first) - window.start).total_seconds()) // 3600, window.hours)


def in_window(store: Store, window: Window) -> list[record.Stretch]:
    """Every subject's states over the window's hours."""
    return record.stretches(entries(store, window.end), window)


def latest(store: Store, subject: str | None = None) -> dict[tuple[str, str], Entry]:
    """(subject, key) → its latest row (of ``subject`` only, when given)."""
    ensure_tables(store)
    sql = "SELECT seq, at, subject, key, department, body, '' FROM history_now"
    rows = store.query(sql + " WHERE subject = ?", (subject,)) if subject else store.query(sql)
    return {(e.subject, e.key): e for e in (_entry(r, store, "history_now") for r in rows)}


def names(store: Store, until: datetime | None = None) -> dict[str, tuple[str, str]]:
    """Department → (name, English name) as its plan was last recorded before ``until``
    (now: None) — departments that have left the estate included."""
    return {k: (str(body.get("name", k)), str(body.get("name_en", "")))
            for k, body in plans(store, until).items()}


def plans(store: Store, until: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Department → what the record keeps of its plan (``plan_body``: names, cost centre,
    legacy) as last recorded before ``until`` (now: None), departed ones included."""
    if until is None:
        return {key: e.body for (_, key), e in latest(store, PLAN).items() if e.body is not None}
    ensure_tables(store)
    rows = store.query("SELECT seq, at, subject, key, department, body, source FROM history "
                       "WHERE subject = ? ORDER BY seq", (PLAN,))
    last: dict[str, Entry] = {}
    for e in (_entry(r, store) for r in rows):
        if e.at < until and e.body is not None and \
                (e.key not in last or (last[e.key].at, last[e.key].seq) <= (e.at, e.seq)):
            last[e.key] = e
    return {k: e.body for k, e in last.items() if e.body is not None}


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
    # Only a happening after the subject's last row dates this change: one at or before it
    # is the change that row already records.
    return min(at, fallback) if at is not None and at > since else fallback


def _created(res: Any, fallback: datetime, since: datetime | None) -> datetime:
    text = res.computed.get("created_at")
    try:
        at = parse_time(text) if text else fallback
    except ValueError:
        return fallback
    return at if since is None or at >= since else fallback


def _parked_on(host: Host, fallback: datetime) -> datetime:
    """When consolidation parked a host first seen disabled: the day its disable reason
    names (``govcloud: consolidated YYYY-MM-DD``), else ``fallback``."""
    reason = host.disabled_reason or ""
    if reason.startswith(CONSOLIDATED):
        try:
            day = date.fromisoformat(reason[len(CONSOLIDATED):].strip())
        except ValueError:
            return fallback
        return min(datetime(day.year, day.month, day.day, tzinfo=UTC), fallback)
    return fallback


def _retired_before(driver: Driver) -> list[Entry]:
    """Seeding: the resources the cloud deleted before the record began, each from its
    ``created_at`` to its ``deleted_at``, so months still open bill them."""
    out = []
    for res in driver.retired(datetime(1970, 1, 1, tzinfo=UTC)):
        body = record.resource_body(res)
        made, gone = res.computed.get("created_at"), res.computed.get("deleted_at")
        if body is None or not made or not gone:
            continue
        try:
            start, end = parse_time(made), parse_time(gone)
        except ValueError:
            continue
        out += [Entry(start, RESOURCE, res.key, res.department, body),
                Entry(max(start, end), RESOURCE, res.key, res.department, None)]
    return out


def _resource_changes(driver: Driver, known: dict[tuple[str, str], Entry],
                      happenings: dict[tuple[str, str], datetime], seeding: bool
                      ) -> list[Entry]:
    t = clock()
    out = []
    seen = set()
    # A department at a time: the record's latest rows are held already (at 10,000
    # departments some hundreds of MB), the whole cloud beside them would double it.
    for res in (r for _, found in driver.read_by_department() for r in found):
        body = record.resource_body(res)
        if body is None:
            continue
        seen.add(res.key)
        was = known.get((RESOURCE, res.key))
        if was is None or was.body is None:
            since = None if was is None else was.at
            at = _created(res, t, since)
            out.append(Entry(at if was is None else max(at, was.at), RESOURCE, res.key,
                             res.department, body))
        elif was.body != body:
            at = _when(happenings, RESOURCE, res.key, was.at, t)
            made = _created(res, t, was.at)
            if made < t and made > was.at:  # made again since (a replace): from then
                at = made
            out.append(Entry(max(at, was.at), RESOURCE, res.key, res.department, body))
    gone = [e for (subject, key), e in known.items()
            if subject == RESOURCE and e.body is not None and key not in seen]
    if seeding:
        out += _retired_before(driver)
    if gone and not seeding:
        since = min(e.at for e in gone)
        deleted = {r.key: r.computed.get("deleted_at") for r in driver.retired(since)}
        for e in gone:
            text = deleted.get(e.key)
            at = parse_time(text) if text else t
            out.append(Entry(max(at, e.at), RESOURCE, e.key, e.department, None))  # never
            # before its last row: a clock set back cannot end what began later
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
            at = _when(happenings, HOST, h.name, since, t)
            if was is None and (HOST, h.name) not in happenings:
                at = _parked_on(h, t)  # no date from the cloud: its consolidation's day
            elif was is not None:
                at = max(at, was.at)
            out.append(Entry(at, HOST, h.name, "", body))
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
        at = first_seen.get(dep, t) if was is None else max(t, was.at)
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
