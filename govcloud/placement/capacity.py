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
from govcloud.placement.hosts import Demand, Host, Ratios, pool_hosts
from govcloud.placement.place import lower_bound, place, spread

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
    bound = lower_bound(wanted, installed, ratios)
    zones = []
    for zone in ZONES:
        zd = [d for d in wanted if d.zone == zone]
        plans = [p for p in estate.plans.values() if p.department.zone == zone]
        extra = cheapest_extra(pool, zone, zd, ratios)
        hosts = [h for h in installed if h.zone == zone] + _added(pool, zone, extra)
        packed = place(zd, hosts, ratios)
        try:  # nova's spread over this zone's installed hosts alone
            nova: int | None = spread(zd, installed, ratios).count(zone)
        except CapacityError:
            nova = None
        util = [h.utilization(ratios) for h in packed.hosts]
        zones.append(ZoneCapacity(
            zone=zone,
            servers=len(zd),
            departments=len(plans),
            installed=dict(sorted(pool.hosts.get(zone, {}).items())),
            needed=packed.by_class(zone),
            extra=dict(sorted((c, n) for c, n in extra.items() if n)),
            lower_bound=bound.get(zone, 0),
            spread=nova,
            average={n: round(sum(u[k] for u in util) / len(util), 4) if util else 0.0
                     for k, n in enumerate(REPORTED)},
            peak={n: round(max((u[k] for u in util), default=0.0), 4)
                  for k, n in enumerate(REPORTED)},
            legacy_servers=sum(s.count for p in plans for s in p.legacy.servers),
        ))
    return CapacityReport(estate.settings.estate, pool.headroom, tuple(zones))


def cheapest_extra(pool: HostPool, zone: str, wanted: list[Demand], ratios: Ratios
                   ) -> dict[str, int]:
    """The cheapest hosts to add to ``zone`` so that ``wanted`` fits (class → count; empty
    when the installed hosts suffice). Classes may be mixed; the cost of a set is the sum of
    its hosts' cost weights, ties going to fewer hosts. For each count of the other classes,
    the fewest hosts of the cheapest class that make it fit are found by bisection, within
    the cost of what the packer would add on its own."""
    installed = [h for h in pool_hosts(pool) if h.zone == zone]
    if _fits(wanted, installed, ratios):
        return {}
    classes = sorted(pool.classes, key=lambda c: (c.cost_weight, c.name))
    # An upper bound: what the packer uses when every class may add one host per server.
    plenty = {c.name: len(wanted) for c in classes}
    packed = place(wanted, installed + _added(pool, zone, plenty), ratios)
    names = {h.name for h in installed}
    upper = [sum(1 for h in packed.hosts if h.host.host_class == c.name and
                 h.host.name not in names) for c in classes]
    limit = sum(n * c.cost_weight for n, c in zip(upper, classes, strict=True)) + 1e-9
    best = (limit, sum(upper), tuple(upper))

    def fits_with(counts: tuple[int, ...]) -> bool:
        extra = dict(zip((c.name for c in classes), counts, strict=True))
        return _fits(wanted, installed + _added(pool, zone, extra), ratios)

    first = classes[0].cost_weight
    for rest in _counts([int(limit // c.cost_weight) for c in classes[1:]]):
        spent = sum(n * c.cost_weight for n, c in zip(rest, classes[1:], strict=True))
        if spent > best[0]:
            continue
        lo, hi = 0, int((best[0] - spent) // first) if first > 0 else len(wanted)
        if not fits_with((hi, *rest)):
            continue
        while lo < hi:  # the fewest hosts of the cheapest class that fit, with ``rest``
            mid = (lo + hi) // 2
            if fits_with((mid, *rest)):
                hi = mid
            else:
                lo = mid + 1
        counts = (lo, *rest)
        candidate = (spent + lo * first, sum(counts), counts)
        if candidate < best:
            best = candidate
    return {c.name: n for c, n in zip(classes, best[2], strict=True) if n}


def _counts(ceilings: list[int]) -> list[tuple[int, ...]]:
    """Every vector of counts, each from 0 to its ceiling (few classes: few vectors)."""
    out: list[tuple[int, ...]] = [()]
    for top in ceilings:
        out = [(*v, k) for v in out for k in range(top + 1)]
    return out


def _fits(wanted: list[Demand], hosts: list[Host], ratios: Ratios) -> bool:
    try:
        place(wanted, hosts, ratios)
    except CapacityError:
        return False
    return True


def _added(pool: HostPool, zone: str, extra: dict[str, int]) -> list[Host]:
    """Hosts to add, named on from the installed ones of their class."""
    out = []
    for cls in pool.classes:
        have = pool.hosts.get(zone, {}).get(cls.name, 0)
        out += [Host(f"{zone}-{cls.name}-{i:02d}", zone, cls.name, cls.vcpus, cls.ram_gb,
                     cls.disk_gb, cls.cost_weight)
                for i in range(have + 1, have + extra.get(cls.name, 0) + 1)]
    return out


def what_if(before: Estate, after: Estate) -> WhatIf:
    """Capacity before and after a change, and the hosts it requires adding."""
    added = tuple(sorted(set(after.plans) - set(before.plans)))
    return WhatIf(report(before), report(after), added)
