"""Consolidation: the live migrations that bring the hosts in use down to a target, with
as few migrations as it can. Pure and deterministic.

The target, per zone: the re-pack floor by default (the hosts ``place`` would use for the
same servers from scratch), or what ``--target-hosts N`` (in total) or ``--max-migrations K``
allow; across zones the targets are chosen together (fewest migrations for N hosts, fewest
hosts for K migrations).

For one zone and a target of T hosts: keep the T hosts in use that hold the most servers
(they stay; their servers do not move) and drain the others into them, the biggest server
first, each onto the fullest kept host it fits (best fit). When that does not fit, one kept
host at a time is swapped for a drained one. When no set of kept hosts takes the drained
servers as they are, the zone is re-packed onto the kept hosts (``place``), each packed host
matched to the kept host it shares the most servers with, and the moves are ordered so that
each fits when it runs; a move that cannot run yet stages its server on another host (one
migration more). A host that received servers may so be drained later, and a server moves
twice only when no cheaper order exists.

Every step is checked against the state the steps before it leave (``replay``), so the
sequence never breaks capacity, zones or anti-affinity at any point.

The plan reports the efficacy indicators of OpenStack Watcher's ``server_consolidation``
goal: compute nodes, released nodes, instance migrations, and its global indicator
``released_nodes_ratio`` (released / nodes × 100); plus migrations per released host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govcloud.errors import CapacityError
from govcloud.placement.hosts import Demand, Host, Ratios, Usage, capacity, fits
from govcloud.placement.place import place

SWAPS = 64  # kept-host swaps tried per zone and target before re-packing
RELOCATIONS = 8  # kept sets re-packed onto, when no swap drains as servers are


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
    target: int = 0  # hosts in use the plan aimed at
    note: str = ""  # why the target differs from what was asked, if it does

    @property
    def migrations(self) -> int:
        return len(self.steps)

    @property
    def released_per_migration(self) -> float:
        return len(self.released) / len(self.steps) if self.steps else 0.0

    @property
    def migrations_per_released(self) -> float:
        return len(self.steps) / len(self.released) if self.released else 0.0

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
            "migrations_per_released": round(self.migrations_per_released, 4),
            "hosts_before": self.hosts_before,
            "hosts_after": self.hosts_after,
            "repacked": self.repacked,
            "target": self.target,
            "note": self.note,
            "released": list(self.released),
            "steps": [{"server": m.server, "from": m.source, "to": m.target}
                      for m in self.steps],
        }


@dataclass(frozen=True)
class _Option:
    """One zone brought down to ``hosts`` hosts by ``steps``."""

    hosts: int
    steps: tuple[Migration, ...]


def repack(current: Mapping[str, str], demands: Iterable[Demand], hosts: Iterable[Host],
           ratios: Ratios, target_hosts: int | None = None,
           max_migrations: int | None = None) -> MigrationPlan:
    """The migrations that bring the hosts in use to the target with the fewest moves.

    ``current``: server key -> host name. Servers of ``demands`` missing from ``current`` are
    ignored (not placed yet), as are keys of ``current`` without a demand. ``target_hosts``:
    hosts in use wanted in total (never below the re-pack floor); ``max_migrations``: at most
    this many moves, for the fewest hosts they can reach. Neither: the re-pack floor.
    """
    hosts = sorted(hosts, key=lambda h: h.name)
    by_name = {h.name: h for h in hosts}
    placed = [d for d in sorted(demands, key=lambda d: d.key) if current.get(d.key) in by_name]
    where = {d.key: current[d.key] for d in placed}
    zones = sorted({d.zone for d in placed})
    before = len(set(where.values()))
    floors: dict[str, int] = {}
    options: dict[str, list[_Option]] = {}
    everything = target_hosts is not None or max_migrations is not None
    for zone in zones:
        zd = [d for d in placed if d.zone == zone]
        zh = [h for h in hosts if h.zone == zone]
        used = len({where[d.key] for d in zd})
        try:
            floors[zone] = place(zd, zh, ratios).count()
        except CapacityError:
            floors[zone] = used
        options[zone] = _options(zd, zh, where, ratios, min(floors[zone], used), used,
                                 everything)
    repacked = sum(floors.values())
    chosen, note = _choose(options, target_hosts, max_migrations, repacked, before)
    steps = tuple(m for zone in zones for m in chosen[zone].steps)
    final = dict(where)
    for m in steps:
        final[m.server] = m.target
    after = set(final.values())
    released = tuple(sorted(set(where.values()) - after))
    target = sum(o.hosts for o in chosen.values())
    return MigrationPlan(steps, released, len(hosts), before, len(after), repacked, target,
                         note)


def _options(demands: Sequence[Demand], hosts: Sequence[Host], where: Mapping[str, str],
             ratios: Ratios, floor: int, used: int, everything: bool) -> list[_Option]:
    """The zone's plans, one per reachable target from ``used`` down: every target when
    ``everything``, else the floor (or the lowest reachable above it)."""
    out = [_Option(used, ())]
    targets = range(used - 1, floor - 1, -1) if everything else range(floor, used)
    for t in targets:
        steps = _to_target(demands, hosts, where, ratios, t)
        if steps is not None:
            out.append(_Option(t, steps))
            if not everything:
                break
    return out


def _choose(options: dict[str, list[_Option]], target_hosts: int | None,
            max_migrations: int | None, floor: int, before: int
            ) -> tuple[dict[str, _Option], str]:
    """One option per zone: the fewest hosts (then fewest migrations), within the limits."""
    # A small knapsack over zones: for each total of migrations, the fewest hosts.
    table: list[tuple[int, int, dict[str, _Option]]] = [(0, 0, {})]
    for zone, opts in options.items():
        table = [(h + o.hosts, m + len(o.steps), {**pick, zone: o})
                 for h, m, pick in table for o in opts]
        # Keep, per host count, the fewest migrations.
        fewest: dict[int, tuple[int, int, dict[str, _Option]]] = {}
        for row in table:
            if row[0] not in fewest or row[1] < fewest[row[0]][1]:
                fewest[row[0]] = row
        table = sorted(fewest.values(), key=lambda r: (r[0], r[1]))
    note = ""
    allowed = table
    if max_migrations is not None:
        allowed = [r for r in table if r[1] <= max_migrations]
    if target_hosts is not None:
        if target_hosts < floor:
            note = (f"--target-hosts {target_hosts} is below the re-pack floor of {floor} "
                    f"hosts: aiming at {floor}")
        reach = [r for r in allowed if r[0] <= max(target_hosts, floor)]
        if reach:
            pick = min(reach, key=lambda r: (r[1], -r[0]))
            pick = min((r for r in reach if r[1] == pick[1]), key=lambda r: r[0])
            return pick[2], note
        note = note or f"{target_hosts} hosts cannot be reached"
    pick = min(allowed, key=lambda r: (r[0], r[1]))
    if pick[0] > floor and not note and target_hosts is None and max_migrations is None:
        note = (f"the re-pack floor of {floor} hosts cannot be reached by migrations from "
                f"where servers run: {pick[0]} is the fewest")
    return pick[2], note


def _to_target(demands: Sequence[Demand], hosts: Sequence[Host], where: Mapping[str, str],
               ratios: Ratios, target: int) -> tuple[Migration, ...] | None:
    """Migrations that leave one zone's servers on ``target`` of the hosts in use (None:
    none found)."""
    by_name = {h.name: h for h in hosts}
    members: dict[str, list[Demand]] = {}
    for d in demands:
        members.setdefault(where[d.key], []).append(d)
    used = {n: _usage(ds) for n, ds in members.items()}

    def rank(name: str) -> tuple[int, float, str]:
        return (-len(members[name]), -_load(by_name[name], used[name], ratios), name)

    ranked = sorted(members, key=rank)
    keep = ranked[:target]
    steps = _drain(members, keep, by_name, ratios)
    if steps is not None:
        return steps
    tries = 0
    trials = []
    for out in reversed(keep):  # swap the emptiest kept host for a drained one
        for into in ranked[target:]:
            if tries >= SWAPS:
                break
            tries += 1
            trial = [h for h in keep if h != out] + [into]
            trials.append(trial)
            steps = _drain(members, trial, by_name, ratios)
            if steps is not None:
                return steps
    # Re-pack onto a few of those kept sets; the one that moves the fewest servers wins.
    found = [r for r in (_relocate(demands, members, k, by_name, ratios)
                         for k in [keep, *trials[:RELOCATIONS - 1]]) if r is not None]
    return min(found, key=len) if found else None


def _drain(members: Mapping[str, list[Demand]], keep: Sequence[str],
           by_name: Mapping[str, Host], ratios: Ratios) -> tuple[Migration, ...] | None:
    """Every server of the hosts not in ``keep`` onto the kept hosts, as they are; None when
    one does not fit."""
    used = {n: _usage(members[n]) for n in keep}
    kept = [by_name[n] for n in keep]
    moving = [(d, n) for n, ds in members.items() if n not in keep for d in ds]
    moving.sort(key=lambda t: (-_size(t[0], by_name[t[1]], ratios), t[0].key))
    steps = []
    for d, source in moving:
        target = _best_fit(d, kept, used, ratios)
        if target is None:
            return None
        used[target.name].add(d)
        steps.append(Migration(d.key, source, target.name))
    # Host by host, so each host empties in one run of steps.
    order = {n: i for i, n in enumerate(sorted({s.source for s in steps}))}
    return tuple(sorted(steps, key=lambda s: (order[s.source], s.server)))


def _relocate(demands: Sequence[Demand], members: Mapping[str, list[Demand]],
              keep: Sequence[str], by_name: Mapping[str, Host], ratios: Ratios
              ) -> tuple[Migration, ...] | None:
    """Re-pack the zone onto the kept hosts and order the moves (staging when stuck)."""
    kept = [by_name[n] for n in sorted(keep)]
    try:
        packed = place(demands, kept, ratios)
    except CapacityError:
        return None
    # Match packed hosts to kept hosts by the servers they share (the most first).
    where = {d.key: n for n, ds in members.items() for d in ds}
    groups: dict[str, list[str]] = {}
    for key, n in packed.assignment.items():
        groups.setdefault(n, []).append(key)
    def size(n: str) -> tuple[float, float, float]:
        return (by_name[n].vcpus, by_name[n].ram_gb, by_name[n].disk_gb)

    pairs = sorted(((sum(1 for k in ks if where[k] == h), bin_, h)
                    for bin_, ks in groups.items() for h in keep if size(h) == size(bin_)),
                   reverse=True)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for _, bin_, h in pairs:
        if bin_ not in mapping and h not in taken:
            mapping[bin_] = h
            taken.add(h)
    final = {k: mapping[n] for k, n in packed.assignment.items()}
    return _order(demands, where, final, by_name, ratios)


def _order(demands: Sequence[Demand], where: Mapping[str, str], final: Mapping[str, str],
           by_name: Mapping[str, Host], ratios: Ratios) -> tuple[Migration, ...] | None:
    demand = {d.key: d for d in demands}
    now = dict(where)
    used: dict[str, Usage] = {n: Usage() for n in by_name}
    for k, n in now.items():
        used[n].add(demand[k])
    pending = sorted((k for k in final if final[k] != now[k]),
                     key=lambda k: (-(demand[k].vcpus + demand[k].ram_gb), k))
    steps: list[Migration] = []
    limit = 3 * len(pending) + 10
    while pending and len(steps) < limit:
        moved = False
        for k in list(pending):
            d, target = demand[k], by_name[final[k]]
            if fits(d, target, used[target.name], ratios):
                used[now[k]].remove(d)
                used[target.name].add(d)
                steps.append(Migration(k, now[k], target.name))
                now[k] = target.name
                pending.remove(k)
                moved = True
        if moved:
            continue
        # Stuck: stage one blocked server on a host with room that is neither its source nor
        # its target, preferring hosts in use that stay in use.
        staged = False
        for k in pending:
            d = demand[k]
            for h in sorted(by_name.values(), key=lambda h: (h.name not in final.values(),
                                                                h.name)):
                if h.name in (now[k], final[k]) or not fits(d, h, used[h.name], ratios):
                    continue
                used[now[k]].remove(d)
                used[h.name].add(d)
                steps.append(Migration(k, now[k], h.name))
                now[k] = h.name
                staged = True
                break
            if staged:
                break
        if not staged:
            return None
    return tuple(steps) if not pending else None


def replay(current: Mapping[str, str], demands: Iterable[Demand], hosts: Iterable[Host],
           ratios: Ratios, steps: Sequence[Migration]) -> list[str]:
    """Problems met when carrying out ``steps`` one by one from ``current`` (empty: every
    step is valid in the state the steps before it leave)."""
    by_name = {h.name: h for h in hosts}
    demand = {d.key: d for d in demands}
    where = dict(current)
    used = _usage_by_host([demand[k] for k in where if k in demand], where)
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


def _usage(demands: Iterable[Demand]) -> Usage:
    u = Usage()
    for d in demands:
        u.add(d)
    return u


def _usage_by_host(demands: Iterable[Demand], where: Mapping[str, str]) -> dict[str, Usage]:
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
