"""Usage: what each department was allocated and used in a month, kept in the state store.

Pure: turns resources (from the plans or read from the cloud) into per-department
allocations, and makes the sim driver's deterministic "measured" samples from the plans'
expected load. ``govcloud.books.records`` keeps them in the state store, so every report
runs from the state store alone, without a cloud.

Items (all per department and month):
  vcpu, ram_gb, disk_gb   allocated to its servers (flavor sizes)
  volume_gb, volumes      data volumes
  website                 hosted websites
  backup_gb               protected data: data volumes of servers with backup on, plus the
                          storage of its websites, when the department's backup is enabled
  antivirus_seat          servers scanned, when the department's antivirus is enabled
  servers                 count (not billed)
  vcpu_hours, ram_mb_hours, disk_gb_hours
                          (OpenStack only, not billed) what nova measured for the window,
                          as its usage API gives it: to the second, up to the moment asked,
                          the same figures ``openstack usage show`` prints
The platform's own rows (department ``_platform``) hold the shared hosts per zone and class
as the cloud reported them when the month was collected: ``hosts:<zone>:<class>`` those
running servers, ``hosts_idle:`` those powered on (enabled) with no server, ``hosts_off:``
those disabled with no server (parked by a consolidation: no power), and ``hosts_needed:``
the fewest the placement would need for the same servers (the ideal, shown beside the real
count); and the hours of the month that had run when it was collected (``hours``:
allocated = hours run, used = hours in the month); in the month the estate's dated record
began, the hour it began (``first_hour``: allocated = hours of the month before it, not
counted), and with the cloud's measured hours when they were asked for (``measured_to``: allocated =
POSIX seconds when asked, used = when answered; nova counts up to a moment between the two).

Proration (the documented rule): a resource counts for the hours of its life inside the
month (``period.Window.billed_hours``); a department's quantity of an item is
Σ units × billed hours / hours in the month, rounded to 6 decimals — unit-months. A server of
4 vCPU that ran 186 of October's 744 hours is 1 vCPU-month. Billing counts every hour begun
(the hour created down, the hour deleted or under way up); nova's measured hours, recorded
beside (``MEASURED``), count seconds, so a server bills between 0 and 2 hours more than nova
measured for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from govcloud.core import kinds
from govcloud.core.desired import Resource
from govcloud.finance.period import Month, Window, parse_time

PLATFORM = "_platform"
BILLED = kinds.BILLED  # what each kind of resource is metered on
COUNTED = ("servers", "volumes", "member")  # member: months its project existed
ITEMS = BILLED + COUNTED
# Measured by the cloud: record item → the driver's usage key.
MEASURED = {"vcpu_hours": "vcpu_hours", "ram_mb_hours": "ram_mb_hours",
            "disk_gb_hours": "disk_gb_hours"}

@dataclass(frozen=True)
class Record:
    """One department's allocation of one item in one month, and measured use if known."""

    month: Month
    department: str
    item: str
    allocated: float
    used: float | None
    source: str  # sim | openstack | plan


def empty() -> dict[str, float]:
    return {item: 0.0 for item in ITEMS}


def allocations(resources: Iterable[Resource],
                weight: Callable[[Resource], float] | None = None) -> dict[str, dict[str, float]]:
    """Department → item → allocated units, from resources (desired or actual); each
    resource's units multiplied by ``weight(resource)`` when given (its share of a month).
    A department's project counts as its membership (``member``); a volume's size counts
    as protected data when its server and its department have backup on (a volume or
    website read from the dated record carries that as its own ``backup`` flag)."""
    res = list(resources)
    w = weight or (lambda r: 1.0)
    out: dict[str, dict[str, float]] = {}
    av_on: dict[str, bool] = {}
    backup_on: dict[str, bool] = {}
    backed: dict[str, bool] = {}  # department/server → its backup is on
    for r in res:
        if r.kind == "antivirus":
            av_on[r.department] = bool(r.attrs.get("enabled", True))
        elif r.kind == "backup":
            backup_on[r.department] = bool(r.attrs.get("enabled", True))
        elif r.kind == "server":
            backed[f"{r.department}/{r.name}"] = bool(r.attrs.get("backup", True))
    for r in res:
        share = w(r)
        if not share:
            continue
        d = out.get(r.department)
        if d is None:  # not setdefault: that builds an empty row for every resource
            d = out[r.department] = empty()
        a = r.attrs
        if r.kind == "project":
            d["member"] += share
        elif r.kind == "server":
            d["servers"] += share
            d["vcpu"] += a["vcpus"] * share
            d["ram_gb"] += a["ram_gb"] * share
            d["disk_gb"] += a["disk_gb"] * share
            if a.get("antivirus", True) and av_on.get(r.department, True):
                d["antivirus_seat"] += share
        elif r.kind == "volume":
            d["volumes"] += share
            d["volume_gb"] += a["size_gb"] * share
            backs = a["backup"] if "backup" in a else \
                backed.get(f"{r.department}/{a.get('server')}") and \
                backup_on.get(r.department, True)
            if backs:
                d["backup_gb"] += a["size_gb"] * share
        elif r.kind == "website":
            d["website"] += share
            if a.get("backup", backup_on.get(r.department, True)):
                d["backup_gb"] += a.get("storage_gb", 0) * share
    return out


def lifetime(r: Resource) -> tuple[str | None, str | None]:
    """When a resource was created and deleted (ISO text; None when not known / alive)."""
    return r.computed.get("created_at"), r.computed.get("deleted_at")


def prorated(resources: Iterable[Resource], window: Window) -> dict[str, dict[str, float]]:
    """Department → item → unit-months in the window (see the module's proration rule)."""
    month_hours = window.month.hours

    def share(r: Resource) -> float:
        created, deleted = lifetime(r)
        return window.billed_hours(parse_time(created) if created else None,
                                   parse_time(deleted) if deleted else None) / month_hours

    out = allocations(resources, share)
    return {d: {i: round(v, 6) for i, v in items.items()} for d, items in out.items()}


def window_record(window: Window, source: str) -> Record:
    """The platform row saying how much of the month had run when it was collected."""
    return Record(window.month, PLATFORM, "hours", float(window.hours),
                  float(window.month.hours), source)


FIRST_HOUR = "first_hour"


def first_record(window: Window, first: int, source: str) -> list[Record]:
    """The platform row saying the estate's record began ``first`` hours into the month
    (none when it began before the month): those hours are not counted."""
    return [Record(window.month, PLATFORM, FIRST_HOUR, float(first), float(first), source)] \
        if first else []


def first_hour(records: Iterable[Record]) -> int:
    """Hours of the month before the estate's record began (0: none)."""
    for r in records:
        if r.department == PLATFORM and r.item == FIRST_HOUR:
            return int(r.allocated)
    return 0


def hours_counted(records: Iterable[Record]) -> tuple[int, int] | None:
    """(hours counted, hours in the month): the hours run since the estate's record began
    (all the hours run when it began before the month); None: a whole month."""
    recs = list(records)
    run = hours_run(recs)
    first = first_hour(recs)
    if run is None:
        return None
    return max(run[0] - first, 0), run[1]


def hours_run(records: Iterable[Record]) -> tuple[int, int] | None:
    """(hours run, hours in the month) from the platform row, or None (a whole month)."""
    for r in records:
        if r.department == PLATFORM and r.item == "hours":
            return int(r.allocated), int(r.used or r.allocated)
    return None


def _wobble(*parts: str) -> float:
    """A deterministic factor in [0.9, 1.1) from the parts: the sim's measurement noise."""
    h = hashlib.sha256("|".join(parts).encode()).digest()
    return 0.9 + 0.2 * int.from_bytes(h[:4], "big") / 2**32


def sim_samples(resources: Iterable[Resource], window: Window) -> list[Record]:
    """The sim driver's measured use: allocation × the plan's expected load × noise, in
    unit-months like the allocations.

    Deterministic for the same resources and period, so a report is reproducible.
    """
    res = list(resources)
    month = window.month
    seed = str(month)  # of the noise
    alloc = prorated(res, window)
    used_cpu: dict[str, float] = {}
    used_ram: dict[str, float] = {}
    for r in res:
        if r.kind == "server":
            load = r.attrs.get("load") or {}
            part = prorated([r], window).get(r.department, {})
            used_cpu[r.department] = used_cpu.get(r.department, 0.0) + \
                part.get("vcpu", 0.0) * float(load.get("cpu", 0.3))
            used_ram[r.department] = used_ram.get(r.department, 0.0) + \
                part.get("ram_gb", 0.0) * float(load.get("ram", 0.5))
    out = []
    for dep, items in sorted(alloc.items()):
        for item in ITEMS:
            allocated = items[item]
            if item == "vcpu":
                used: float | None = used_cpu.get(dep, 0.0) * _wobble(dep, seed, item)
            elif item == "ram_gb":
                used = used_ram.get(dep, 0.0) * _wobble(dep, seed, item)
            elif item in ("disk_gb", "volume_gb", "backup_gb"):
                used = allocated * 0.55 * _wobble(dep, seed, item)
            else:
                used = allocated
            if used is not None:
                used = round(min(used, allocated), 3)
            out.append(Record(month, dep, item, float(allocated), used, "sim"))
    return out


HOST_STATES = {"hosts": "running", "hosts_idle": "idle", "hosts_off": "off",
               "hosts_needed": "needed"}


@dataclass(frozen=True)
class HostCounts:
    """The shared hosts of a month, zone → class → count: ``running`` servers, ``idle``
    (powered on, empty), ``off`` (disabled and empty: no power) and ``needed`` (the fewest
    the placement would use for the same servers)."""

    running: dict[str, dict[str, int]]
    idle: dict[str, dict[str, int]]
    off: dict[str, dict[str, int]]
    needed: dict[str, dict[str, int]]

    def total(self, state: str) -> int:
        return sum(n for z in getattr(self, state).values() for n in z.values())


def host_records(month: Month, counts: HostCounts, source: str) -> list[Record]:
    """The platform rows of the month's shared hosts in every state (zones and classes with
    none left out)."""
    return [Record(month, PLATFORM, f"{prefix}:{zone}:{cls}", float(n), float(n), source)
            for prefix, state in HOST_STATES.items()
            for zone, classes in sorted(getattr(counts, state).items())
            for cls, n in sorted(classes.items()) if n]


HOST_MONTHS = "host_months"


def host_month_records(month: Month, months: dict[str, dict[str, dict[str, Any]]],
                       source: str) -> list[Record]:
    """The platform rows of the hours each state of host had in the month, from the dated
    record: ``host_months:<running|idle|off>:<zone>:<class>`` = Σ hours / hours in the
    month, rounded to 6 decimals (power is billed on running + idle)."""
    return [Record(month, PLATFORM, f"{HOST_MONTHS}:{state}:{zone}:{cls}",
                   round(float(n), 6), round(float(n), 6), source)
            for state, zones in sorted(months.items())
            for zone, classes in sorted(zones.items())
            for cls, n in sorted(classes.items()) if n]


def by_department(records: Iterable[Record]) -> dict[str, dict[str, float]]:
    """Department → item → allocated (platform rows and the cloud's measured hours left
    out)."""
    out: dict[str, dict[str, float]] = {}
    for r in records:
        if r.department != PLATFORM and r.item not in MEASURED:
            row = out.get(r.department)
            if row is None:
                row = out[r.department] = empty()
            row[r.item] = r.allocated
    return out


def average(records: Iterable[Record]) -> dict[str, dict[str, float]]:
    """Department → item → average units over the hours counted (unit-months scaled up for a
    month to date, or a month the estate's record began in), for utilization."""
    recs = list(records)
    run = hours_counted(recs)
    scale = run[1] / run[0] if run and run[0] else 1.0
    return {d: {i: round(v * scale, 3) for i, v in items.items()}
            for d, items in by_department(recs).items()}


def used_by_department(records: Iterable[Record]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for r in records:
        if r.department != PLATFORM and r.item not in MEASURED:
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


@dataclass(frozen=True)
class Allocated:
    """A month's allocations as the chargeback reads them."""

    by_department: dict[str, dict[str, float]]
    hosts_in_use: dict[str, dict[str, int]]
    hours: tuple[int, int] | None
    hosts: HostCounts | None = None  # every state; None: recorded before they were
    # state → zone → class → host-months, from the dated record; None: a month collected
    # before govcloud kept one (power is then billed on the counts at collection).
    host_months: dict[str, dict[str, dict[str, float]]] | None = None
    first_hour: int = 0  # hours of the month before the estate's record began: not counted


def allocated(month: Month, rows: Iterable[tuple[str, str, float]]) -> Allocated:
    """From (department, item, allocated) rows: department → item → units (``member`` only
    where recorded: a department without it counts 1 in the even and weighted pools), the
    hosts in use (platform rows ``hosts:zone:class``), the hours run (platform row
    ``hours``) and those before the estate's record began (``first_hour``)."""
    out: dict[str, dict[str, float]] = {}
    states: dict[str, dict[str, dict[str, int]]] = {s: {} for s in HOST_STATES.values()}
    run = None
    first = 0
    months: dict[str, dict[str, dict[str, float]]] = {}
    for dep, item, value in rows:
        if dep == PLATFORM:
            prefix = item.split(":", 1)[0]
            if prefix == HOST_MONTHS and item.count(":") == 3:
                _, state, zone, cls = item.split(":", 3)
                months.setdefault(state, {}).setdefault(zone, {})[cls] = float(value)
            elif prefix in HOST_STATES and item.count(":") == 2:
                _, zone, cls = item.split(":", 2)
                states[HOST_STATES[prefix]].setdefault(zone, {})[cls] = int(value)
            elif item == "hours":
                run = value
            elif item == FIRST_HOUR:
                first = int(value)
            continue
        row = out.get(dep)
        if row is None:
            row = out[dep] = empty()
            del row["member"]  # none recorded (a month collected before the record): 1
        row[item] = value
    counts = HostCounts(**states) if any(states[s] for s in ("idle", "off", "needed")) \
        else None
    return Allocated(out, states["running"],
                     None if run is None else (int(run), month.hours), counts,
                     months or None, first)
