"""Utilization of one month: per department what was allocated (average units over the hours
run), measured use and quota, and the hosts in use. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govcloud.finance.period import Month


@dataclass(frozen=True)
class UtilRow:
    department: str
    name: str
    allocated: dict[str, float]
    used: dict[str, float | None]
    quota: dict[str, float]

    def ratio(self, item: str) -> float | None:
        a, u = self.allocated.get(item, 0), self.used.get(item)
        return None if u is None or not a else u / a

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "name": self.name,
                "allocated": self.allocated, "used": self.used, "quota": self.quota,
                "utilization": {i: self.ratio(i) for i in ("vcpu", "ram_gb", "disk_gb")}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UtilRow:
        return cls(d["department"], d["name"], d["allocated"], d["used"], d["quota"])


@dataclass(frozen=True)
class Utilization:
    """One month's utilization; ``period`` is its month (written as YYYY-MM)."""

    period: Month
    label: str  # "2026-11 month to date (…)" or the month
    rows: tuple[UtilRow, ...]
    hosts_in_use: dict[str, dict[str, int]]
    hosts_owned: dict[str, dict[str, int]]

    def as_dict(self) -> dict[str, Any]:
        return {"period": str(self.period), "label": self.label,
                "departments": [r.as_dict() for r in self.rows],
                "hosts_in_use": self.hosts_in_use, "hosts_owned": self.hosts_owned}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Utilization:
        return cls(Month.parse(d["period"], "period"), d.get("label", d["period"]),
                   tuple(UtilRow.from_dict(r) for r in d["departments"]), d["hosts_in_use"],
                   d["hosts_owned"])
