"""The packing search behind ``placement.place``: one zone's servers onto the fewest hosts.

Pure and deterministic (no clocks, no randomness): every limit is a count, never a time.

The search is a small portfolio, and the best result wins (fewest hosts, then lowest cost):

1. Host-by-host filling (``filling``; the bin-centric "dot product" and "norm" heuristics of
   Panigrahy et al., *Heuristics for Vector Bin Packing*, 2011): open one host, then
   repeatedly add the server whose size best matches what is left on it, so CPU-heavy and
   RAM-heavy servers end up sharing hosts. Identical sizes are grouped, so one step costs
   O(distinct sizes), not O(servers); that is what lets 50,000 servers place in seconds.
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

from collections.abc import Callable, Sequence
from typing import overload

from govcloud.placement import overflow
from govcloud.placement.bins import (
    EPS,
    Bin,
    Item,
    Packed,
    SortKey,
    Stock,
    Vec,
    biggest,
    need,
    norm,
    vec,
)
from govcloud.placement.exact import EXACT_LIMIT, fewer_hosts, mixes, search
from govcloud.placement.filling import Kinds, fill_hosts
from govcloud.placement.slack import minimum_slack

__all__ = ["EPS", "Bin", "Item", "Packed", "Stock", "Vec", "first_fit_decreasing", "pack"]

Rank = tuple[int, int, float]  # (servers left unplaced, hosts, cost): the lower, the better
DRAIN_TRIES = 24
LARGE = 5_000  # zones over this many servers get the shorter portfolio
EMPHASES = (1.0, 2.0, 4.0, 8.0)  # weights of the tightest dimension, one filling run each
CLOSE_LIMIT = 600  # zones up to this many servers get the closer stage (5.) on a gap
EJECT_LIMIT = 2_000  # zones up to this many servers also try one-item ejections


# --- the portfolio -------------------------------------------------------------------------

def pack(items: Sequence[Item], stocks: Sequence[Stock], lower: int) -> Packed:
    """The best packing found for one zone (``lower``: its lower bound on hosts)."""
    if not items:
        return Packed((), (), 0.0)
    portfolio = _Portfolio(items, stocks, lower)
    portfolio.fill()
    portfolio.first_fit()
    bins = portfolio.winner()
    placed = {i for b in bins for i in b.items}
    unplaced = [i for i in range(len(items)) if i not in placed]
    if unplaced:
        unplaced = _repair(unplaced, items, stocks, bins)
    if unplaced and len(items) <= EXACT_LIMIT:
        bins, unplaced = _exactly(items, stocks, lower, bins, unplaced)
    if not unplaced:
        bins = _improve(items, stocks, bins, lower)
    return freeze(bins, stocks, unplaced)


class _Portfolio:
    """The members run so far (1. host-by-host filling, 2. first-fit decreasing), each with
    its rank; the best one wins (the first of equal ranks).

    A member is cut short once it provably opens more hosts than the best so far (and, for
    large zones, than the last), so it cannot change the result: the bound is what it has
    opened plus what the servers not yet placed need on the largest hosts."""

    def __init__(self, items: Sequence[Item], stocks: Sequence[Stock], lower: int) -> None:
        self.items, self.stocks, self.lower = items, stocks, lower
        self.large = len(items) > LARGE
        self.template = Kinds(items)
        self.tight = _tightest(items, stocks)
        self.runs: list[tuple[Rank, list[Bin]]] = []

    def best(self) -> Rank:
        return min(r[0] for r in self.runs)

    def done(self) -> bool:
        """Whether the best so far places every server on the lower bound."""
        return self.best()[:2] <= (0, self.lower)

    def winner(self) -> list[Bin]:
        return min(self.runs, key=lambda r: r[0])[1]

    @staticmethod
    def within(*ranks: Rank | None) -> int | None:
        """The most hosts a member may open and still matter: a member that provably needs
        more than every one of ``ranks`` (each with every server placed) is cut short."""
        if any(r is None or r[0] for r in ranks):
            return None
        return max(r[1] for r in ranks if r is not None)

    def _ranked(self, bins: list[Bin], left: list[int]) -> Rank:
        rank = (len(left), len(bins), round(_cost(bins, self.stocks), 9))
        self.runs.append((rank, bins))
        return rank

    def run(self, policy: str, score: str, emphasis: float, limit: int | None = None
            ) -> Rank | None:
        """One filling run, ranked; None when it was cut short at ``limit`` hosts."""
        weights = vec(emphasis if d == self.tight else 1.0 for d in range(3))
        got = fill_hosts(self.items, self.stocks, policy, score, weights, self.template, limit)
        return None if got is None else self._ranked(*got)

    def fill(self) -> None:
        """1. Host-by-host filling. The emphasis on the dimension that binds the lower bound
        steers each host towards filling that dimension to the brim; the best emphasis
        depends on the estate, so a few are tried (for large zones: until one does worse than
        the last)."""
        policies = ["largest", "densest", "cheapest"] if len(self.stocks) > 1 else ["cheapest"]
        if self.large and len(self.stocks) > 1:
            policies = ["largest", "cheapest"]
        for policy in policies:
            # A hopeless sweep is as if it had run: none of its members is the best.
            if not (self.large and self.runs and self._hopeless(policy)):
                self._sweep(policy)
            if self.done() or (self.large and policy == "cheapest"):
                break

    def _sweep(self, policy: str) -> None:
        """One policy's members: the dot product at each emphasis, then (small zones) the
        norm; a large zone's sweep ends at the first member that does worse than the last."""
        last: Rank | None = None
        for emphasis in EMPHASES:
            if not self.large:
                rank = self.run(policy, "dot", emphasis,
                                self.within(self.best()) if self.runs else None)
            elif last is None:
                rank = self.run(policy, "dot", emphasis)
            else:  # cut short: it would do worse than the last, which ends the sweep
                rank = self.run(policy, "dot", emphasis, self.within(last, self.best()))
            if self.done():
                break
            if self.large and last is not None and (rank is None or rank > last):
                break
            last = rank
        if not self.large:
            self.run(policy, "norm", 1.0, self.within(self.best()))

    def _hopeless(self, policy: str) -> bool:
        """Whether every member of a large zone's sweep needs more hosts than the best. Which
        of them the sweep runs depends on their ranks; when all are cut short, none can be
        the best, whichever ran. Otherwise the sweep runs as usual (a member that finished
        here is dropped, to be ranked in its usual place)."""
        limit = self.within(self.best())
        if limit is None:
            return False
        for emphasis in EMPHASES:
            if self.run(policy, "dot", emphasis, limit) is not None:
                self.runs.pop()
                return False
        return True

    def first_fit(self) -> None:
        """2. First-fit decreasing, by one size order (large zones) or four."""
        for order in (["sum"] if self.large else ["sum", "max", "cpu", "ram"]):
            got = first_fit_decreasing(self.items, self.stocks, order, self.within(self.best()))
            if got is not None:
                self._ranked(*got)


def _exactly(items: Sequence[Item], stocks: Sequence[Stock], lower: int, bins: list[Bin],
             unplaced: list[int]) -> tuple[list[Bin], list[int]]:
    """4. for a small zone the greedy stages could not place whole: the exact search, one
    host more at a time from the lower bound; ``bins`` and ``unplaced`` as they are when it
    finds nothing."""
    total = sum(len(s.hosts) for s in stocks)
    for k in range(max(lower, 1), total + 1):
        found = next((f for m in mixes(items, stocks, k)
                      if (f := search(items, stocks, m)) is not None), None)
        if found is not None:
            return found, []
    return bins, unplaced


def _improve(items: Sequence[Item], stocks: Sequence[Stock], bins: list[Bin], lower: int
             ) -> list[Bin]:
    """3.–5. on a packing that places every server: empty the least-loaded hosts, then (small
    zones) the exact search or (larger ones) the closer stage for one host fewer, then
    cheaper capacity for the same host count."""
    n = len(items)
    _drain(bins, items, stocks, lower)
    if n <= EXACT_LIMIT and len(bins) > lower:
        bins = fewer_hosts(items, stocks, bins, lower)
    if EXACT_LIMIT < n <= CLOSE_LIMIT and len(bins) > lower:
        bins = _closer(items, stocks, bins, lower)
    _cheapen(bins, items, stocks)
    return bins


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
        "sum": lambda it: norm(it.size, ref),
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
                        if opened + need(room, ref) > limit:
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
        for i in sorted(b.items, key=lambda i: -norm(items[i].size, b.cap)):
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
    for i in sorted(unplaced, key=lambda i: (-norm(items[i].size, biggest(stocks)), i)):
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
