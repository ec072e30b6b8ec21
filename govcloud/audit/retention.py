"""Keeping the audit trail for its retention (``audit.retention_days``, at least 180 days), and
pruning what is older: ``govcloud audit prune``.

A prune removes the oldest records, up to the first one that is not older than the boundary
(so never a younger one, even if a clock once went back; and never the newest record, which
the chain goes on from), and only through this module:

1. under the trail's write lock, it finds the cut again (refused if the trail changed since
   it was shown) and reads the hash of the last record it removes;
2. it writes the records to the archive, when one is asked for (JSON Lines, as ``audit
   export``), before anything is deleted;
3. it notes a mark sealed with the audit key in the anchors file (``core.trail.PruneMark``:
   the records below N go, the last of them hashes to H), synced to disk;
4. in one transaction it sets the meta row the delete trigger reads (``PRUNE_BELOW``),
   deletes the records below N, removes the row and appends its own record (who, when, how
   many, the numbers removed, the chain value at the cut, the boundary and the reason).

Interrupted after 3, the records are all still there and ``audit verify`` notes the prune
that did not finish; the next prune removes them. ``audit verify`` accepts a trail that
begins at N only with a mark for N and the prune's record in the trail: a deletion of the
oldest records by other means is a cut at the start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from govcloud.audit import trail
from govcloud.audit.custody import Custody
from govcloud.clock import clock, now, stamp
from govcloud.core.patterns import check_line
from govcloud.core.trail import GENESIS, PRUNE, Entry, Head, PruneMark, canonical, span
from govcloud.core.trail import verify as verify_chain
from govcloud.errors import GovcloudError
from govcloud.state.store import LOCK_KEY, Store
from govcloud.state.tables import PRUNE_BELOW

SETTING = "audit.retention_days"


def boundary(retention_days: int, before: date | None = None) -> str:
    """The time records older than which may be pruned: ``retention_days`` ago, or the start
    of ``before`` (UTC), which must be earlier still."""
    limit = clock() - timedelta(days=retention_days)
    if before is None:
        return stamp(limit)
    asked = datetime(before.year, before.month, before.day, tzinfo=UTC)
    if asked > limit:
        raise GovcloudError(
            f"--before {before.isoformat()} is within the retention: {SETTING} is "
            f"{retention_days}, so every record since {stamp(limit)[:19]}Z must be kept",
            f"give --before {limit.date().isoformat()} or earlier, or leave --before out to "
            f"prune what is older than {retention_days} days")
    return stamp(asked)


@dataclass(frozen=True)
class Prune:
    """What a prune removes: records ``first`` to ``below - 1``, from ``oldest`` to
    ``newest``, all older than ``older_than``; the trail keeps ``kept`` records from
    ``below`` on (and gains the prune's own)."""

    first: int
    below: int
    oldest: str
    newest: str
    older_than: str
    kept: int

    @property
    def records(self) -> int:
        return self.below - self.first

    def __str__(self) -> str:
        return (f"{span(self.first, self.below - 1)} ({self.records} record(s), from "
                f"{self.oldest[:19]}Z to {self.newest[:19]}Z), all older than "
                f"{self.older_than[:19]}Z; {self.kept} record(s) from record {self.below} "
                "are kept")


def plan(store: Store, older_than: str) -> Prune | None:
    """What a prune of the records older than ``older_than`` removes (None: nothing)."""
    first, last = store.query("SELECT MIN(seq), MAX(seq) FROM audit")[0]
    if first is None:
        return None
    young = store.query("SELECT MIN(seq) FROM audit WHERE at >= ?", (older_than,))[0][0]
    # the newest record always stays: the chain, and the prune's own record, go on from it
    below = min(int(young) if young is not None else int(last), int(last))
    if below <= int(first):
        return None
    ends = store.query("SELECT at FROM audit WHERE seq IN (?, ?) ORDER BY seq",
                       (int(first), below - 1))
    return Prune(int(first), below, str(ends[0][0]), str(ends[-1][0]), older_than,
                 int(last) - below + 1)


def prune(store: Store, shown: Prune, actor: str, reason: str, retention_days: int,
          keep: Callable[[list[Entry]], str] | None = None, source: str = "cli") -> Entry:
    """Remove the records ``shown`` names (refused if the trail changed since), after
    ``keep`` has archived them (it returns where); audited. Returns the prune's record."""
    check_reason(reason)
    custody = Custody.of(store)
    with store.transaction():
        if store.kind == "postgresql":
            store.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY + 2,))
        if plan(store, shown.older_than) != shown:
            raise GovcloudError("the audit trail changed since the prune was shown (records "
                                "were added or another prune ran since it was shown); "
                                "nothing was pruned", "run govcloud audit prune again")
        removed = trail.entries(store, shown.first - 1, shown.records)
        key = custody.key_for_writing(trail.latest(store, 1)[0])
        archive = keep(removed) if keep is not None else None
        chain = removed[-1].hash
        custody.mark(PruneMark(shown.below, chain, now(), custody.alg).sealed(key))
        store.set_meta(PRUNE_BELOW, str(shown.below))
        store.execute("DELETE FROM audit WHERE seq < ?", (shown.below,))
        store.execute("DELETE FROM meta WHERE name = ?", (PRUNE_BELOW,))
        return trail.append(
            store, actor, PRUNE, "audit trail", "",
            {"first": shown.first, "oldest": shown.oldest},
            {"below": shown.below, "removed": shown.records, "first_removed": shown.first,
             "last_removed": shown.below - 1, "newest_removed": shown.newest,
             "chain_at_cut": chain, "older_than": shown.older_than,
             "retention_days": retention_days, "archive": archive},
            reason.strip(), source)


def check_reason(reason: str) -> None:
    """Refuse a prune's reason that is empty or not one line of plain text."""
    if not reason.strip():
        raise GovcloudError("a prune of the audit trail needs a reason", "give --reason \"…\"")
    check_line(reason)


def jsonl(records: list[Entry]) -> str:
    """Records as JSON Lines, one per line, oldest first (``audit export``, an archive)."""
    return "".join(json.dumps(e.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"
                   for e in records)


def check_archive(store: Store, path: Path) -> trail.ChainCheck:
    """Check an archive a prune wrote (``--export``) against the audit key and the anchors
    kept outside the store: each record's MAC and link, each record as anchored, and that it
    is what a prune removed (it ends where a prune's mark begins the trail, and begins at
    record 1 or where an earlier prune's does)."""
    records = _read_archive(path)
    custody = Custody.of(store)
    key = custody.key()
    anchors, problems = custody.anchors()
    if not records:
        return trail.ChainCheck(0, None, [f"the archive {path} holds no record"])
    first, last = records[0], records[-1]
    marks = [m for _, m in custody.marks() if m.holds(key)]
    starts = {m.below: m.chain for m in marks}
    origin = Head(first.seq, starts[first.seq]) if first.seq in starts else Head(1, GENESIS)
    problems += verify_chain(records, None, key, [a for a in anchors or () if a.seq <= last.seq],
                             origin)
    end = [m for m in marks if m.below == last.seq + 1 and m.chain == last.hash]
    if not end:
        problems.append(f"the archive ends at {last}, but no prune's mark in "
                        f"{custody.anchors_file} begins the trail after it: it is not what a "
                        "prune removed, or it was cut")
    if key is None:
        problems.append(f"the audit key {custody.key_file} is missing: the archive's MACs "
                        "cannot be checked — restore it from its backup")
    notes = [f"{span(first.seq, last.seq)}, pruned below record {last.seq + 1} at "
             f"{end[0].at}"] if end else []
    return trail.ChainCheck(len(records), Head(last.seq, last.hash), problems,
                            notes=notes, pruned_below=last.seq + 1 if end else None)


_FIELDS = [f.name for f in fields(Entry)]


def _read_archive(path: Path) -> list[Entry]:
    """The records of an archive (JSON Lines, as audit export writes them)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GovcloudError(f"cannot read the archive {path}: {exc}",
                            "give the file govcloud audit prune --export wrote") from None
    records: list[Entry] = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            data = json.loads(line)
            values = {k: data[k] for k in _FIELDS}
            values["before"], values["after"] = (canonical(values["before"]),
                                                 canonical(values["after"]))
            records.append(Entry(**values))
        except (ValueError, KeyError, TypeError):
            raise GovcloudError(f"line {n} of the archive {path} is not an audit record "
                                "as audit export writes it", "give the file govcloud audit "
                                "prune --export wrote, unchanged") from None
    return records
