"""Antivirus findings per department, from ClamAV scan logs (pure).

Each scan of a department writes one log (``<results>/<department>/<time>.log``) holding
clamscan's ``--infected`` lines, ``PATH: SIGNATURE FOUND``. The latest log of each host and
department says what is infected now; an older finding that a later scan no longer reports
has been cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from govcloud.services.recovery import printable

FOUND = re.compile(r"^(?P<path>.+): (?P<signature>\S+) FOUND$")
STAMP = re.compile(r"^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\d*Z$")


@dataclass(frozen=True)
class ScanLog:
    """One scan's log as collected from a host."""

    host: str
    department: str
    stamp: str
    text: str


@dataclass(frozen=True)
class Finding:
    department: str
    host: str
    path: str
    signature: str
    scanned_at: str


@dataclass
class DepartmentSecurity:
    department: str
    hosts: list[str] = field(default_factory=list)
    last_scan: str = ""
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "hosts": self.hosts,
                "last_scan": self.last_scan or None,
                "findings": [f.__dict__ for f in self.findings]}


def parse_scan(text: str) -> list[tuple[str, str]]:
    """``(path, signature)`` for every ``FOUND`` line of a clamscan log."""
    out = []
    for line in text.splitlines():
        m = FOUND.match(line.rstrip("\r"))
        if m:
            out.append((printable(m["path"]), printable(m["signature"])))
    return out


def when(stamp: str) -> str:
    """``20261126T091500123Z`` as ``2026-11-26T09:15:00Z``."""
    m = STAMP.match(stamp)
    if not m:
        return stamp
    y, mo, d, h, mi, s = m.groups()
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}Z"


def security_report(logs: Iterable[ScanLog], departments: Iterable[str] = ()
                    ) -> list[DepartmentSecurity]:
    """Per department, the findings of its latest scan on each host."""
    latest: dict[tuple[str, str], ScanLog] = {}
    for log in logs:
        key = (log.department, log.host)
        if key not in latest or log.stamp > latest[key].stamp:
            latest[key] = log
    out = {d: DepartmentSecurity(d) for d in departments}
    for (dep, host), log in sorted(latest.items()):
        entry = out.setdefault(dep, DepartmentSecurity(dep))
        entry.hosts.append(host)
        at = when(log.stamp)
        entry.last_scan = max(entry.last_scan, at)
        entry.findings += [Finding(dep, host, path, sig, at) for path, sig in
                           parse_scan(log.text)]
    return [out[d] for d in sorted(out)]
