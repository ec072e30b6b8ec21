"""Re-pack advice: which hosts a few live migrations would free. Pure and deterministic.

``repack`` starts from the current placement (server key -> host name, as the driver reports
it) and drains hosts one at a time, those with the fewest servers first, moving each server
onto the fullest other used host it fits (best fit). A host is only drained when all of its
servers find a place; hosts that receive servers are not drained later, so no server moves
twice. Every step is checked against the state left by the steps before it, so the sequence
never breaks capacity, zones or anti-affinity at any point.

The plan reports the efficacy indicators of OpenStack Watcher's ``server_consolidation``
goal: compute nodes, released nodes, instance migrations, and its global indicator
``released_nodes_ratio`` (released / nodes × 100); plus released hosts per migration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govcloud.placement.hosts import (
    Demand,
    Host,
    Ratios,
    Usage,
    capacity,
    fits,
    place,
)


@dataclass(frozen=True)
class Migration:
    """One live migration: ``server`` moves from host ``source`` to host ``target``."""

    server: str
    source: str
    target: str


@dataclass(frozen=True)
class MigrationPlan:
    """Ordered migrations and what they achieve."""

    steps: tuple[Migration, ...]
    released: tuple[str, ...]  # hosts the plan empties
    nodes: int  # hosts in the pool (Watcher: compute_nodes_count)
    hosts_before: int  # hosts in use before
    hosts_after: int  # hosts in use after the plan
    repacked: int  # hosts a full re-pack from scratch would use (the floor for hosts_after)

    @property
    def migrations(self) -> int:
        return len(self.steps)

    @property
    def released_per_migration(self) -> float:
        return len(self.released) / len(self.steps) if self.steps else 0.0

    @property
    def released_nodes_ratio(self) -> float:
        """Watcher's global efficacy: released nodes / compute nodes, in %."""
        return 100.0 * len(self.released) / self.nodes if self.nodes else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "compute_nodes_count": self.nodes,
            "released_compute_nodes_count": len(self.released),
            "instance_migrations_count": self.migrations,
            "released_nodes_ratio": round(self.released_nodes_ratio, 2),
            "released_per_migration": round(self.released_per_migration, 4),
            "hosts_before": self.hosts_before,
            "hosts_after": self.hosts_after,
            "repacked": self.repacked,
            "released": list(self.released),
            "steps": [{"server": m.server, "from": m.source, "to": m.target}
                      for m in self.steps],
        }


def repack(current: Mapping[str, str], demands: Iterable[Demand], hosts: Iterable[Host],
           ratios: Ratios) -> MigrationPlan:
    """A migration sequence that frees as many hosts as it can with as few moves as it can.

    ``current``: server key -> host name. Servers of ``demands`` missing from ``current`` are
    ignored (not placed yet), as are keys of ``current`` without a demand.
    """
    hosts = sorted(hosts, key=lambda h: h.name)
    by_name = {h.name: h for h in hosts}
    placed = [d for d in sorted(demands, key=lambda d: d.key) if current.get(d.key) in by_name]
    where = {d.key: current[d.key] for d in placed}
    used = _usage(placed, where)
    members: dict[str, list[Demand]] = {}
    for d in placed:
        members.setdefault(where[d.key], []).append(d)
    before = len(members)
    steps: list[Migration] = []
    released: list[str] = []
    kept: set[str] = set()  # hosts that received servers: draining them would move twice

    def order(name: str) -> tuple[int, float, str]:
        return (len(members[name]), _load(by_name[name], used[name], ratios), name)

    for source in sorted(members, key=order):
        if source in kept or not members[source]:
            continue
        host = by_name[source]
        targets = [by_name[n] for n in members
                   if n != source and members[n] and n not in released
                   and by_name[n].zone == host.zone]
        if not _room(members[source], targets, used, ratios):
            continue
        moves: list[Migration] = []
        for d in sorted(members[source], key=lambda d: (-_size(d, host, ratios), d.key)):
            target = _best_fit(d, targets, used, ratios)
            if target is None:
                break
            used[source].remove(d)
            used[target.name].add(d)
            moves.append(Migration(d.key, source, target.name))
        if len(moves) < len(members[source]):
            demand = {d.key: d for d in members[source]}
            for m in reversed(moves):
                used[m.target].remove(demand[m.server])
                used[source].add(demand[m.server])
            continue
        demand = {d.key: d for d in members[source]}
        for m in moves:
            members[m.target].append(demand[m.server])
            kept.add(m.target)
        members[source] = []
        released.append(source)
        steps += moves
    after = before - len(released)
    repacked = place(placed, hosts, ratios).count() if placed else 0
    return MigrationPlan(tuple(steps), tuple(released), len(hosts), before, after, repacked)


def replay(current: Mapping[str, str], demands: Iterable[Demand], hosts: Iterable[Host],
           ratios: Ratios, steps: Sequence[Migration]) -> list[str]:
    """Problems met when carrying out ``steps`` one by one from ``current`` (empty: every
    step is valid in the state the steps before it leave)."""
    by_name = {h.name: h for h in hosts}
    demand = {d.key: d for d in demands}
    where = dict(current)
    used = _usage([demand[k] for k in where if k in demand], where)
    problems = []
    for n, m in enumerate(steps, 1):
        d = demand.get(m.server)
        if d is None or where.get(m.server) != m.source:
            problems.append(f"step {n}: {m.server} is not on {m.source}")
            continue
        target = by_name.get(m.target)
        if target is None:
            problems.append(f"step {n}: no host {m.target}")
            continue
        used[m.source].remove(d)
        if not fits(d, target, used.setdefault(m.target, Usage()), ratios):
            problems.append(f"step {n}: {m.server} does not fit on {m.target} (capacity, "
                            "zone or anti-affinity)")
            used[m.source].add(d)
            continue
        used[m.target].add(d)
        where[m.server] = m.target
    return problems


def _usage(demands: Iterable[Demand], where: Mapping[str, str]) -> dict[str, Usage]:
    out: dict[str, Usage] = {}
    for d in demands:
        out.setdefault(where[d.key], Usage()).add(d)
    return out


def _size(d: Demand, host: Host, ratios: Ratios) -> float:
    cap = capacity(host, ratios)
    size = (d.vcpus, d.ram_gb, d.disk_gb)
    return sum(size[k] / cap[k] for k in range(3) if cap[k] > 0)


def _load(host: Host, u: Usage, ratios: Ratios) -> float:
    cap = capacity(host, ratios)
    have = (u.vcpus, u.ram_gb, u.disk_gb)
    return max((have[k] / cap[k] for k in range(3) if cap[k] > 0), default=0.0)


def _room(servers: Sequence[Demand], targets: Sequence[Host], used: Mapping[str, Usage],
          ratios: Ratios) -> bool:
    """Whether the targets' free capacity, summed, could hold the servers at all."""
    need = [sum(d.vcpus for d in servers), sum(d.ram_gb for d in servers),
            sum(d.disk_gb for d in servers)]
    free = [0.0, 0.0, 0.0]
    for h in targets:
        cap, u = capacity(h, ratios), used[h.name]
        free[0] += cap[0] - u.vcpus
        free[1] += cap[1] - u.ram_gb
        free[2] += cap[2] - u.disk_gb
    return all(need[k] <= free[k] + 1e-9 for k in range(3))


def _best_fit(d: Demand, targets: Sequence[Host], used: Mapping[str, Usage],
              ratios: Ratios) -> Host | None:
    best: tuple[float, str] | None = None
    chosen = None
    size = (d.vcpus, d.ram_gb, d.disk_gb)
    for h in targets:
        u = used[h.name]
        if not fits(d, h, u, ratios):
            continue
        cap = capacity(h, ratios)
        have = (u.vcpus, u.ram_gb, u.disk_gb)
        slack = sum((cap[k] - have[k] - size[k]) / cap[k] for k in range(3) if cap[k] > 0)
        if best is None or (slack, h.name) < best:
            best, chosen = (slack, h.name), h
    return chosen
