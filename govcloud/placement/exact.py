"""Exact search for small zones: a bounded depth-first search that tries one host fewer at a
time, over the cheapest class mixes that could hold the demand. Pure and deterministic: the
limit is a count of search nodes, never a time."""

from __future__ import annotations

from collections.abc import Sequence

from govcloud.placement.bins import EPS, Bin, Item, Stock, biggest

EXACT_LIMIT = 40  # zones up to this many servers get the exact search
EXACT_NODES = 20_000  # search nodes per class mix


def fewer_hosts(items: Sequence[Item], stocks: Sequence[Stock], bins: list[Bin],
           lower: int) -> list[Bin]:
    """Try one host fewer at a time with a bounded depth-first search."""
    best = bins
    for k in range(len(bins) - 1, lower - 1, -1):
        found = None
        for mix in mixes(items, stocks, k):
            found = search(items, stocks, mix)
            if found is not None:
                break
        if found is None:
            break
        best = found
    return best


def mixes(items: Sequence[Item], stocks: Sequence[Stock], k: int) -> list[tuple[int, ...]]:
    """Class mixes of k hosts (stock index per host) that could hold the total demand,
    cheapest first; at most a dozen."""
    total = [sum(it.size[d] for it in items) for d in range(3)]
    out: list[tuple[float, tuple[int, ...]]] = []

    def rec(s: int, left: int, counts: list[int]) -> None:
        if len(out) > 200:
            return
        if s == len(stocks) - 1:
            if left > len(stocks[s].hosts):
                return
            full = [*counts, left]
            cap = [sum(full[j] * stocks[j].cap[d] for j in range(len(stocks))) for d in range(3)]
            if all(cap[d] + EPS >= total[d] for d in range(3)):
                cost = sum(full[j] * stocks[j].cost for j in range(len(stocks)))
                out.append((cost, tuple(j for j in range(len(stocks)) for _ in range(full[j]))))
            return
        for c in range(min(left, len(stocks[s].hosts)), -1, -1):
            rec(s + 1, left - c, [*counts, c])

    if stocks:
        rec(0, k, [])
    out.sort()
    return [m for _, m in out[:12]]


def search(items: Sequence[Item], stocks: Sequence[Stock],
            mix: tuple[int, ...]) -> list[Bin] | None:
    ref = biggest(stocks)
    seq = sorted(range(len(items)),
                 key=lambda i: (-max(items[i].size[d] / ref[d] for d in range(3)),
                                items[i].key))
    bins = [Bin(s, stocks[s].cap) for s in mix]
    free = [sum(b.cap[d] for b in bins) for d in range(3)]
    need = [sum(it.size[d] for it in items) for d in range(3)]
    nodes = 0

    def rec(pos: int) -> bool:
        nonlocal nodes
        if pos == len(seq):
            return True
        nodes += 1
        if nodes > EXACT_NODES:
            return False
        i = seq[pos]
        it = items[i]
        seen_empty: set[int] = set()
        for b in bins:
            if not b.items:
                if b.stock in seen_empty:
                    continue  # identical empty hosts: trying one is enough
                seen_empty.add(b.stock)
            if not b.fits(it):
                continue
            b.add(i, it)
            if rec(pos + 1):
                return True
            b.remove(i, it)
            if nodes > EXACT_NODES:
                return False
        return False

    if any(need[d] > free[d] + EPS for d in range(3)):
        return None
    if not rec(0):
        return None
    return [b for b in bins if b.items]
