"""The packing search behind ``placement.place``: one zone's servers onto the fewest hosts.

Pure and deterministic (no clocks, no randomness): every limit is a count, never a time.

The search is a small portfolio, and the best result wins (fewest hosts, then lowest cost):

1. Host-by-host filling (the bin-centric "dot product" and "norm" heuristics of Panigrahy et
   al., *Heuristics for Vector Bin Packing*, 2011): open one host, then repeatedly add the
   server whose size best matches what is left on it, so CPU-heavy and RAM-heavy servers end
   up sharing hosts. Identical sizes are grouped, so one step costs O(distinct sizes), not
   O(servers); that is what lets 50,000 servers place in seconds.
2. First-fit decreasing, the textbook baseline, so the result is never worse than it.
3. An improvement pass that tries to empty the least-loaded hosts into the others.
4. For small zones (≤ ``EXACT_LIMIT`` servers), a bounded depth-first search that tries one
   host fewer at a time, down to the lower bound (``exact``).
5. For larger zones (≤ ``CLOSE_LIMIT`` servers; above that its searches cost more than
   10 s) still above the lower bound: minimum bin
   slack (``slack``), then a tabu search that drives overflow to zero on the bound plus one
   host, then on the bound (``overflow``); on the hard instances of the literature
   (Falkenauer's triplets, perfect packings) where the greedy stages stay up to 17 % over,
   this comes within one host of the optimum (benchmarks/placement.py --hard).

Host classes: each open host takes a class by a policy (cheapest first, largest first, or the
class that packs the most per host); finally hosts whose load fits a cheaper spare host are
moved onto it, so equal host counts prefer the cheaper capacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import overload

from govcloud.placement import overflow
from govcloud.placement.bins import EPS, Bin, Item, Packed, SortKey, Stock, Vec, biggest
from govcloud.placement.bins import vec as _vec
from govcloud.placement.exact import EXACT_LIMIT, fewer_hosts, mixes, search
from govcloud.placement.slack import minimum_slack

__all__ = ["EPS", "Bin", "Item", "Packed", "Stock", "Vec", "first_fit_decreasing", "pack"]

Rank = tuple[int, int, float]  # (servers left unplaced, hosts, cost): the lower, the better
DRAIN_TRIES = 24
CLOSE_LIMIT = 600  # zones up to this many servers get the closer stage (5.) on a gap
EJECT_LIMIT = 2_000  # zones up to this many servers also try one-item ejections


# --- the portfolio -------------------------------------------------------------------------

def pack(items: Sequence[Item], stocks: Sequence[Stock], lower: int) -> Packed:
    """The best packing found for one zone (``lower``: its lower bound on hosts)."""
    if not items:
        return Packed((), (), 0.0)
    n = len(items)
    large = n > 5_000
    template = _Kinds(items)
    tight = _tightest(items, stocks)
    runs: list[tuple[Rank, list[Bin]]] = []

    def within(*ranks: Rank | None) -> int | None:
        """The most hosts a member may open and still matter: a member that provably needs
        more than every one of ``ranks`` (each with every server placed) is cut short."""
        if any(r is None or r[0] for r in ranks):
            return None
        return max(r[1] for r in ranks if r is not None)

    def run(policy: str, score: str, emphasis: float, limit: int | None = None
            ) -> Rank | None:
        """One filling run, ranked; None when it was cut short at ``limit`` hosts."""
        weights = _vec(emphasis if d == tight else 1.0 for d in range(3))
        got = _fill_hosts(items, stocks, policy, score, weights, template, limit)
        if got is None:
            return None
        bins, left = got
        rank = (len(left), len(bins), round(_cost(bins, stocks), 9))
        runs.append((rank, bins))
        return rank

    def best() -> Rank:
        return min(r[0] for r in runs)

    # Host-by-host filling. The emphasis on the dimension that binds the lower bound steers
    # each host towards filling that dimension to the brim; the best emphasis depends on the
    # estate, so a few are tried (for large zones: until one does worse than the last).
    # A member is cut short once it provably opens more hosts than the best so far (and, for
    # large zones, than the last), so it cannot change the result: the bound is what it has
    # opened plus what the servers not yet placed need on the largest hosts.
    policies = ["largest", "densest", "cheapest"] if len(stocks) > 1 else ["cheapest"]
    if large and len(stocks) > 1:
        policies = ["largest", "cheapest"]
    emphases = (1.0, 2.0, 4.0, 8.0)

    def hopeless(policy: str) -> bool:
        """Whether every member of a large zone's sweep needs more hosts than the best. Which
        of them the sweep runs depends on their ranks; when all are cut short, none can be
        the best, whichever ran. Otherwise the sweep runs as usual (a member that finished
        here is dropped, to be ranked in its usual place)."""
        limit = within(best())
        if limit is None:
            return False
        for emphasis in emphases:
            if run(policy, "dot", emphasis, limit) is not None:
                runs.pop()
                return False
        return True

    for policy in policies:
        # A hopeless sweep is as if it had run: none of its members is the best.
        if not (large and runs and hopeless(policy)):
            last: Rank | None = None
            for emphasis in emphases:
                if not large:
                    rank = run(policy, "dot", emphasis, within(best()) if runs else None)
                elif last is None:
                    rank = run(policy, "dot", emphasis)
                else:  # cut short: it would do worse than the last, which ends the sweep
                    rank = run(policy, "dot", emphasis, within(last, best()))
                if best()[:2] <= (0, lower):
                    break
                if large and last is not None and (rank is None or rank > last):
                    break
                last = rank
            if not large:
                run(policy, "norm", 1.0, within(best()))
        if best()[:2] <= (0, lower) or (large and policy == "cheapest"):
            break
    for order in (["sum"] if large else ["sum", "max", "cpu", "ram"]):
        got = first_fit_decreasing(items, stocks, order, within(best()))
        if got is not None:
            bins, left = got
            runs.append(((len(left), len(bins), round(_cost(bins, stocks), 9)), bins))
    bins = min(runs, key=lambda r: r[0])[1]
    placed = {i for b in bins for i in b.items}
    unplaced = [i for i in range(n) if i not in placed]
    if unplaced:
        unplaced = _repair(unplaced, items, stocks, bins)
    if unplaced and n <= EXACT_LIMIT:
        total = sum(len(s.hosts) for s in stocks)
        for k in range(max(lower, 1), total + 1):
            found = next((f for m in mixes(items, stocks, k)
                          if (f := search(items, stocks, m)) is not None), None)
            if found is not None:
                bins, unplaced = found, []
                break
    if not unplaced:
        _drain(bins, items, stocks, lower)
        if n <= EXACT_LIMIT and len(bins) > lower:
            bins = fewer_hosts(items, stocks, bins, lower)
        if EXACT_LIMIT < n <= CLOSE_LIMIT and len(bins) > lower:
            bins = _closer(items, stocks, bins, lower)
        _cheapen(bins, items, stocks)
    return freeze(bins, stocks, unplaced)


def _closer(items: Sequence[Item], stocks: Sequence[Stock], bins: list[Bin], lower: int
            ) -> list[Bin]:
    """5. Where a gap to the lower bound is left: minimum bin slack, then a tabu search on
    overflow, on the hosts of one class at a time; kept only when it uses fewer hosts."""
    best = bins
    for s in sorted(range(len(stocks)), key=lambda s: (stocks[s].cost, s)):
        if len(stocks[s].hosts) < lower:
            continue
        found = minimum_slack(items, stocks, s)
        if found is not None and len(found) < len(best):
            best = found
        if len(best) > lower:
            budget = overflow.BUDGET if len(best) > lower + 1 else overflow.BUDGET // 4
            found = overflow.fewer(items, stocks, s, len(best), lower, budget)
            if found is not None and len(found) < len(best):
                best = found
        if len(best) <= lower:
            break
    return best


def _tightest(items: Sequence[Item], stocks: Sequence[Stock]) -> int:
    """The dimension that needs the most hosts (largest hosts first)."""
    worst, need = 0, -1.0
    for d in range(3):
        total = sum(it.size[d] for it in items)
        caps = sorted((s.cap[d] for s in stocks for _ in s.hosts), reverse=True)
        k, acc = 0.0, 0.0
        for c in caps:
            if acc >= total:
                break
            take = min(c, total - acc)
            acc += take
            k += take / c if c > 0 else 0.0
        if k > need:
            worst, need = d, k
    return worst


def _cost(bins: Sequence[Bin], stocks: Sequence[Stock]) -> float:
    return sum(stocks[b.stock].cost for b in bins)


def freeze(bins: list[Bin], stocks: Sequence[Stock], unplaced: Sequence[int]) -> Packed:
    taken = [0] * len(stocks)
    out = []
    for b in sorted(bins, key=lambda b: b.stock):
        out.append((b.stock, stocks[b.stock].hosts[taken[b.stock]], tuple(sorted(b.items))))
        taken[b.stock] += 1
    return Packed(tuple(out), tuple(unplaced), _cost(bins, stocks))


def _norm(size: Vec, cap: Vec) -> float:
    return sum(size[d] / cap[d] for d in range(3) if cap[d] > 0)


# --- 1. host-by-host filling ---------------------------------------------------------------

class _Kinds:
    """Items grouped by identical size. Within a size, anti-affinity members come first and
    interleaved (the first member of every group, largest groups first, then the second
    members...), so a host meets few members of a group it already holds."""

    def __init__(self, items: Sequence[Item], template: _Kinds | None = None) -> None:
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


def _fill(kinds: _Kinds, items: Sequence[Item], cap: Vec, score: str,
          weights: Vec) -> list[tuple[int, int]]:
    """Fill one host of capacity ``cap``; returns the (item, kind) picks, already taken."""
    inv = tuple(1.0 / (c * c) if c > 0 else 0.0 for c in cap)
    w = (weights[0] * inv[0], weights[1] * inv[1], weights[2] * inv[2])
    c0, c1, c2 = cap
    u0 = u1 = u2 = 0.0
    groups: set[str] = set()
    picks: list[tuple[int, int]] = []
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


def _fill_hosts(items: Sequence[Item], stocks: Sequence[Stock], policy: str,
                score: str, weights: Vec, template: _Kinds, limit: int | None = None
                ) -> tuple[list[Bin], list[int]] | None:
    """Open hosts one by one, each filled before the next; None as soon as the hosts opened
    plus what the rest needs (``_need``) pass ``limit``."""
    kinds = _Kinds(items, template)
    rest = kinds.demand
    top = biggest(stocks)
    spare = [len(s.hosts) for s in stocks]
    if policy == "largest":
        order = sorted(range(len(stocks)), key=lambda s: (-_size(stocks[s]), stocks[s].cost, s))
    else:  # cheapest first; "densest" also breaks ties towards the cheaper class
        order = sorted(range(len(stocks)), key=lambda s: (stocks[s].cost, -_size(stocks[s]), s))
    bins: list[Bin] = []
    while kinds.total:
        chosen: tuple[int, list[tuple[int, int]]] | None = None
        if policy == "densest":
            best_val = -1.0
            for s in order:
                if not spare[s]:
                    continue
                picks = _fill(kinds, items, stocks[s].cap, score, weights)
                val = sum(_norm(items[i].size, biggest(stocks)) for i, _ in picks)
                for i, t in reversed(picks):
                    kinds.untake(i, t)
                if picks and val > best_val + EPS:
                    best_val, chosen = val, (s, [])
            if chosen is not None:
                s = chosen[0]
                chosen = (s, _fill(kinds, items, stocks[s].cap, score, weights))
        else:
            for s in order:
                if not spare[s]:
                    continue
                picks = _fill(kinds, items, stocks[s].cap, score, weights)
                if picks:
                    chosen = (s, picks)
                    break
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
            if len(bins) + _need(rest, top) > limit:
                return None
    left = [i for i, t in enumerate(kinds.taken) if not t]
    return bins, left


def _need(size: Sequence[float], cap: Vec) -> int:
    """The fewest hosts of capacity ``cap`` (the largest of every class) that could hold
    ``size`` in all: a lower bound, rounded down within a rounding error."""
    return max((math.ceil(size[d] / cap[d] - 1e-6) for d in range(3) if cap[d] > 0),
               default=0)


def _size(stock: Stock) -> float:
    return stock.cap[0] + stock.cap[1] / 8 + stock.cap[2] / 160


# --- 2. first-fit decreasing ---------------------------------------------------------------

@overload
def first_fit_decreasing(items: Sequence[Item], stocks: Sequence[Stock],
                         order: str = "sum") -> tuple[list[Bin], list[int]]: ...
@overload
def first_fit_decreasing(items: Sequence[Item], stocks: Sequence[Stock], order: str,
                         limit: int | None) -> tuple[list[Bin], list[int]] | None: ...
def first_fit_decreasing(items: Sequence[Item], stocks: Sequence[Stock],
                         order: str = "sum", limit: int | None = None
                         ) -> tuple[list[Bin], list[int]] | None:
    """Textbook FFD: items by decreasing size, each onto the first host (in stock order, then
    host order) with room. ``order``: sum of normalised sizes, their max, or CPU or RAM.
    With ``limit``: None as soon as the hosts opened plus what their free room cannot hold
    (on the largest hosts) pass it."""
    ref = biggest(stocks) if stocks else (1.0, 1.0, 1.0)
    keys: dict[str, Callable[[Item], SortKey]] = {
        "sum": lambda it: _norm(it.size, ref),
        "max": lambda it: max(it.size[d] / ref[d] for d in range(3) if ref[d] > 0),
        "cpu": lambda it: (it.size[0], it.size[1]),
        "ram": lambda it: (it.size[1], it.size[0]),
    }
    key = keys[order]
    seq = sorted(range(len(items)), key=lambda i: (_neg(key(items[i])), items[i].key))
    hosts = [(s, stock.cap) for s, stock in enumerate(stocks) for _ in stock.hosts]
    bins: list[Bin | None] = [None] * len(hosts)
    # Hosts only fill up, so once a host is too full for a size it stays too full: each size
    # remembers the first host that may still take it.
    first: dict[Vec, int] = {}
    left: list[int] = []
    opened = 0
    # what the opened hosts cannot hold (only kept under a limit)
    room = [sum(it.size[d] for it in items) for d in range(3)] if limit is not None else []
    for i in seq:
        it = items[i]
        size = it.size
        j = first.get(size, 0)
        placed = False
        while j < len(hosts):
            b = bins[j]
            if b is None:
                cap = hosts[j][1]
                if all(size[d] <= cap[d] + EPS for d in range(3)):
                    b = bins[j] = Bin(hosts[j][0], cap)
                    if limit is not None:
                        opened += 1
                        room = [room[d] - cap[d] for d in range(3)]
                        if opened + _need(room, ref) > limit:
                            return None
            if b is not None and b.fits(it):
                b.add(i, it)
                placed = True
                break
            full = b is None or any(b.used[d] + size[d] > b.cap[d] + EPS for d in range(3))
            if full and first.get(size, 0) == j:
                first[size] = j + 1  # only anti-affinity blocks a host that is not full
            j += 1
        if not placed:
            left.append(i)
    return [b for b in bins if b is not None], left


def _neg(key: SortKey) -> SortKey:
    return (-key[0], -key[1]) if isinstance(key, tuple) else -key


# --- 3. emptying the least-loaded hosts ----------------------------------------------------

def _drain(bins: list[Bin], items: Sequence[Item], stocks: Sequence[Stock], lower: int) -> None:
    """Try to move every item off the least-loaded hosts onto the others (best fit)."""
    tries = 0
    for b in sorted(bins, key=lambda b: (b.load(), len(b.items))):
        if len(bins) <= lower or tries >= DRAIN_TRIES:
            return
        need = [sum(items[i].size[d] for i in b.items) for d in range(3)]
        free = [sum(o.cap[d] - o.used[d] for o in bins if o is not b) for d in range(3)]
        if any(need[d] > free[d] + EPS for d in range(3)):
            continue
        tries += 1
        moves: list[tuple[int, Bin, Bin]] = []  # (item, from, to), undone in reverse
        for i in sorted(b.items, key=lambda i: -_norm(items[i].size, b.cap)):
            target = _best_fit(items[i], bins, exclude=b)
            if target is not None:
                b.remove(i, items[i])
                target.add(i, items[i])
                moves.append((i, b, target))
                continue
            ejected = _eject(i, items, bins, b) if len(items) <= EJECT_LIMIT else None
            if ejected is None:
                break
            moves += ejected
        if b.items:
            _undo(moves, items)
        else:
            bins.remove(b)


def _undo(moves: list[tuple[int, Bin, Bin]], items: Sequence[Item]) -> None:
    for i, src, dst in reversed(moves):
        dst.remove(i, items[i])
        src.add(i, items[i])


def _repair(unplaced: list[int], items: Sequence[Item], stocks: Sequence[Stock],
            bins: list[Bin]) -> list[int]:
    """Place what the first pass left out: best fit, else a spare host, else after moving one
    other server aside. Returns what still does not fit."""
    spare = [len(s.hosts) for s in stocks]
    for b in bins:
        spare[b.stock] -= 1
    left = []
    for i in sorted(unplaced, key=lambda i: (-_norm(items[i].size, biggest(stocks)), i)):
        it = items[i]
        target = _best_fit(it, bins)
        if target is None:
            fresh = [s for s in range(len(stocks)) if spare[s]
                     and all(it.size[d] <= stocks[s].cap[d] + EPS for d in range(3))]
            if fresh:
                s = min(fresh, key=lambda s: (stocks[s].cost, s))
                spare[s] -= 1
                target = Bin(s, stocks[s].cap)
                bins.append(target)
        if target is not None:
            target.add(i, it)
        elif _eject(i, items, bins, None) is None:
            left.append(i)
    return sorted(left)


def _eject(i: int, items: Sequence[Item], bins: Sequence[Bin],
           source: Bin | None) -> list[tuple[int, Bin, Bin]] | None:
    """Place item ``i`` (now on ``source``) by first moving one other item ``j`` off a host
    ``t`` onto a third host; the two moves, or None."""
    it = items[i]
    for t in bins:
        if t is source or (it.group is not None and it.group in t.groups):
            continue
        for j in list(t.items):
            jt = items[j]
            if jt.group is not None and jt.group == it.group:
                continue
            if any(t.used[d] - jt.size[d] + it.size[d] > t.cap[d] + EPS for d in range(3)):
                continue
            t.remove(j, jt)
            dest = None
            for o in bins:
                if o is not t and o is not source and o.fits(jt):
                    dest = o
                    break
            if dest is None:
                t.add(j, jt)
                continue
            dest.add(j, jt)
            t.add(i, it)
            if source is None:
                return [(j, t, dest)]
            source.remove(i, it)
            return [(j, t, dest), (i, source, t)]
    return None


def _best_fit(item: Item, bins: Sequence[Bin], exclude: Bin | None = None) -> Bin | None:
    best, best_slack = None, float("inf")
    for o in bins:
        if o is exclude or not o.fits(item):
            continue
        slack = sum((o.cap[d] - o.used[d] - item.size[d]) / o.cap[d]
                    for d in range(3) if o.cap[d] > 0)
        if slack < best_slack - EPS:
            best, best_slack = o, slack
    return best


# --- cheaper capacity for the same host count ----------------------------------------------

def _cheapen(bins: list[Bin], items: Sequence[Item], stocks: Sequence[Stock]) -> None:
    """Move a host's whole load onto a spare host of a cheaper class where it fits."""
    spare = [len(s.hosts) for s in stocks]
    for b in bins:
        spare[b.stock] -= 1
    cheaper = sorted(range(len(stocks)), key=lambda s: (stocks[s].cost, s))
    for b in sorted(bins, key=lambda b: (-stocks[b.stock].cost, b.load())):
        for s in cheaper:
            if stocks[s].cost >= stocks[b.stock].cost - EPS:
                break
            cap = stocks[s].cap
            if spare[s] and all(b.used[d] <= cap[d] + EPS for d in range(3)):
                spare[s] -= 1
                spare[b.stock] += 1
                b.stock, b.cap = s, cap
                break
