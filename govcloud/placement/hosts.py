"""Hosts and servers as placement sees them: a host of the pool (``Host``), a server to place
(``Demand``), the allocation ratios and headroom (``Ratios``), what is placed on a host
(``Usage``, ``HostLoad``) and a whole placement (``Placement``); a pool's hosts
(``pool_hosts``), a host's usable capacity (``capacity``) and whether one more server fits it
(``fits``). Pure.

Capacity of a host per dimension = physical size × allocation ratio × headroom.
Zones never mix; replicas of one anti-affinity group land on distinct hosts. Placing them is
``place``'s (``placement/place.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from govcloud.core.model import HostPool
from govcloud.placement.bins import EPS

DIMENSIONS = ("vcpus", "ram_gb", "disk_gb")


@dataclass(frozen=True)
class Host:
    """One physical host of the pool, with its raw (physical) size. ``enabled`` False: the
    cloud schedules nothing new there (a host consolidation freed; ``disabled_reason`` says
    why) until apply enables it again."""

    name: str
    zone: str
    host_class: str
    vcpus: float
    ram_gb: float
    disk_gb: float
    cost_weight: float = 1.0
    enabled: bool = True
    disabled_reason: str = ""


@dataclass(frozen=True)
class Demand:
    """One server to place."""

    key: str
    department: str
    zone: str
    vcpus: float
    ram_gb: float
    disk_gb: float
    group: str | None = None  # anti-affinity group key; members need distinct hosts


@dataclass(frozen=True)
class Ratios:
    cpu: float = 4.0
    ram: float = 1.0
    disk: float = 1.0
    headroom: float = 0.8

    @classmethod
    def of(cls, pool: HostPool) -> Ratios:
        return cls(pool.cpu_allocation_ratio, pool.ram_allocation_ratio,
                   pool.disk_allocation_ratio, pool.headroom)


@dataclass
class Usage:
    """What is already placed on one host."""

    vcpus: float = 0.0
    ram_gb: float = 0.0
    disk_gb: float = 0.0
    groups: set[str] = field(default_factory=set)

    def add(self, demand: Demand) -> None:
        self.vcpus += demand.vcpus
        self.ram_gb += demand.ram_gb
        self.disk_gb += demand.disk_gb
        if demand.group:
            self.groups.add(demand.group)

    def remove(self, demand: Demand) -> None:
        self.vcpus -= demand.vcpus
        self.ram_gb -= demand.ram_gb
        self.disk_gb -= demand.disk_gb
        if demand.group:
            self.groups.discard(demand.group)

    @property
    def empty(self) -> bool:
        return self.vcpus <= 0 and self.ram_gb <= 0 and self.disk_gb <= 0


@dataclass(frozen=True)
class HostLoad:
    """One used host and what a placement put on it."""

    host: Host
    servers: tuple[str, ...]
    vcpus: float
    ram_gb: float
    disk_gb: float

    def utilization(self, ratios: Ratios) -> tuple[float, float, float]:
        """Share of the allocatable capacity (physical × allocation ratio) in use, per
        dimension; with headroom 0.8 a placement keeps each of them at or under 0.8."""
        h = self.host
        alloc = (h.vcpus * ratios.cpu, h.ram_gb * ratios.ram, h.disk_gb * ratios.disk)
        used = (self.vcpus, self.ram_gb, self.disk_gb)
        return tuple(u / a if a else 0.0 for u, a in zip(used, alloc, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class Placement:
    """Where every server goes, and the load of every used host (in host-name order)."""

    assignment: Mapping[str, str]  # server key -> host name
    hosts: tuple[HostLoad, ...]
    ratios: Ratios

    def count(self, zone: str | None = None) -> int:
        return sum(1 for h in self.hosts if zone is None or h.host.zone == zone)

    def by_class(self, zone: str | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.hosts:
            if zone is None or h.host.zone == zone:
                out[h.host.host_class] = out.get(h.host.host_class, 0) + 1
        return dict(sorted(out.items()))

    def cost(self, zone: str | None = None) -> float:
        return sum(h.host.cost_weight for h in self.hosts if zone is None or h.host.zone == zone)

    def usage(self, demands: Iterable[Demand]) -> dict[str, Usage]:
        """Per-host usage, in the form ``place_one`` takes."""
        out: dict[str, Usage] = {}
        for d in demands:
            host = self.assignment.get(d.key)
            if host is not None:
                out.setdefault(host, Usage()).add(d)
        return out


def pool_hosts(pool: HostPool) -> list[Host]:
    """The pool's hosts, named ``<zone>-<class>-NN``, in a stable order."""
    out = []
    for zone in sorted(pool.hosts):
        for cls_name, count in sorted(pool.hosts[zone].items()):
            cls = pool.host_class(cls_name)
            for i in range(1, count + 1):
                out.append(Host(f"{zone}-{cls_name}-{i:02d}", zone, cls_name, cls.vcpus,
                                cls.ram_gb, cls.disk_gb, cls.cost_weight))
    return out


def capacity(host: Host, ratios: Ratios) -> tuple[float, float, float]:
    """Usable vCPU, RAM and disk of a host after allocation ratios and headroom."""
    return (host.vcpus * ratios.cpu * ratios.headroom,
            host.ram_gb * ratios.ram * ratios.headroom,
            host.disk_gb * ratios.disk * ratios.headroom)


def fits(demand: Demand, host: Host, used: Usage, ratios: Ratios) -> bool:
    if host.zone != demand.zone:
        return False
    if demand.group and demand.group in used.groups:
        return False
    cpu, ram, disk = capacity(host, ratios)
    return (used.vcpus + demand.vcpus <= cpu + EPS and used.ram_gb + demand.ram_gb <= ram + EPS
            and used.disk_gb + demand.disk_gb <= disk + EPS)
