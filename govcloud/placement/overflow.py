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


def _search(items: Sequence[Item], sizes: list[list[float]], limit: list[float], k: int,
            left: list[int], start: Sequence[Sequence[int]] = ()) -> list[list[int]] | None:
    n, dims = len(items), len(limit)
    load = [[0.0] * dims for _ in range(k)]
    members: list[list[int]] = [[] for _ in range(k)]
    groups: list[dict[str, int]] = [{} for _ in range(k)]
    where = [0] * n

    def over(vec: list[float]) -> float:
        return sum(v - limit[d] for d, v in enumerate(vec) if v > limit[d] + EPS)

    if start and k <= len(start) <= k + 2:  # a close packing: start from it
        # The fullest k hosts of the packing stay; the others' servers go where they
        # overfill least (largest first).
        ranked = sorted(start, key=lambda m: (-sum(sum(sizes[i]) for i in m), min(m)))
        for b, m in enumerate(ranked[:k]):
            for i in m:
                _put(i, b, sizes, load, members, groups, where, items)
        order = sorted((i for m in ranked[k:] for i in m),
                       key=lambda i: (-sum(sizes[i]), items[i].key))
        for i in order:
            g = items[i].group
            choice = min((b for b in range(k) if g is None or g not in groups[b]),
                         key=lambda b: (over([load[b][d] + sizes[i][d] for d in range(dims)])
                                        - over(load[b]), b), default=None)
            if choice is None:
                return None
            _put(i, choice, sizes, load, members, groups, where, items)
    else:
        order = sorted(range(n), key=lambda i: (-sum(sizes[i]), items[i].key))
        for i in order:  # load balancing: onto the least loaded host the group allows
            g = items[i].group
            choice = min((b for b in range(k) if g is None or g not in groups[b]),
                         key=lambda b: (sum(load[b]), b), default=None)
            if choice is None:
                return None
            _put(i, choice, sizes, load, members, groups, where, items)

    total = sum(over(v) for v in load)
    tabu: dict[tuple[int, int], int] = {}
    rnd = random.Random(k)  # seeded: the same search every run
    step = 0
    while total > EPS:
        if left[0] <= 0:
            return None
        step += 1
        # The overfilled hosts in turn (always the worst one cycles).
        hot = [b for b in range(k) if over(load[b]) > EPS]
        source = hot[rnd.randrange(len(hot))]
        base_s = over(load[source])
        # A window of hosts, moving on each step, to move to or swap with: on large zones a
        # step then costs a bounded number of evaluations.
        first = rnd.randrange(k)
        window = [(first + w) % k for w in range(min(WINDOW, k))]
        best: tuple[float, int, int, int] | None = None  # (delta, item, target, swapped)
        for i in members[source]:
            si, gi = sizes[i], items[i].group
            after_s = [load[source][d] - si[d] for d in range(dims)]
            for t in window:
                if t == source:
                    continue
                base_t = over(load[t])
                lt = load[t]
                left[0] -= 1 + len(members[t])
                if tabu.get((i, t), 0) < step and (gi is None or gi not in groups[t]):
                    delta = over(after_s) + over([lt[d] + si[d] for d in range(dims)]) \
                        - base_s - base_t
                    if best is None or delta < best[0] - EPS:
                        best = (delta, i, t, -1)
                for j in members[t]:
                    gj = items[j].group
                    if tabu.get((i, t), 0) >= step and tabu.get((j, source), 0) >= step:
                        continue
                    if gi is not None and gi != gj and gi in groups[t]:
                        continue
                    if gj is not None and gj != gi and gj in groups[source]:
                        continue
                    sj = sizes[j]
                    delta = over([after_s[d] + sj[d] for d in range(dims)]) + \
                        over([lt[d] - sj[d] + si[d] for d in range(dims)]) - base_s - base_t
                    if best is None or delta < best[0] - EPS:
                        best = (delta, i, t, j)
        if best is None:
            return None
        _, i, t, j = best
        _take(i, source, sizes, load, members, groups, items)
        _put(i, t, sizes, load, members, groups, where, items)
        tabu[(i, source)] = step + TABU
        if j >= 0:
            _take(j, t, sizes, load, members, groups, items)
            _put(j, source, sizes, load, members, groups, where, items)
            tabu[(j, t)] = step + TABU
        total = sum(over(v) for v in load)
    return [sorted(m) for m in members if m]


def _put(i: int, b: int, sizes: list[list[float]], load: list[list[float]],
         members: list[list[int]], groups: list[dict[str, int]], where: list[int],
         items: Sequence[Item]) -> None:
    for d, v in enumerate(sizes[i]):
        load[b][d] += v
    members[b].append(i)
    g = items[i].group
    if g is not None:
        groups[b][g] = groups[b].get(g, 0) + 1
    where[i] = b


def _take(i: int, b: int, sizes: list[list[float]], load: list[list[float]],
          members: list[list[int]], groups: list[dict[str, int]], items: Sequence[Item]) -> None:
    for d, v in enumerate(sizes[i]):
        load[b][d] -= v
    members[b].remove(i)
    g = items[i].group
    if g is not None:
        groups[b][g] -= 1
        if not groups[b][g]:
            del groups[b][g]


def _valid(bins: list[list[int]], items: Sequence[Item], cap: Sequence[float]) -> bool:
    for members in bins:
        b = Bin(0, (cap[0], cap[1], cap[2]))
        for i in members:
            if not b.fits(items[i]):
                return False
            b.add(i, items[i])
    return True
