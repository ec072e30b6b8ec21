"""Usage: what each department was allocated and used in a month, kept in the state store.

Pure: turns resources (from the plans or read from the cloud) into per-department
allocations, and makes the sim driver's deterministic "measured" samples from the plans'
expected load. ``govcloud.runtime.records`` keeps them in the state store, so every report
runs from the state store alone, without a cloud.

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
from collections.abc import Iterable
from dataclasses import dataclass

from govcloud.core.desired import Resource

PLATFORM = "_platform"
BILLED = ("vcpu", "ram_gb", "disk_gb", "volume_gb", "website", "backup_gb", "antivirus_seat")
COUNTED = ("servers", "volumes")
ITEMS = BILLED + COUNTED

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
        d = out.get(r.department)
        if d is None:
            d = out[r.department] = empty()
        if r.kind == "project":
            continue
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
