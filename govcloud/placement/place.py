"""Placing servers on hosts: which host each server lands on. Pure: no I/O, deterministic for
the same input.

* ``place`` packs a whole estate onto the fewest hosts (then the cheapest classes), zone by
  zone, through the packing search (``packing.pack``);
* ``hosts_by_class`` counts the hosts ``place`` would use, per class, without the placement;
* ``place_one`` adds one server to what is placed already (the sim driver's apply);
* ``lower_bound`` says how few hosts any packing could use, per zone;
* ``spread`` and ``first_fit_decreasing`` are the baselines ``place`` is measured against:
  nova's default spread (most free RAM first) and the textbook greedy;
* ``violations`` lists every rule an assignment breaks.

When the pool is too small, each says which department does not fit, what is short and how
to fix it (a ``CapacityError``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

from govcloud.errors import CapacityError
from govcloud.placement import packing
from govcloud.placement.hosts import (
    DIMENSIONS,
    Demand,
    Host,
    HostLoad,
    Placement,
    Ratios,
    Usage,
    capacity,
    fits,
)

# --- one more server -----------------------------------------------------------------------

def place_one(demand: Demand, hosts: Iterable[Host], used: Mapping[str, Usage],
              ratios: Ratios) -> str:
    """The host for one more server, given what is placed already: the fullest used host it
    fits (best fit), else an empty host of the cheapest class, ties by name. Raises
    CapacityError naming the department and what is short."""
    candidates = [h for h in hosts if h.zone == demand.zone]
    best: tuple[tuple[float, ...], str] | None = None
    size = (demand.vcpus, demand.ram_gb, demand.disk_gb)
    for h in candidates:
        u = used.get(h.name, Usage())
        if not fits(demand, h, u, ratios):
            continue
        cap = capacity(h, ratios)
        have = (u.vcpus, u.ram_gb, u.disk_gb)
        # Slack left after placing, normalised per dimension: the smaller, the tighter.
        slack = sum((cap[d] - have[d] - size[d]) / cap[d] for d in range(3) if cap[d] > 0)
        score = (0.0, 0.0, slack) if not u.empty else (1.0, h.cost_weight, -sum(cap))
        if best is None or (score, h.name) < best:
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


# --- the whole estate ----------------------------------------------------------------------

def place(demands: Iterable[Demand], hosts: Iterable[Host], ratios: Ratios) -> Placement:
    """Pack every server onto the fewest hosts of its zone, then onto the cheapest classes.

    Deterministic: the result depends only on the set of demands and the host list. Raises
    CapacityError naming the department and what is short when the pool is too small.
    """
    demands = sorted(demands, key=lambda d: d.key)
    hosts = list(hosts)
    assignment: dict[str, str] = {}
    for zone_demands, packed, _ in _packed(demands, hosts, ratios):
        for _, name, members in packed.bins:
            for i in members:
                assignment[zone_demands[i].key] = name
    return _result(demands, hosts, assignment, ratios)


def hosts_by_class(demands: Iterable[Demand], hosts: Iterable[Host], ratios: Ratios
                   ) -> dict[str, int]:
    """Host class → the hosts :func:`place` puts the servers on (its placement's
    ``by_class()``), without the placement itself: what a plan's cost needs of it (building
    the placement of 100,000 servers only to count its hosts took a quarter of the time)."""
    out: dict[str, int] = {}
    for _, packed, classes in _packed(sorted(demands, key=lambda d: d.key), list(hosts),
                                      ratios):
        for stock, _, members in packed.bins:
            if members:
                out[classes[stock]] = out.get(classes[stock], 0) + 1
    return dict(sorted(out.items()))


def _packed(demands: Sequence[Demand], hosts: Sequence[Host], ratios: Ratios
            ) -> Iterator[tuple[list[Demand], packing.Packed, list[str]]]:
    """Zone by zone, ``demands`` (sorted by key) packed onto the zone's hosts, with each
    stock's host class; CapacityError for the first zone that does not fit."""
    for zone, zone_demands in _by_zone(demands).items():
        zone_hosts = [h for h in hosts if h.zone == zone]
        items, stocks, classes = _problem(zone_demands, zone_hosts, ratios)
        _check_sizes(zone_demands, zone, stocks, classes)
        packed = packing.pack(items, stocks, _zone_bound(items, stocks))
        if packed.unplaced:
            raise CapacityError(*_pool_short(zone_demands, zone, items, stocks, classes,
                                             packed))
        yield zone_demands, packed, classes


def first_fit_decreasing(demands: Iterable[Demand], hosts: Iterable[Host],
                         ratios: Ratios) -> Placement:
    """The textbook baseline: servers by decreasing normalised size, each onto the first host
    of the list with room. Raises CapacityError when a server fits nowhere."""
    demands = sorted(demands, key=lambda d: d.key)
    hosts = list(hosts)
    assignment: dict[str, str] = {}
    for zone, zone_demands in _by_zone(demands).items():
        items, stocks, classes = _problem(zone_demands, [h for h in hosts if h.zone == zone],
                                          ratios)
        _check_sizes(zone_demands, zone, stocks, classes)
        bins, left = packing.first_fit_decreasing(items, stocks)
        if left:
            packed = packing.Packed((), tuple(left), 0.0)
            raise CapacityError(*_pool_short(zone_demands, zone, items, stocks, classes,
                                             packed))
        frozen = packing.freeze(bins, stocks, ())
        for _, name, members in frozen.bins:
            for i in members:
                assignment[zone_demands[i].key] = name
    return _result(demands, hosts, assignment, ratios)


def spread(demands: Iterable[Demand], hosts: Iterable[Host], ratios: Ratios) -> Placement:
    """What nova's default scheduler would do: servers in the given order, each onto the host
    with the most free RAM that passes the filters (zone, capacity, anti-affinity). Nova knows
    no headroom target; the same usable capacity is used here so the two compare fairly."""
    demands = list(demands)
    hosts = sorted(hosts, key=lambda h: h.name)
    used: dict[str, Usage] = {h.name: Usage() for h in hosts}
    caps = {h.name: capacity(h, ratios) for h in hosts}
    zone_hosts: dict[str, list[Host]] = {}
    for h in hosts:
        zone_hosts.setdefault(h.zone, []).append(h)
    assignment: dict[str, str] = {}
    # A heap of (-free RAM, name) per zone; stale entries are skipped when popped.
    heaps = {z: [(-caps[h.name][1], h.name) for h in hs] for z, hs in zone_hosts.items()}
    for heap in heaps.values():
        heapq.heapify(heap)
    by_name = {h.name: h for h in hosts}
    for d in demands:
        heap = heaps.get(d.zone, [])
        popped = []
        chosen = None
        while heap:
            neg_free, name = heapq.heappop(heap)
            if -neg_free != caps[name][1] - used[name].ram_gb:
                continue  # stale entry
            popped.append((neg_free, name))
            if fits(d, by_name[name], used[name], ratios):
                chosen = name
                break
        for entry in popped:
            if entry[1] != chosen:
                heapq.heappush(heap, entry)
        if chosen is None:
            raise CapacityError(*_shortage(d, zone_hosts.get(d.zone, []), used, ratios))
        used[chosen].add(d)
        heapq.heappush(heap, (-(caps[chosen][1] - used[chosen].ram_gb), chosen))
        assignment[d.key] = chosen
    return _result(sorted(demands, key=lambda d: d.key), hosts, assignment, ratios)


def lower_bound(demands: Iterable[Demand], hosts: Iterable[Host],
                ratios: Ratios) -> dict[str, int]:
    """Per zone, the fewest hosts any placement could use: for each dimension the fewest of
    the zone's hosts (largest first) whose usable capacity adds up to the total demand, and
    the largest anti-affinity group; the maximum of those. With one host class this is
    ceil(total demand / usable capacity of a host), the textbook bound, except that when every
    size in a dimension is a whole number a host counts only the whole part of its usable
    capacity there (153.6 usable vCPUs hold at most 153 whole ones)."""
    hosts = list(hosts)
    out: dict[str, int] = {}
    for zone, zone_demands in _by_zone(sorted(demands, key=lambda d: d.key)).items():
        items, stocks, _ = _problem(zone_demands, [h for h in hosts if h.zone == zone], ratios)
        out[zone] = _zone_bound(items, stocks)
    return out


def _zone_bound(items: Sequence[packing.Item], stocks: Sequence[packing.Stock]) -> int:
    if not items:
        return 0
    groups: dict[str, int] = {}
    for it in items:
        if it.group is not None:
            groups[it.group] = groups.get(it.group, 0) + 1
    bound = max([1, *groups.values()])
    for d in range(3):
        total = sum(it.size[d] for it in items)
        whole = all(float(it.size[d]).is_integer() for it in items)
        # Whole-number sizes fill at most the whole part of a host's usable capacity.
        caps = sorted((math.floor(s.cap[d] + packing.EPS) if whole else s.cap[d]
                       for s in stocks for _ in s.hosts), reverse=True)
        biggest = caps[0] if caps else 0.0
        k, acc = 0, 0.0
        for c in caps:
            if acc + packing.EPS >= total:
                break
            acc += c
            k += 1
        if acc + packing.EPS < total:
            k += math.ceil((total - acc) / biggest - packing.EPS) if biggest > 0 else 0
        bound = max(bound, k)
    return bound


def violations(assignment: Mapping[str, str], demands: Iterable[Demand], hosts: Iterable[Host],
               ratios: Ratios) -> list[str]:
    """Every way an assignment breaks the rules: unplaced servers, unknown hosts, zones mixed,
    capacity exceeded, anti-affinity broken. Empty when the assignment is valid."""
    by_name = {h.name: h for h in hosts}
    used: dict[str, Usage] = {}
    problems = []
    for d in sorted(demands, key=lambda d: d.key):
        name = assignment.get(d.key)
        host = by_name.get(name or "")
        if host is None:
            problems.append(f"{d.key}: not placed" if name is None
                            else f"{d.key}: unknown host {name}")
            continue
        if host.zone != d.zone:
            problems.append(f"{d.key}: {d.zone} server on {host.zone} host {name}")
        u = used.setdefault(host.name, Usage())
        if d.group and d.group in u.groups:
            problems.append(f"{d.key}: a second replica of {d.group} on {name}")
        u.add(d)
    for name, u in sorted(used.items()):
        cap = capacity(by_name[name], ratios)
        for k, attr in enumerate(DIMENSIONS):
            if getattr(u, attr) > cap[k] + packing.EPS:
                problems.append(f"{name}: {attr} {getattr(u, attr):g} over usable {cap[k]:g}")
    return problems


# --- shared plumbing -----------------------------------------------------------------------

def _by_zone(demands: Sequence[Demand]) -> dict[str, list[Demand]]:
    out: dict[str, list[Demand]] = {}
    for d in demands:
        out.setdefault(d.zone, []).append(d)
    return dict(sorted(out.items()))


def _problem(demands: Sequence[Demand], hosts: Sequence[Host], ratios: Ratios
             ) -> tuple[list[packing.Item], list[packing.Stock], list[str]]:
    """The search's view of one zone: items, and stocks of identical hosts (in list order)."""
    items = [packing.Item(d.key, (float(d.vcpus), float(d.ram_gb), float(d.disk_gb)), d.group)
             for d in demands]
    groups: dict[tuple[object, ...], list[Host]] = {}
    for h in hosts:
        groups.setdefault((h.host_class, h.vcpus, h.ram_gb, h.disk_gb, h.cost_weight),
                          []).append(h)
    stocks = [packing.Stock(capacity(hs[0], ratios), hs[0].cost_weight,
                            tuple(h.name for h in hs)) for hs in groups.values()]
    classes = [hs[0].host_class for hs in groups.values()]
    return items, stocks, classes


def _check_sizes(demands: Sequence[Demand], zone: str, stocks: Sequence[packing.Stock],
                 classes: Sequence[str]) -> None:
    """Every server must fit an empty host of some class of its zone."""
    if not stocks:
        d = demands[0]
        deps = sorted({x.department for x in demands})
        raise CapacityError(
            f"department {d.department}: no {zone} host in the pool for {len(demands)} "
            f"{zone} server(s) of {', '.join(deps)}",
            f"add {zone} hosts under host_pool.hosts.{zone}")
    names = ("vCPU", "RAM GiB", "disk GB")
    fit: set[tuple[float, float, float]] = set()  # sizes seen to fit (servers share a few)
    for d in demands:
        size = (d.vcpus, d.ram_gb, d.disk_gb)
        if size in fit:
            continue
        if any(all(size[k] <= s.cap[k] + packing.EPS for k in range(3)) for s in stocks):
            fit.add(size)
            continue
        short = [f"{names[k]} (needs {size[k]:g}, largest usable host has "
                 f"{max(s.cap[k] for s in stocks):g})"
                 for k in range(3) if all(size[k] > s.cap[k] + packing.EPS for s in stocks)]
        if not short:
            short = ["a host class large enough in every dimension at once"]
        raise CapacityError(
            f"department {d.department}: {d.key} is larger than any {zone} host "
            f"({', '.join(sorted(set(classes)))}) after ratios and headroom: short of "
            f"{'; '.join(short)}",
            "use a smaller flavor, or add a larger host class to host_pool.classes")


def _pool_short(demands: Sequence[Demand], zone: str, items: Sequence[packing.Item],
                stocks: Sequence[packing.Stock], classes: Sequence[str],
                packed: packing.Packed) -> tuple[str, str]:
    """The message for a pool too small: who does not fit, what is short, how many more."""
    left = [demands[i] for i in packed.unplaced]
    deps = sorted({d.department for d in left})
    hosts = sum(len(s.hosts) for s in stocks)
    names = ("vCPU", "RAM", "disk")
    units = ("", " GiB", " GB")
    short = []
    for k, attr in enumerate(DIMENSIONS):
        need = sum(getattr(d, attr) for d in demands)
        have = sum(s.cap[k] * len(s.hosts) for s in stocks)
        if need > have + packing.EPS:
            short.append(f"{names[k]} (needs {need:g}{units[k]}, the {hosts} {zone} hosts "
                         f"give {have:g}{units[k]} after ratios and headroom)")
    if not short:
        short.append("room on single hosts (total capacity suffices but servers do not "
                     "fit the hosts left, or anti-affinity needs more distinct hosts)")
    # How many more hosts of the cheapest class that takes every server would do.
    fitting = [s for s in range(len(stocks))
               if all(all(it.size[k] <= stocks[s].cap[k] + packing.EPS for k in range(3))
                      for it in items)]
    hint = f"add {zone} hosts to host_pool.hosts.{zone}, or lower the requests"
    if fitting:
        s = min(fitting, key=lambda s: (stocks[s].cost, s))
        extra = [packing.Stock(st.cap, st.cost, st.hosts + (
            tuple(f"+{j}" for j in range(len(items))) if i == s else ()))
            for i, st in enumerate(stocks)]
        more = packing.pack(items, extra, 0)
        added = sum(1 for _, name, _ in more.bins if name.startswith("+"))
        if not more.unplaced and added:
            hint = (f"add {added} more {classes[s]} host(s) to host_pool.hosts.{zone}, or "
                    "lower the requests")
    return (f"department {left[0].department}: out of {zone} capacity: {len(left)} "
            f"server(s) of {', '.join(deps)} do not fit on the {hosts} {zone} hosts; short of "
            f"{'; '.join(short)}", hint)


def _result(demands: Sequence[Demand], hosts: Sequence[Host], assignment: dict[str, str],
            ratios: Ratios) -> Placement:
    by_name = {h.name: h for h in hosts}
    members: dict[str, list[Demand]] = {}
    for d in demands:
        if d.key in assignment:
            members.setdefault(assignment[d.key], []).append(d)
    loads = tuple(
        HostLoad(by_name[name], tuple(d.key for d in ds),
                 sum(d.vcpus for d in ds), sum(d.ram_gb for d in ds),
                 sum(d.disk_gb for d in ds))
        for name, ds in sorted(members.items()))
    return Placement(dict(sorted(assignment.items())), loads, ratios)
