"""Capacity planning: how many hosts the estate needs, how full they run, what it saved.

Pure: an ``Estate`` in, a ``CapacityReport`` out. Per zone it gives the hosts needed per host
class (packed by ``placement.place``), average and peak utilization per dimension, the lower
bound, what nova's default spread would occupy on the installed pool, and the consolidation
ratio against the departments' legacy servers. ``what_if`` compares two estates (say, with a
new department's plan added) and says how many hosts, if any, must be added to the pool.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from govcloud.core.desired import Resource, desired_state
from govcloud.core.model import ZONES, Estate, HostPool
from govcloud.errors import CapacityError
from govcloud.placement.hosts import (
    Demand,
    Host,
    Placement,
    Ratios,
    lower_bound,
    place,
    pool_hosts,
    spread,
)

REPORTED = ("vcpu", "ram", "disk")  # how utilization is reported, in the order of DIMENSIONS


@dataclass(frozen=True)
class ZoneCapacity:
    """The capacity picture of one network zone."""

    zone: str
    servers: int
    departments: int
    installed: dict[str, int]  # host class -> hosts in the pool
    needed: dict[str, int]  # host class -> hosts the packing uses
    extra: dict[str, int]  # host class -> hosts to add to the pool (empty when it fits)
    lower_bound: int
    spread: int | None  # hosts nova's spread occupies on the installed pool; None: NoValidHost
    average: dict[str, float]  # dimension -> mean utilization over used hosts
    peak: dict[str, float]  # dimension -> highest utilization of a used host
    legacy_servers: int

    @property
    def hosts(self) -> int:
        return sum(self.needed.values())

    @property
    def consolidation_ratio(self) -> float:
        """Legacy servers per host needed now."""
        return self.legacy_servers / self.hosts if self.hosts else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone, "servers": self.servers, "departments": self.departments,
            "hosts": self.hosts, "installed": self.installed, "needed": self.needed,
            "extra": self.extra, "lower_bound": self.lower_bound, "spread": self.spread,
            "utilization": {"average": self.average, "peak": self.peak},
            "legacy_servers": self.legacy_servers,
            "consolidation_ratio": round(self.consolidation_ratio, 2),
        }


@dataclass(frozen=True)
class CapacityReport:
    estate: str
    headroom: float
    zones: tuple[ZoneCapacity, ...]

    @property
    def hosts(self) -> int:
        return sum(z.hosts for z in self.zones)

    @property
    def extra(self) -> int:
        return sum(sum(z.extra.values()) for z in self.zones)

    def zone(self, name: str) -> ZoneCapacity:
        return next(z for z in self.zones if z.zone == name)

    def as_dict(self) -> dict[str, Any]:
        legacy = sum(z.legacy_servers for z in self.zones)
        return {
            "estate": self.estate, "headroom": self.headroom, "hosts": self.hosts,
            "extra_hosts": self.extra, "legacy_servers": legacy,
            "consolidation_ratio": round(legacy / self.hosts, 2) if self.hosts else 0.0,
            "zones": [z.as_dict() for z in self.zones],
        }


@dataclass(frozen=True)
class WhatIf:
    """The estate before and after a change (such as a department joining)."""

    before: CapacityReport
    after: CapacityReport
    departments: tuple[str, ...]  # departments the change adds

    @property
    def extra(self) -> dict[str, dict[str, int]]:
        """Zone -> host class -> hosts to add to the pool after the change."""
        return {z.zone: dict(z.extra) for z in self.after.zones if z.extra}

    def as_dict(self) -> dict[str, Any]:
        return {
            "departments": list(self.departments),
            "hosts_before": self.before.hosts, "hosts_after": self.after.hosts,
            "extra_hosts": self.extra,
            "before": self.before.as_dict(), "after": self.after.as_dict(),
        }


def demands(resources: Iterable[Resource]) -> list[Demand]:
    """The servers of a desired (or actual) state, as placement demands; anti-affinity groups
    are keyed ``department/server_group`` as the drivers key them."""
    out = []
    for r in resources:
        if r.kind != "server":
            continue
        a = r.attrs
        group = a.get("server_group")
        out.append(Demand(r.key, r.department, a["zone"], a["vcpus"], a["ram_gb"],
                          a["disk_gb"], f"{r.department}/{group}" if group else None))
    return sorted(out, key=lambda d: d.key)


def report(estate: Estate) -> CapacityReport:
    """The capacity report of an estate."""
    pool = estate.settings.host_pool
    ratios = Ratios.of(pool)
    wanted = demands(desired_state(estate).values())
    installed = pool_hosts(pool)
    try:
        packed = place(wanted, installed, ratios)
    except CapacityError:
        packed = place(wanted, planning_hosts(pool, wanted), ratios)
    bound = lower_bound(wanted, installed, ratios)
    try:
        nova: Placement | None = spread(wanted, installed, ratios)
    except CapacityError:
        nova = None
    names = {h.name for h in installed}
    zones = []
    for zone in ZONES:
        zd = [d for d in wanted if d.zone == zone]
        plans = [p for p in estate.plans.values() if p.department.zone == zone]
        used = [h for h in packed.hosts if h.host.zone == zone]
        extra: dict[str, int] = {}
        for h in used:
            if h.host.name not in names:
                extra[h.host.host_class] = extra.get(h.host.host_class, 0) + 1
        util = [h.utilization(ratios) for h in used]
        zones.append(ZoneCapacity(
            zone=zone,
            servers=len(zd),
            departments=len(plans),
            installed=dict(sorted(pool.hosts.get(zone, {}).items())),
            needed=packed.by_class(zone),
            extra=dict(sorted(extra.items())),
            lower_bound=bound.get(zone, 0),
            spread=nova.count(zone) if nova is not None else None,
            average={n: round(sum(u[k] for u in util) / len(util), 4) if util else 0.0
                     for k, n in enumerate(REPORTED)},
            peak={n: round(max((u[k] for u in util), default=0.0), 4)
                  for k, n in enumerate(REPORTED)},
            legacy_servers=sum(s.count for p in plans for s in p.legacy.servers),
        ))
    return CapacityReport(estate.settings.estate, pool.headroom, tuple(zones))


def what_if(before: Estate, after: Estate) -> WhatIf:
    """Capacity before and after a change, and the hosts it requires adding."""
    added = tuple(sorted(set(after.plans) - set(before.plans)))
    return WhatIf(report(before), report(after), added)


def planning_hosts(pool: HostPool, wanted: Iterable[Demand]) -> list[Host]:
    """The installed hosts, plus as many hosts of every class per zone as there are servers in
    it (named on from the installed ones): a pool that always fits, to count what to buy."""
    wanted = list(wanted)
    out = pool_hosts(pool)
    for zone in ZONES:
        n = sum(1 for d in wanted if d.zone == zone)
        for cls in sorted(pool.classes, key=lambda c: c.name):
            have = pool.hosts.get(zone, {}).get(cls.name, 0)
            out += [Host(f"{zone}-{cls.name}-{i:02d}", zone, cls.name, cls.vcpus, cls.ram_gb,
                         cls.disk_gb, cls.cost_weight) for i in range(have + 1, have + n + 1)]
    return out
