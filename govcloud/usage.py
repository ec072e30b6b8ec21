"""Usage: what each department was allocated and used in a month, kept in the state store.

The pure part turns resources (from the plans or read from the cloud) into per-department
allocations, and makes the sim driver's deterministic "measured" samples from the plans'
expected load. The store part keeps them in a ``usage`` table, so every report runs from the
state store alone, without a cloud. Closed statements live in ``statements``.

Items (all per department and month):
  vcpu, ram_gb, disk_gb   allocated to its servers (flavor sizes)
  volume_gb, volumes      data volumes
  website                 hosted websites
  backup_gb               protected data: data volumes of servers with backup on, plus the
                          storage of its websites, when the department's backup is enabled
  antivirus_seat          servers scanned, when the department's antivirus is enabled
  servers                 count (not billed)
The platform's own rows (department ``_platform``) hold hosts in use per class:
``hosts:<zone>:<class>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from govcloud.desired import Resource


class Store(Protocol):
    """What this module needs of the state store (govcloud.store.Store has it)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def transaction(self) -> AbstractContextManager[None]: ...


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

PLATFORM = "_platform"
BILLED = ("vcpu", "ram_gb", "disk_gb", "volume_gb", "website", "backup_gb", "antivirus_seat")
COUNTED = ("servers", "volumes")
ITEMS = BILLED + COUNTED

TABLES = [
    """CREATE TABLE IF NOT EXISTS usage (
        period TEXT NOT NULL, department TEXT NOT NULL, item TEXT NOT NULL,
        allocated REAL NOT NULL, used REAL, source TEXT NOT NULL, collected_at TEXT NOT NULL,
        PRIMARY KEY (period, department, item))""",
    """CREATE TABLE IF NOT EXISTS statements (
        period TEXT PRIMARY KEY, body TEXT NOT NULL, closed_at TEXT NOT NULL,
        closed_by TEXT NOT NULL)""",
]


@dataclass(frozen=True)
class Record:
    """One department's allocation of one item in one month, and measured use if known."""

    period: str
    department: str
    item: str
    allocated: float
    used: float | None
    source: str  # sim | openstack | plan


def empty() -> dict[str, float]:
    return {item: 0.0 for item in ITEMS}


def allocations(resources: Iterable[Resource]) -> dict[str, dict[str, float]]:
    """Department → item → allocated units, from resources (desired or actual)."""
    res = list(resources)
    out: dict[str, dict[str, float]] = {}
    av_on: dict[str, bool] = {}
    backup_on: dict[str, bool] = {}
    volumes: dict[str, float] = {}
    for r in res:
        if r.kind == "antivirus":
            av_on[r.department] = bool(r.attrs.get("enabled", True))
        elif r.kind == "backup":
            backup_on[r.department] = bool(r.attrs.get("enabled", True))
        elif r.kind == "volume":
            volumes[f"{r.department}/{r.attrs.get('server')}"] = float(r.attrs["size_gb"])
    for r in res:
        if r.kind == "project":
            out.setdefault(r.department, empty())
            continue
        d = out.setdefault(r.department, empty())
        a = r.attrs
        if r.kind == "server":
            d["servers"] += 1
            d["vcpu"] += a["vcpus"]
            d["ram_gb"] += a["ram_gb"]
            d["disk_gb"] += a["disk_gb"]
            if a.get("antivirus", True) and av_on.get(r.department, True):
                d["antivirus_seat"] += 1
            if a.get("backup", True) and backup_on.get(r.department, True):
                d["backup_gb"] += volumes.get(f"{r.department}/{r.name}", 0.0)
        elif r.kind == "volume":
            d["volumes"] += 1
            d["volume_gb"] += a["size_gb"]
        elif r.kind == "website":
            d["website"] += 1
            if backup_on.get(r.department, True):
                d["backup_gb"] += a.get("storage_gb", 0)
    return out


def _wobble(*parts: str) -> float:
    """A deterministic factor in [0.9, 1.1) from the parts: the sim's measurement noise."""
    h = hashlib.sha256("|".join(parts).encode()).digest()
    return 0.9 + 0.2 * int.from_bytes(h[:4], "big") / 2**32


def sim_samples(resources: Iterable[Resource], period: str) -> list[Record]:
    """The sim driver's measured use: allocation × the plan's expected load × noise.

    Deterministic for the same resources and period, so a report is reproducible.
    """
    res = list(resources)
    alloc = allocations(res)
    used_cpu: dict[str, float] = {}
    used_ram: dict[str, float] = {}
    for r in res:
        if r.kind == "server":
            load = r.attrs.get("load") or {}
            used_cpu[r.department] = used_cpu.get(r.department, 0.0) + \
                r.attrs["vcpus"] * float(load.get("cpu", 0.3))
            used_ram[r.department] = used_ram.get(r.department, 0.0) + \
                r.attrs["ram_gb"] * float(load.get("ram", 0.5))
    out = []
    for dep, items in sorted(alloc.items()):
        for item in ITEMS:
            allocated = items[item]
            if item == "vcpu":
                used: float | None = used_cpu.get(dep, 0.0) * _wobble(dep, period, item)
            elif item == "ram_gb":
                used = used_ram.get(dep, 0.0) * _wobble(dep, period, item)
            elif item in ("disk_gb", "volume_gb", "backup_gb"):
                used = allocated * 0.55 * _wobble(dep, period, item)
            else:
                used = allocated
            if used is not None:
                used = round(min(used, allocated), 3)
            out.append(Record(period, dep, item, float(allocated), used, "sim"))
    return out


def host_records(period: str, by_zone_class: dict[str, dict[str, int]],
                 source: str) -> list[Record]:
    return [Record(period, PLATFORM, f"hosts:{zone}:{cls}", float(n), float(n), source)
            for zone, classes in sorted(by_zone_class.items())
            for cls, n in sorted(classes.items())]


# --- the store ------------------------------------------------------------------------------
def ensure_tables(store: Store) -> None:
    for stmt in TABLES:
        store.execute(stmt)


def record(store: Store, records: Iterable[Record], replace_period: str | None = None) -> int:
    """Store records (replacing earlier ones of the same period, department and item)."""
    ensure_tables(store)
    rows = list(records)
    stamp = now()
    with store.transaction():
        if replace_period:
            store.execute("DELETE FROM usage WHERE period = ?", (replace_period,))
        for r in rows:
            store.execute(
                "INSERT INTO usage (period, department, item, allocated, used, source, "
                "collected_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (period, department, item) "
                "DO UPDATE SET allocated = excluded.allocated, used = excluded.used, "
                "source = excluded.source, collected_at = excluded.collected_at",
                (r.period, r.department, r.item, r.allocated, r.used, r.source, stamp))
    return len(rows)


def load(store: Store, period: str) -> list[Record]:
    ensure_tables(store)
    rows = store.query("SELECT period, department, item, allocated, used, source FROM usage "
                       "WHERE period = ? ORDER BY department, item", (period,))
    return [Record(p, d, i, float(a), None if u is None else float(u), s)
            for p, d, i, a, u, s in rows]


def periods(store: Store) -> list[str]:
    ensure_tables(store)
    return [p for (p,) in store.query("SELECT DISTINCT period FROM usage ORDER BY period")]


def by_department(records: Iterable[Record]) -> dict[str, dict[str, float]]:
    """Department → item → allocated (platform rows left out)."""
    out: dict[str, dict[str, float]] = {}
    for r in records:
        if r.department != PLATFORM:
            out.setdefault(r.department, empty())[r.item] = r.allocated
    return out


def used_by_department(records: Iterable[Record]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for r in records:
        if r.department != PLATFORM:
            out.setdefault(r.department, {})[r.item] = r.used
    return out


def hosts_in_use(records: Iterable[Record]) -> dict[str, dict[str, int]]:
    """Zone → host class → hosts in use, from the platform rows."""
    out: dict[str, dict[str, int]] = {}
    for r in records:
        if r.department == PLATFORM and r.item.startswith("hosts:"):
            _, zone, cls = r.item.split(":", 2)
            out.setdefault(zone, {})[cls] = int(r.allocated)
    return out


def save_statement(store: Store, period: str, body: dict[str, Any], by: str) -> None:
    ensure_tables(store)
    store.execute("INSERT INTO statements (period, body, closed_at, closed_by) "
                  "VALUES (?,?,?,?)", (period, json.dumps(body, ensure_ascii=False,
                                                         sort_keys=True), now(), by))


def statement(store: Store, period: str) -> tuple[dict[str, Any], str] | None:
    """A closed month's frozen chargeback and when it was closed, or None."""
    ensure_tables(store)
    rows = store.query("SELECT body, closed_at FROM statements WHERE period = ?", (period,))
    return (json.loads(rows[0][0]), rows[0][1]) if rows else None
