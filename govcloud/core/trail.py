"""The audit trail's hash chain: pure, so what a record is and how a chain is checked can be
read (and tested) without a database.

Each record is sealed with the SHA-256 of its own fields and the hash of the record before it
(``prev``; the first record's is ``GENESIS``). Editing a record changes its hash; deleting one
breaks the link of the next and leaves a gap in the numbers; moving one breaks the links around
it. Cutting off the newest records is caught against the head kept beside the trail, and
against a head noted elsewhere (``govcloud audit verify --head``): a chain alone cannot tell
that its end is missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """The one JSON text of ``value`` that is hashed and stored: sorted keys, no spaces."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


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

    def digest(self) -> str:
        """The hash this record's fields give (equal to ``hash`` unless it was edited)."""
        fields = [self.seq, self.at, self.actor, self.action, self.subject, self.department,
                  self.before, self.after, self.reason, self.source, self.prev]
        return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["before"] = json.loads(self.before)
        data["after"] = json.loads(self.after)
        return data


def seal(prev: Entry | None, at: str, actor: str, action: str, subject: str,
         department: str = "", before: Any = None, after: Any = None, reason: str = "",
         source: str = "") -> Entry:
    """The record that follows ``prev`` (None: the first), with its hash."""
    draft = Entry(prev.seq + 1 if prev else 1, at, actor, action, subject, department,
                  canonical(before), canonical(after), reason, source,
                  prev.hash if prev else GENESIS, "")
    return Entry(**{**asdict(draft), "hash": draft.digest()})


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


def verify(entries: list[Entry], heads: dict[str, Head] | None = None) -> list[str]:
    """Every break in the chain, in order (empty: the trail is whole). ``entries`` as read,
    in the order of their numbers; ``heads`` names known ends of the trail ("the head kept
    in the store", "the head given with --head") each trail must reach."""
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS, 1
    for e in entries:
        if e.seq != expected_seq:
            if e.seq > expected_seq:
                gone = f"record {expected_seq}" if e.seq == expected_seq + 1 else \
                    f"records {expected_seq} to {e.seq - 1}"
                problems.append(f"{gone} missing: deleted")
            else:
                problems.append(f"record {e.seq} appears again after record {expected_seq - 1}")
        if e.digest() != e.hash:
            problems.append(f"record {e.seq} ({e.action} {e.subject}, {e.at}) was edited: its "
                            "fields do not give its hash")
        if e.prev != expected_prev:
            problems.append(f"record {e.seq} does not follow the record before it (its link "
                            "is to another record): a record was deleted, inserted or moved")
        expected_prev, expected_seq = e.hash, e.seq + 1
    last = entries[-1] if entries else None
    for what, head in (heads or {}).items():
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
