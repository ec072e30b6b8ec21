"""Host-by-host filling, the first stage of the packing search (``packing.pack``): open one
host, then repeatedly add the server whose size best matches what is left on it, so CPU-heavy
and RAM-heavy servers end up sharing hosts (the bin-centric "dot product" and "norm"
heuristics of Panigrahy et al., *Heuristics for Vector Bin Packing*, 2011). Identical sizes
are grouped (``Kinds``), so one step costs O(distinct sizes), not O(servers). Pure and
deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

from govcloud.placement.bins import EPS, Bin, Item, Stock, Vec, biggest, need, norm

Picks = list[tuple[int, int]]  # (item, kind) taken onto one host


class Kinds:
    """Items grouped by identical size. Within a size, anti-affinity members come first and
    interleaved (the first member of every group, largest groups first, then the second
    members...), so a host meets few members of a group it already holds."""

    def __init__(self, items: Sequence[Item], template: Kinds | None = None) -> None:
        if template is None:
            by_size: dict[Vec, list[int]] = {}
            group_size: dict[str, int] = {}
            for it in items:
                if it.group is not None:
                    group_size[it.group] = group_size.get(it.group, 0) + 1
            rank: dict[str, int] = {}
            keys = []
            for i, it in enumerate(items):
                by_size.setdefault(it.size, []).append(i)
                g = it.group
                if g is None:
                    keys.append((1, 0, 0, "", it.key))
                else:
                    r = rank[g] = rank.get(g, -1) + 1
                    keys.append((0, r, -group_size[g], g, it.key))
            self.sizes: list[Vec] = sorted(by_size, key=lambda s: (-sum(s), s))
            self.queues: list[list[int]] = [sorted(by_size[s], key=keys.__getitem__)
                                            for s in self.sizes]
            # what all the items need, per dimension
            self.demand = [sum(it.size[d] for it in items) for d in range(3)]
        else:
            self.sizes = template.sizes
            self.queues = template.queues
            self.demand = template.demand
        self.head = [0] * len(self.sizes)
        self.left = [len(q) for q in self.queues]
        self.total = len(items)
        self.taken = [False] * len(items)

    def pick(self, t: int, items: Sequence[Item], groups: set[str]) -> int | None:
        q, taken = self.queues[t], self.taken
        h = self.head[t]
        while h < len(q) and taken[q[h]]:
            h += 1
        self.head[t] = h
        for pos in range(h, len(q)):
            i = q[pos]
            if taken[i]:
                continue
            g = items[i].group
            if g is None or g not in groups:
                return i
        return None

    def take(self, i: int, t: int) -> None:
        self.taken[i] = True
        self.left[t] -= 1
        self.total -= 1

    def untake(self, i: int, t: int) -> None:
        self.taken[i] = False
        self.left[t] += 1
        self.total += 1
        self.head[t] = 0


def _fill(kinds: Kinds, items: Sequence[Item], cap: Vec, score: str,
          weights: Vec) -> Picks:
    """Fill one host of capacity ``cap``; returns the (item, kind) picks, already taken."""
    inv = tuple(1.0 / (c * c) if c > 0 else 0.0 for c in cap)
    w = (weights[0] * inv[0], weights[1] * inv[1], weights[2] * inv[2])
    c0, c1, c2 = cap
    u0 = u1 = u2 = 0.0
    groups: set[str] = set()
    picks: Picks = []
    excluded: set[int] = set()
    active = [t for t in range(len(kinds.sizes)) if kinds.left[t] > 0]
    sizes, left = kinds.sizes, kinds.left
    while True:
        r0, r1, r2 = c0 - u0, c1 - u1, c2 - u2
        best, best_score = -1, float("-inf")
        for t in active:
            if not left[t] or t in excluded:
                continue
            s0, s1, s2 = sizes[t]
            if s0 > r0 + EPS or s1 > r1 + EPS or s2 > r2 + EPS:
                continue
            if score == "norm":
                a, b, c = r0 - s0, r1 - s1, r2 - s2
                sc = -(a * a * inv[0] + b * b * inv[1] + c * c * inv[2])
            else:
                sc = s0 * r0 * w[0] + s1 * r1 * w[1] + s2 * r2 * w[2]
            if sc > best_score:
                best, best_score = t, sc
        if best < 0:
            return picks
        i = kinds.pick(best, items, groups)
        if i is None:
            excluded.add(best)
            continue
        kinds.take(i, best)
        picks.append((i, best))
        s0, s1, s2 = sizes[best]
        u0, u1, u2 = u0 + s0, u1 + s1, u2 + s2
        g = items[i].group
        if g is not None:
            groups.add(g)


def fill_hosts(items: Sequence[Item], stocks: Sequence[Stock], policy: str,
               score: str, weights: Vec, template: Kinds, limit: int | None = None
               ) -> tuple[list[Bin], list[int]] | None:
    """Open hosts one by one, each filled before the next; None as soon as the hosts opened
    plus what the rest needs (``bins.need``) pass ``limit``. ``policy``: which class each
    host takes (``largest``, ``cheapest`` or ``densest``); ``score``: ``dot`` or ``norm``."""
    kinds = Kinds(items, template)
    rest = kinds.demand
    top = biggest(stocks)
    spare = [len(s.hosts) for s in stocks]
    order = _order(stocks, policy)
    bins: list[Bin] = []
    while kinds.total:
        chosen = _next_host(kinds, items, stocks, order, spare, policy, score, weights)
        if chosen is None:
            break
        s, picks = chosen
        spare[s] -= 1
        b = Bin(s, stocks[s].cap)
        for i, _ in picks:
            b.add(i, items[i])
        bins.append(b)
        if limit is not None:
            rest = [rest[d] - b.used[d] for d in range(3)]
            if len(bins) + need(rest, top) > limit:
                return None
    left = [i for i, t in enumerate(kinds.taken) if not t]
    return bins, left


def _order(stocks: Sequence[Stock], policy: str) -> list[int]:
    """The classes in the order a new host tries them."""
    if policy == "largest":
        return sorted(range(len(stocks)), key=lambda s: (-_size(stocks[s]), stocks[s].cost, s))
    # cheapest first; "densest" also breaks ties towards the cheaper class
    return sorted(range(len(stocks)), key=lambda s: (stocks[s].cost, -_size(stocks[s]), s))


def _next_host(kinds: Kinds, items: Sequence[Item], stocks: Sequence[Stock], order: list[int],
               spare: list[int], policy: str, score: str, weights: Vec
               ) -> tuple[int, Picks] | None:
    """The class of the next host and its filling, already taken; None when no spare host
    takes any server left."""
    if policy == "densest":
        return _densest(kinds, items, stocks, order, spare, score, weights)
    for s in order:
        if not spare[s]:
            continue
        picks = _fill(kinds, items, stocks[s].cap, score, weights)
        if picks:
            return s, picks
    return None


def _densest(kinds: Kinds, items: Sequence[Item], stocks: Sequence[Stock], order: list[int],
             spare: list[int], score: str, weights: Vec) -> tuple[int, Picks] | None:
    """The class whose host, filled, holds the most (as shares of the largest class): each
    class's filling is tried and given back, then the best one is taken."""
    best_val = -1.0
    chosen: int | None = None
    for s in order:
        if not spare[s]:
            continue
        picks = _fill(kinds, items, stocks[s].cap, score, weights)
        val = sum(norm(items[i].size, biggest(stocks)) for i, _ in picks)
        for i, t in reversed(picks):
            kinds.untake(i, t)
        if picks and val > best_val + EPS:
            best_val, chosen = val, s
    if chosen is None:
        return None
    return chosen, _fill(kinds, items, stocks[chosen].cap, score, weights)


def _size(stock: Stock) -> float:
    return stock.cap[0] + stock.cap[1] / 8 + stock.cap[2] / 160
