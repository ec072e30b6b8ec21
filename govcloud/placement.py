"""Placement: which host each server lands on. Pure: no I/O, deterministic for the same input.

Capacity of a host per dimension = physical size × allocation ratio × headroom.
Zones never mix; replicas of one anti-affinity group land on distinct hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from govcloud.errors import CapacityError
from govcloud.model import HostPool


@dataclass(frozen=True)
class Host:
    """One physical host of the pool, with its raw (physical) size."""

    name: str
    zone: str
    host_class: str
    vcpus: float
    ram_gb: float
    disk_gb: float
    cost_weight: float = 1.0


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
    eps = 1e-9
    return (used.vcpus + demand.vcpus <= cpu + eps and used.ram_gb + demand.ram_gb <= ram + eps
            and used.disk_gb + demand.disk_gb <= disk + eps)


def place_one(demand: Demand, hosts: Iterable[Host], used: Mapping[str, Usage],
              ratios: Ratios) -> str:
    """The host for one more server, given what is placed already (best fit, opened hosts
    first). Raises CapacityError naming the department and what is short."""
    candidates = [h for h in hosts if h.zone == demand.zone]
    best: tuple[tuple[float, ...], str] | None = None
    for h in candidates:
        u = used.get(h.name, Usage())
        if not fits(demand, h, u, ratios):
            continue
        cpu, ram, disk = capacity(h, ratios)
        empty = u.vcpus == 0 and u.ram_gb == 0 and u.disk_gb == 0
        # Prefer hosts already in use (consolidate), then the tightest fit, then cheaper class.
        slack = max((cpu - u.vcpus - demand.vcpus) / cpu, (ram - u.ram_gb - demand.ram_gb) / ram)
        score = (1.0 if empty else 0.0, h.cost_weight if empty else 0.0, slack)
        if best is None or score < best[0]:
            best = (score, h.name)
    if best is None:
        raise CapacityError(*_shortage(demand, candidates, used, ratios))
    return best[1]


def _shortage(demand: Demand, hosts: list[Host], used: Mapping[str, Usage],
              ratios: Ratios) -> tuple[str, str]:
    if not hosts:
        return (f"department {demand.department}: no {demand.zone} host in the pool for "
                f"{demand.key}", f"add {demand.zone} hosts under host_pool.hosts")
    free = [0.0, 0.0, 0.0]
    for h in hosts:
        u = used.get(h.name, Usage())
        cap = capacity(h, ratios)
        free = [max(free[0], cap[0] - u.vcpus), max(free[1], cap[1] - u.ram_gb),
                max(free[2], cap[2] - u.disk_gb)]
    short = []
    if demand.vcpus > free[0]:
        short.append(f"vCPU (needs {demand.vcpus:g}, most free on one host {free[0]:g})")
    if demand.ram_gb > free[1]:
        short.append(f"RAM (needs {demand.ram_gb:g} GiB, most free on one host "
                     f"{free[1]:g} GiB)")
    if demand.disk_gb > free[2]:
        short.append(f"disk (needs {demand.disk_gb:g} GB, most free on one host "
                     f"{free[2]:g} GB)")
    if not short and demand.group:
        short.append(f"hosts for anti-affinity group {demand.group} (every host with room "
                     "already holds a replica)")
    if not short:
        short.append("room on any single host (free capacity is split across hosts)")
    return (f"department {demand.department}: out of {demand.zone} capacity placing "
            f"{demand.key}: short of {'; '.join(short)}",
            f"add {demand.zone} hosts to host_pool.hosts, or lower the request")
