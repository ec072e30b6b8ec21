"""Backup state per department and site, against its recovery point objective (pure).

Each backup host writes one status report per department (``govcloud-backup status`` at the
primary site, ``govcloud-backup-dr status`` at the disaster-recovery site): ``key value``
lines with the newest snapshot's time, the snapshot count, the repository size and the last
restore drill. ``backup_report`` turns them, with the plans' RPOs and a clock, into one row
per department and site; ``govcloud report backup`` prints it and the exporter serves it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

SITES = ("primary", "dr")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


@dataclass(frozen=True)
class SiteStatus:
    """One department's repository at one site, as its backup host reported it."""

    department: str
    site: str
    host: str
    checked_at: str = ""
    last_snapshot: str = ""  # ISO 8601 with offset, as restic writes it
    snapshots: int = 0
    size_bytes: int | None = None
    drill_at: str = ""
    drill_status: str = ""
    drill_restore_seconds: float | None = None
    error: str = ""


@dataclass(frozen=True)
class BackupRow:
    """A report line: one department at one site, its age against its RPO."""

    department: str
    site: str
    host: str
    last_snapshot: str
    age_hours: float | None  # None: no snapshot at this site
    rpo_hours: int
    breach: bool
    snapshots: int
    size_bytes: int | None
    drill_at: str
    drill_ok: bool | None  # None: never drilled
    drill_status: str
    drill_restore_seconds: float | None
    error: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_status(department: str, site: str, host: str, text: str) -> SiteStatus:
    """A status report (``status.txt``) as a value."""
    v: dict[str, str] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key and rest and key not in v:
            v[key] = printable(rest.strip())

    def num(key: str) -> int | None:
        return int(v[key]) if v.get(key, "").isascii() and v.get(key, "").isdigit() else None

    seconds = v.get("drill_restore_seconds", "")
    return SiteStatus(
        department, site, host, v.get("checked_at", ""), v.get("last_snapshot", ""),
        num("snapshots") or 0, num("size_bytes"), v.get("drill_at", ""),
        v.get("drill_status", ""),
        float(seconds) if re.fullmatch(r"\d+(\.\d+)?", seconds) else None, v.get("error", ""))


def parse_time(stamp: str) -> datetime | None:
    """restic's ``2026-05-01T01:30:00.123456789+08:00`` (or a ``Z`` time) as an aware time."""
    if not stamp:
        return None
    text = _FRACTION.sub(r"\1", stamp.strip()).replace("Z", "+00:00")
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def backup_report(statuses: Iterable[SiteStatus], rpo: Mapping[str, int], now: datetime,
                  sites: Iterable[str] = SITES) -> list[BackupRow]:
    """One row per department (with an RPO) and site; a site with no report, or no
    snapshot, is in breach: the department cannot be recovered to its RPO from there."""
    found = {(s.department, s.site): s for s in statuses}
    rows = []
    for dep in sorted(rpo):
        for site in sites:
            s = found.get((dep, site), SiteStatus(dep, site, "-", error="no status report "
                                                  "(no backup host at this site?)"))
            taken = parse_time(s.last_snapshot)
            age = round((now - taken).total_seconds() / 3600, 2) if taken else None
            drill = None if not s.drill_status else s.drill_status == "ok"
            rows.append(BackupRow(
                dep, site, s.host, s.last_snapshot, age, rpo[dep],
                age is None or age > rpo[dep], s.snapshots, s.size_bytes, s.drill_at, drill,
                s.drill_status, s.drill_restore_seconds, s.error))
    return rows


def rows_from(data: Iterable[Mapping[str, Any]]) -> list[SiteStatus]:
    """Saved statuses (``status_dicts``) back as values."""
    return [SiteStatus(**{k: d[k] for k in SiteStatus.__dataclass_fields__ if k in d})
            for d in data]


def status_dicts(statuses: Iterable[SiteStatus]) -> list[dict[str, Any]]:
    return [asdict(s) for s in statuses]


def printable(text: str) -> str:
    """``text`` with its control characters (C0, DEL, C1) written as ``\\xNN``: file names a
    department chose, shown to an operator, never move their cursor or retitle their
    terminal."""
    return "".join(f"\\x{ord(ch):02x}" if unicodedata.category(ch) == "Cc" else ch
                   for ch in text)


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
