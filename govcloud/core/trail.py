"""The audit trail's chain: pure, so what a record is and how a chain is checked can be read
(and tested) without a database or a file.

Each record is sealed with a keyed MAC (HMAC-SM3, or HMAC-SHA256 where OpenSSL has no SM3; the
record names its algorithm, ``alg``) of its own fields and of the hash of the record before it
(``prev``; the first record's is ``GENESIS``). Without the key no one can seal a record that
verifies: editing one, recomputing the chain after an edit, or renumbering the records after
a deletion is found. Records written before the trail was keyed (``alg`` empty) keep their
plain SHA-256 and stay as they are; the first keyed record links to the last of them, so they
are held too, and no unkeyed record may follow a keyed one.

A chain alone cannot tell that its end is missing: the head is anchored outside the database
on every write (``Anchor``), and checked against heads noted elsewhere (``Head``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

GENESIS = "0" * 64
UNKEYED = ""  # the alg of a record sealed before the trail was keyed: SHA-256 of its fields
ALGORITHMS = {"hmac-sm3": "sm3", "hmac-sha256": "sha256"}  # alg -> hashlib's name
RENUMBER_REACH = 1000  # how far back a renumbered record is looked for among the anchors


def canonical(value: Any) -> str:
    """The one JSON text of ``value`` that is hashed and stored: sorted keys, no spaces."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


def available(alg: str) -> bool:
    """Whether this Python's hashlib (its OpenSSL) can compute ``alg``."""
    return alg in ALGORITHMS and ALGORITHMS[alg] in hashlib.algorithms_available


def algorithm(setting: str) -> str:
    """The alg of the ``audit.algorithm`` setting (auto: SM3 where available)."""
    if setting == "auto":
        return "hmac-sm3" if available("hmac-sm3") else "hmac-sha256"
    return f"hmac-{setting}"


@dataclass(frozen=True)
class Entry:
    """One audit record. ``before`` and ``after`` are canonical JSON texts, hashed as stored."""

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    department: str
    before: str
    after: str
    reason: str
    source: str
    prev: str
    hash: str
    alg: str = UNKEYED

    def digest(self, key: bytes | None = None) -> str | None:
        """The hash this record's fields give (equal to ``hash`` unless it was edited): their
        SHA-256 when unkeyed, their MAC under ``key`` when keyed; None for a keyed record
        without the key, or with an algorithm this Python lacks."""
        fields: list[Any] = [self.seq, self.at, self.actor, self.action, self.subject,
                             self.department, self.before, self.after, self.reason,
                             self.source, self.prev]
        if self.alg == UNKEYED:
            return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()
        if key is None or not available(self.alg):
            return None
        text = canonical([*fields, self.alg]).encode("utf-8")
        return hmac.new(key, text, ALGORITHMS[self.alg]).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["before"] = json.loads(self.before)
        data["after"] = json.loads(self.after)
        return data

    def __str__(self) -> str:
        return f"record {self.seq} ({self.action} {self.subject}, {self.at})"


def seal(prev: Entry | None, at: str, actor: str, action: str, subject: str,
         department: str = "", before: Any = None, after: Any = None, reason: str = "",
         source: str = "", key: bytes | None = None, alg: str = UNKEYED) -> Entry:
    """The record that follows ``prev`` (None: the first), with its hash: keyed with ``key``
    under ``alg``, or (no key) the unkeyed SHA-256 of the trails written before keys."""
    draft = Entry(prev.seq + 1 if prev else 1, at, actor, action, subject, department,
                  canonical(before), canonical(after), reason, source,
                  prev.hash if prev else GENESIS, "", alg if key is not None else UNKEYED)
    digest = draft.digest(key)
    if digest is None:
        raise ValueError(f"{alg} is not available in this Python's hashlib")
    return replace(draft, hash=digest)


@dataclass(frozen=True)
class Head:
    """Where the trail ends: its last record's number and hash."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @staticmethod
    def parse(text: str) -> Head | None:
        seq, _, digest = text.strip().partition(":")
        if not (seq.isascii() and seq.isdigit()) or len(digest) != 64 or \
                any(c not in "0123456789abcdef" for c in digest):
            return None
        return Head(int(seq), digest)


@dataclass(frozen=True)
class Anchor:
    """A head noted outside the database when its record was written: one line of the
    anchors file, ``SEQ HASH TIME``."""

    seq: int
    hash: str
    at: str

    def line(self) -> str:
        return f"{self.seq} {self.hash} {self.at}\n"

    @staticmethod
    def parse(line: str) -> Anchor | None:
        parts = line.split()
        head = Head.parse(f"{parts[0]}:{parts[1]}") if len(parts) == 3 else None
        return Anchor(head.seq, head.hash, parts[2]) if head else None


@dataclass(frozen=True)
class PruneMark:
    """What ``govcloud audit prune`` notes in the anchors file before it deletes: the records
    numbered below ``below`` are removed, and the last of them had the hash ``chain`` (the
    record ``below`` links to it). Sealed with the audit key (``mac``, under ``alg``), so no
    one without the key can make a deletion of the oldest records look like a prune. One
    line, ``prune BELOW CHAIN TIME ALG MAC``."""

    below: int
    chain: str
    at: str
    alg: str
    mac: str = ""

    def digest(self, key: bytes) -> str | None:
        if not available(self.alg):
            return None
        text = canonical(["prune", self.below, self.chain, self.at, self.alg]).encode("utf-8")
        return hmac.new(key, text, ALGORITHMS[self.alg]).hexdigest()

    def sealed(self, key: bytes) -> PruneMark:
        return replace(self, mac=self.digest(key) or "")

    def holds(self, key: bytes | None) -> bool:
        """Whether the mark was sealed with ``key``."""
        digest = self.digest(key) if key is not None else None
        return digest is not None and hmac.compare_digest(digest, self.mac)

    def line(self) -> str:
        return f"prune {self.below} {self.chain} {self.at} {self.alg} {self.mac}\n"

    @staticmethod
    def parse(line: str) -> PruneMark | None:
        parts = line.split()
        if len(parts) != 6 or parts[0] != "prune" or parts[4] not in ALGORITHMS:
            return None
        cut = Head.parse(f"{parts[1]}:{parts[2]}")
        mac = Head.parse(f"0:{parts[5]}")
        return PruneMark(cut.seq, cut.hash, parts[3], parts[4], parts[5]) \
            if cut and mac and cut.seq > 1 else None


PRUNE = "audit prune"  # the action of govcloud audit prune's record


@dataclass(frozen=True)
class Cut:
    """Where a trail begins: ``origin`` (the first record kept after the newest prune, and
    the hash it links to), what is wrong with the prunes, and what they were."""

    origin: Head
    problems: list[str]
    notes: list[str]


def cut(entries: list[Entry], marks: Sequence[tuple[int, PruneMark]], key: bytes | None,
        where: str, marked: bool = True) -> Cut:
    """Where ``entries`` may begin, from the prunes' marks (with their line numbers in the
    anchors file ``where``): after the newest mark at or before the first record, when the
    trail holds that prune's record too. ``marked`` False (the anchors file is missing): the
    prune records in the trail stand in for the marks."""
    problems = [f"line {n} of the anchors file {where} is a prune mark not sealed with the "
                "audit key: it was forged or edited — restore the file from its backup"
                for n, m in marks if key is not None and not m.holds(key)]
    records = {below: (e, chain) for e in entries if e.action == PRUNE
               for below, chain in [_pruned(e)] if below}
    held = [m for _, m in marks if key is not None and m.holds(key)] if marked else \
        [PruneMark(below, chain, e.at, e.alg) for below, (e, chain) in records.items()]
    if not entries:
        return Cut(Head(1, GENESIS), problems, [])
    first = entries[0].seq
    notes = [f"a prune below record {below} was begun at {at} but did not finish: those "
             "records are still here (govcloud audit prune removes them)"
             for below, at in sorted({(m.below, m.at) for m in held if m.below > first})]
    done = max((m for m in held if m.below <= first), key=lambda m: m.below, default=None)
    if done is None:
        return _unmarked(records.get(first), first, where, problems, notes)
    record, chain = records.get(done.below, (None, ""))
    if record is None or chain != done.chain:
        problems.append(f"{span(1, done.below - 1)} are gone, and the prune below record "
                        f"{done.below} (begun at {done.at}) has no record in the trail: "
                        "records were deleted by hand, or the prune's record was")
    else:
        notes.insert(0, f"records before {done.below} were pruned on {record.at[:10]} by "
                     f"{record.actor} ({record}); the trail begins at record {done.below}")
    return Cut(Head(done.below, done.chain), problems, notes)


def _unmarked(pruned: tuple[Entry, str] | None, first: int, where: str,
              problems: list[str], notes: list[str]) -> Cut:
    """Where a trail begins whose prune has no mark: at record 1, unless the trail holds the
    record of a prune that removed the records before its first one (``pruned``), whose mark
    is then what is missing from the anchors file ``where`` (a problem still)."""
    if pruned is None or first <= 1:
        return Cut(Head(1, GENESIS), problems, notes)
    record, chain = pruned
    problems.append(f"{span(1, first - 1)} are gone and {record} says it pruned them, but "
                    f"its mark (a line 'prune {first} …') is missing from the anchors file "
                    f"{where}: the file was edited or replaced — restore the anchors file "
                    "from its backup")
    return Cut(Head(first, chain), problems, notes)


def _pruned(e: Entry) -> tuple[int, str]:
    """The cut a prune record states: (below, the hash of the last record removed)."""
    try:
        after = json.loads(e.after)
    except ValueError:
        return 0, ""
    below = after.get("below") if isinstance(after, dict) else None
    chain = after.get("chain_at_cut") if isinstance(after, dict) else None
    if isinstance(below, int) and isinstance(chain, str):
        return below, chain
    return 0, ""


def keyed_from(entries: Sequence[Entry], anchors: Sequence[Anchor] = ()) -> int | None:
    """The number the keyed chain starts at: its first keyed record, or the first anchored
    one when that is earlier (a keyed record rewritten as unkeyed); None before keys."""
    starts = [e.seq for e in entries if e.alg != UNKEYED][:1] + [a.seq for a in anchors]
    return min(starts, default=None)


def span(first: int, last: int) -> str:
    return f"record {first}" if first == last else f"records {first} to {last}"


def verify(entries: list[Entry], heads: dict[str, Head] | None = None,
           key: bytes | None = None, anchors: Sequence[Anchor] = (),
           origin: Head = Head(1, GENESIS)) -> list[str]:
    """Every break in the chain, in order (empty: the trail is whole). ``entries`` as read,
    in the order of their numbers; ``key`` checks the keyed records (None: their MACs are not
    checked, which the caller reports); ``anchors``, the heads noted outside the database;
    ``heads`` names other known ends of the trail ("the head kept in the store", "the head
    given with --head") each trail must reach; ``origin``, where the trail begins (after a
    prune: the first record kept, and the hash of the last one removed)."""
    anchored = {a.seq: a for a in anchors}
    moved = _renumbered(entries, anchored, key)
    problems = _renumbering(moved)
    problems += _links(entries, keyed_from(entries, anchors), key, moved, origin)
    problems += _against_anchors(entries, anchored, moved)
    problems += _against_heads(entries, heads or {})
    return problems


def _links(entries: list[Entry], start: int | None, key: bytes | None,
           moved: dict[int, int], origin: Head) -> list[str]:
    """Gaps, repeats, edited records and broken links, record by record."""
    problems: list[str] = []
    unkeyed: list[Entry] = []  # records without a MAC where the keyed chain runs
    expected_prev, expected_seq = origin.hash, origin.seq
    for e in entries:
        if e.seq != expected_seq:
            if e is entries[0] and e.seq > expected_seq:
                problems.append(f"{span(expected_seq, e.seq - 1)} missing at the start of the "
                                "trail: deleted, not pruned (a cut at the start: only govcloud "
                                "audit prune removes old records, and none removed "
                                f"{'these' if e.seq - 1 > expected_seq else 'it'})")
            elif e.seq > expected_seq:
                problems.append(f"{span(expected_seq, e.seq - 1)} missing: deleted")
            else:
                problems.append(f"record {e.seq} appears again after record {expected_seq - 1}")
        if e.seq in moved:
            pass
        elif e.alg == UNKEYED and start is not None and e.seq >= start:
            unkeyed.append(e)
        else:
            problems += _sealed(e, key)
        if e.seq not in moved:
            if e.prev != expected_prev and (e.seq - 1) not in moved:
                problems.append(f"record {e.seq} does not follow the record before it (its "
                                "link is to another record): a record was deleted, inserted "
                                "or moved")
        expected_prev, expected_seq = e.hash, e.seq + 1
    if unkeyed:
        more = f" and {len(unkeyed) - 1} record(s) after it up to record {unkeyed[-1].seq}" \
            if len(unkeyed) > 1 else ""
        problems.insert(0, f"{unkeyed[0]}{more} {'are' if more else 'is'} not keyed, though "
                        f"the trail is keyed from "
                        f"record {start}: written or rewritten without the key")
    return problems


def _sealed(e: Entry, key: bytes | None) -> list[str]:
    """What is wrong with one record's own seal."""
    if e.alg == UNKEYED:
        if e.digest() != e.hash:
            return [f"{e} was edited: its fields do not give its hash"]
        return []
    if e.alg not in ALGORITHMS:
        return [f"{e} names an unknown algorithm {e.alg[:20]!r}: it was edited"]
    if not available(e.alg):
        return [f"{e} is sealed with {e.alg}, which this Python's OpenSSL lacks: verify on a "
                "machine whose OpenSSL has it"]
    if key is not None and e.digest(key) != e.hash:
        return [f"{e} was edited: its fields do not give its keyed MAC (it was changed, or "
                "sealed again without the key)"]
    return []


def _renumbered(entries: list[Entry], anchored: dict[int, Anchor],
                key: bytes | None) -> dict[int, int]:
    """Records renumbered after a deletion: their number -> the number they were anchored
    with (their content sealed under that number and the anchored link before it)."""
    if key is None or not anchored or not entries:
        return {}
    missing = min(max(anchored) - entries[-1].seq, RENUMBER_REACH)
    out: dict[int, int] = {}
    for e in entries if missing > 0 else []:
        here = anchored.get(e.seq)
        if here is not None and here.hash == e.hash:
            continue
        for was in range(e.seq + 1, e.seq + missing + 1):
            if was in anchored and _sealed_as(e, was, anchored, key):
                out[e.seq] = was
                break
    return out


def _sealed_as(e: Entry, was: int, anchored: dict[int, Anchor], key: bytes) -> bool:
    """Whether ``e`` is the record anchored as number ``was``, renumbered."""
    before = anchored.get(was - 1)
    links = {e.prev, before.hash if before else GENESIS}
    return any(replace(e, seq=was, prev=link, alg=alg).digest(key) == anchored[was].hash
               for link in links for alg in ALGORITHMS if available(alg))


def _renumbering(moved: dict[int, int]) -> list[str]:
    """One sentence per run of records renumbered by the same count."""
    problems: list[str] = []
    runs: list[list[int]] = []
    for seq in sorted(moved):
        if runs and runs[-1][1] == seq - 1 and moved[runs[-1][0]] - runs[-1][0] == \
                moved[seq] - seq:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    for first, last in runs:
        shift = moved[first] - first
        problems.append(f"{span(first, first + shift - 1)} deleted and the records after "
                        f"renumbered: {span(first, last)} of the trail "
                        f"{'is' if first == last else 'are'} {span(moved[first], moved[last])} "
                        "as anchored")
    return problems


def _against_anchors(entries: list[Entry], anchored: dict[int, Anchor],
                     moved: dict[int, int]) -> list[str]:
    """A cut, a wipe or a rewrite, against the heads anchored outside the database."""
    if not anchored:
        return []
    top = anchored[max(anchored)]
    if not entries:
        return [f"the trail is empty, but record {top.seq} was anchored at {top.at}: the "
                "trail was wiped"]
    problems: list[str] = []
    last = entries[-1].seq
    reached = moved.get(last, last)
    if top.seq > reached:
        problems.append(f"{span(reached + 1, top.seq)} missing after the end of the trail "
                        f"(record {top.seq} was anchored at {top.at}): the newest records "
                        "were cut")
    by_seq = {e.seq: e for e in entries}
    changed = [a for seq, a in sorted(anchored.items())
               if seq in by_seq and seq not in moved and by_seq[seq].hash != a.hash]
    if len(changed) == 1:
        problems.append(f"record {changed[0].seq} is not the one anchored at {changed[0].at}: "
                        "the trail was rewritten")
    elif changed:
        problems.append(f"{len(changed)} records from record {changed[0].seq} to record "
                        f"{changed[-1].seq} are not the ones anchored (record {changed[0].seq} "
                        f"at {changed[0].at}): the trail was rewritten")
    return problems


def _against_heads(entries: list[Entry], heads: dict[str, Head]) -> list[str]:
    problems: list[str] = []
    last = entries[-1] if entries else None
    for what, head in heads.items():
        if last is None or last.seq < head.seq:
            have = f"record {last.seq}" if last else "no record"
            problems.append(f"{what} is record {head.seq}, but the trail ends at {have}: the "
                            "newest records were deleted")
        else:
            at = next((e for e in entries if e.seq == head.seq), None)
            if at is None or at.hash != head.hash:
                problems.append(f"record {head.seq} is not the one {what} names: the trail "
                                "was rewritten")
    return problems
