"""Fewer hosts by tabu search on overflow: the exact-or-near stage for zones where the
heuristics leave a gap to the lower bound.

After Alvim, Ribeiro, Glover & Aloise, *A hybrid improvement heuristic for the
one-dimensional bin packing problem*, J. Heuristics 10 (2004): fix the number of hosts k (the
lower bound first, then one more), spread the servers over k hosts by load balancing
(largest first, onto the least loaded host), which may overfill some, then move and swap
servers between hosts to drive the total overflow to zero, with a short tabu list so the
search does not undo its last moves. Overflow is summed over the dimensions that bind, each
as a share of the host's usable capacity, so it packs vCPU and RAM together; anti-affinity is
never broken (a move that would put two members of a group on one host is not considered).

Pure and deterministic: the search stops after ``BUDGET`` evaluated moves (a count, never a
time) and keeps nothing unless it reaches zero overflow; its random choices (which overfilled
host to work on, which hosts to consider) come from a generator seeded with k.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from govcloud.placement.bins import EPS, Bin, Item, Stock, binding

BUDGET = 500_000  # evaluated moves per zone (half for the bound + 1, an eighth for the bound)
TABU = 12  # iterations a server may not return to the host it left
WINDOW = 48  # hosts a step considers as targets


def fewer(items: Sequence[Item], stocks: Sequence[Stock], stock: int, have: int, lower: int,
          budget: int = BUDGET, start: Sequence[Sequence[int]] = ()) -> list[Bin] | None:
    """A packing on fewer than ``have`` hosts of class ``stock`` (as few as the search finds,
    down to ``lower``), or None. ``start``: a packing to start from (its emptiest hosts
    are emptied onto the others); without one, load balancing."""
    cap = stocks[stock].cap
    dims = binding(items, cap)
    sizes = [[it.size[d] / cap[d] for d in dims] for it in items]
    limit = [min(1.0, 1.0)] * len(dims)
    full = [all(it.size[d] <= cap[d] + EPS for d in range(3)) for it in items]
    if not all(full):
        return None
    # Dimensions that do not bind must still fit: checked on the result.
    best: list[list[int]] | None = None
    top = min(have - 1, len(stocks[stock].hosts))
    # One host over the bound first (its slack makes it the easier search), then the bound
    # itself with what is left of a smaller budget.
    first = min(max(lower, 1) + 1, top)
    for k, share in ((first, budget // 2), (first - 1, budget // 8)):
        if k < max(lower, 1) or (k == first - 1 and best is None):
            break
        found = _search(items, sizes, limit, k, [share], start)
        if found is not None and _valid(found, items, cap):
            best = found
    if best is None:
        return None
    out = []
    for members in best:
        b = Bin(stock, cap)
        for i in members:
            b.add(i, items[i])
        out.append(b)
    return out


Move = tuple[float, int, int, int]  # (overflow delta, server, target host, server swapped or -1)


@dataclass
class _Hosts:
    """k hosts while searching: each one's load (as shares of the usable capacity, in the
    dimensions that bind), its servers, and how many members of each anti-affinity group."""

    load: list[list[float]]
    members: list[list[int]]
    groups: list[dict[str, int]]

    @classmethod
    def empty(cls, k: int, dims: int) -> _Hosts:
        return cls([[0.0] * dims for _ in range(k)], [[] for _ in range(k)],
                   [{} for _ in range(k)])

    def put(self, i: int, b: int, sizes: list[list[float]], items: Sequence[Item]) -> None:
        for d, v in enumerate(sizes[i]):
            self.load[b][d] += v
        self.members[b].append(i)
        g = items[i].group
        if g is not None:
            self.groups[b][g] = self.groups[b].get(g, 0) + 1

    def take(self, i: int, b: int, sizes: list[list[float]], items: Sequence[Item]) -> None:
        for d, v in enumerate(sizes[i]):
            self.load[b][d] -= v
        self.members[b].remove(i)
        g = items[i].group
        if g is not None:
            self.groups[b][g] -= 1
            if not self.groups[b][g]:
                del self.groups[b][g]


def _over(vec: list[float], limit: list[float]) -> float:
    """How far a host's load is over its capacity, summed over the dimensions."""
    return sum(v - limit[d] for d, v in enumerate(vec) if v > limit[d] + EPS)


def _search(items: Sequence[Item], sizes: list[list[float]], limit: list[float], k: int,
            left: list[int], start: Sequence[Sequence[int]] = ()) -> list[list[int]] | None:
    """The servers on ``k`` hosts with no overflow, or None when ``left[0]`` (the evaluated
    moves still allowed, shared by the calls) runs out first."""
    hosts = _Hosts.empty(k, len(limit))
    if start and k <= len(start) <= k + 2:  # a close packing: start from it
        spread = _from_start(hosts, items, sizes, limit, start)
    else:
        spread = _balanced(hosts, items, sizes)
    if not spread:
        return None
    return _tabu(hosts, items, sizes, limit, left)


def _from_start(hosts: _Hosts, items: Sequence[Item], sizes: list[list[float]],
                limit: list[float], start: Sequence[Sequence[int]]) -> bool:
    """The fullest k hosts of the packing ``start`` stay; the others' servers go where they
    overfill least (largest first). False when anti-affinity leaves a server no host."""
    k, dims, load = len(hosts.load), len(limit), hosts.load
    ranked = sorted(start, key=lambda m: (-sum(sum(sizes[i]) for i in m), min(m)))
    for b, m in enumerate(ranked[:k]):
        for i in m:
            hosts.put(i, b, sizes, items)
    order = sorted((i for m in ranked[k:] for i in m),
                   key=lambda i: (-sum(sizes[i]), items[i].key))
    for i in order:
        g = items[i].group
        choice = min((b for b in range(k) if g is None or g not in hosts.groups[b]),
                     key=lambda b: (_over([load[b][d] + sizes[i][d] for d in range(dims)], limit)
                                    - _over(load[b], limit), b), default=None)
        if choice is None:
            return False
        hosts.put(i, choice, sizes, items)
    return True


def _balanced(hosts: _Hosts, items: Sequence[Item], sizes: list[list[float]]) -> bool:
    """Load balancing: largest first, each onto the least loaded host its group allows.
    False when anti-affinity leaves a server no host."""
    k, load = len(hosts.load), hosts.load
    order = sorted(range(len(items)), key=lambda i: (-sum(sizes[i]), items[i].key))
    for i in order:
        g = items[i].group
        choice = min((b for b in range(k) if g is None or g not in hosts.groups[b]),
                     key=lambda b: (sum(load[b]), b), default=None)
        if choice is None:
            return False
        hosts.put(i, choice, sizes, items)
    return True


def _tabu(hosts: _Hosts, items: Sequence[Item], sizes: list[list[float]], limit: list[float],
          left: list[int]) -> list[list[int]] | None:
    """Move and swap servers off the overfilled hosts, the best move each step, until no
    host is over (the servers per host) or the moves allowed run out (None)."""
    k, load = len(hosts.load), hosts.load
    total = sum(_over(v, limit) for v in load)
    tabu: dict[tuple[int, int], int] = {}
    rnd = random.Random(k)  # seeded: the same search every run
    step = 0
    while total > EPS:
        if left[0] <= 0:
            return None
        step += 1
        # The overfilled hosts in turn (always the worst one cycles).
        hot = [b for b in range(k) if _over(load[b], limit) > EPS]
        source = hot[rnd.randrange(len(hot))]
        # A window of hosts, moving on each step, to move to or swap with: on large zones a
        # step then costs a bounded number of evaluations.
        first = rnd.randrange(k)
        window = [(first + w) % k for w in range(min(WINDOW, k))]
        best = _best_move(hosts, items, sizes, limit, source, window, tabu, step, left)
        if best is None:
            return None
        _, i, t, j = best
        hosts.take(i, source, sizes, items)
        hosts.put(i, t, sizes, items)
        tabu[(i, source)] = step + TABU
        if j >= 0:
            hosts.take(j, t, sizes, items)
            hosts.put(j, source, sizes, items)
            tabu[(j, t)] = step + TABU
        total = sum(_over(v, limit) for v in load)
    return [sorted(m) for m in hosts.members if m]


def _best_move(hosts: _Hosts, items: Sequence[Item], sizes: list[list[float]],
               limit: list[float], source: int, window: list[int],
               tabu: dict[tuple[int, int], int], step: int, left: list[int]) -> Move | None:
    """The move of one server off ``source`` onto a host of ``window``, or its swap with a
    server there, that lowers the total overflow the most; neither tabu nor breaking
    anti-affinity. Each evaluation is taken from ``left[0]``."""
    dims, load, members, groups = len(limit), hosts.load, hosts.members, hosts.groups
    base_s = _over(load[source], limit)
    best: Move | None = None
    for i in members[source]:
        si, gi = sizes[i], items[i].group
        after_s = [load[source][d] - si[d] for d in range(dims)]
        for t in window:
            if t == source:
                continue
            base_t = _over(load[t], limit)
            lt = load[t]
            left[0] -= 1 + len(members[t])
            if tabu.get((i, t), 0) < step and (gi is None or gi not in groups[t]):
                delta = _over(after_s, limit) + \
                    _over([lt[d] + si[d] for d in range(dims)], limit) - base_s - base_t
                if best is None or delta < best[0] - EPS:
                    best = (delta, i, t, -1)
            best = _best_swap(hosts, items, sizes, limit, (i, source, t), after_s,
                              (base_s, base_t), tabu, step, best)
    return best


def _best_swap(hosts: _Hosts, items: Sequence[Item], sizes: list[list[float]],
               limit: list[float], move: tuple[int, int, int], after_s: list[float],
               base: tuple[float, float], tabu: dict[tuple[int, int], int], step: int,
               best: Move | None) -> Move | None:
    """``best``, or the swap of server i (moving from host s to host t) with a server of t
    that lowers the overflow more (``base``: the overflow of s and of t as they are)."""
    i, s, t = move
    base_s, base_t = base
    dims, lt, gi = len(limit), hosts.load[t], items[i].group
    si = sizes[i]
    for j in hosts.members[t]:
        gj = items[j].group
        if tabu.get((i, t), 0) >= step and tabu.get((j, s), 0) >= step:
            continue
        if gi is not None and gi != gj and gi in hosts.groups[t]:
            continue
        if gj is not None and gj != gi and gj in hosts.groups[s]:
            continue
        sj = sizes[j]
        delta = _over([after_s[d] + sj[d] for d in range(dims)], limit) + \
            _over([lt[d] - sj[d] + si[d] for d in range(dims)], limit) - base_s - base_t
        if best is None or delta < best[0] - EPS:
            best = (delta, i, t, j)
    return best


def _valid(bins: list[list[int]], items: Sequence[Item], cap: Sequence[float]) -> bool:
    for members in bins:
        b = Bin(0, (cap[0], cap[1], cap[2]))
        for i in members:
            if not b.fits(items[i]):
                return False
            b.add(i, items[i])
    return True
