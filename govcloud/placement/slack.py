"""Minimum bin slack: host by host, the set of servers that fills the host the most.

Gupta & Ho, *A new heuristic algorithm for the one-dimensional bin-packing problem*, Production
Planning & Control 10 (1999), with Fleszar & Hindi's variant that always puts the largest
server left on the new host (MBS', *New heuristics for one-dimensional bin-packing*,
Computers & OR 29, 2002): where first-fit-decreasing fills hosts with the largest servers and
leaves a gap on each, this searches, for every host, the combination of servers that leaves
the least room unused — on instances built from exact fits (Falkenauer's triplets, perfect
packings) it finds them. Here the slack is summed over the dimensions that bind, so it packs
vectors (vCPU and RAM) as well.

Pure and deterministic: the search of one host stops after ``NODES`` steps, and of the whole
packing after ``TOTAL`` (then each host gets ``SHORT``): counts, never a time; the fullest
combination found is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from govcloud.placement.bins import EPS, Bin, Item, Stock, binding

NODES = 6_000  # search steps per host
TOTAL = 1_500_000  # search steps per packing; when spent, each host gets ``SHORT`` more
SHORT = 300


def minimum_slack(items: Sequence[Item], stocks: Sequence[Stock], stock: int,
                  nodes: int = NODES) -> list[Bin] | None:
    """Every item onto hosts of class ``stock``, host by host; None when they do not fit
    the class's hosts."""
    cap = stocks[stock].cap
    if not all(all(it.size[d] <= cap[d] + EPS for d in range(3)) for it in items):
        return None
    dims = binding(items, cap)
    weight = [1.0 / cap[d] if d in dims else 0.0 for d in range(3)]

    def size(i: int) -> float:
        return sum(items[i].size[d] * weight[d] for d in range(3))

    left = sorted(range(len(items)), key=lambda i: (-size(i), items[i].key))
    bins: list[Bin] = []
    full = float(len(dims))
    spent = [0]
    while left:
        if len(bins) >= len(stocks[stock].hosts):
            return None
        b = Bin(stock, cap)
        b.add(left[0], items[left[0]])
        allowed = nodes if spent[0] < TOTAL else SHORT
        chosen = _fullest(b, left[1:], items, size, full - size(left[0]), allowed, spent)

        for i in chosen:
            b.add(i, items[i])
        taken = {left[0], *chosen}
        left = [i for i in left if i not in taken]
        bins.append(b)
    return bins


def _fullest(b: Bin, candidates: list[int], items: Sequence[Item],
             size: Callable[[int], float], room: float, nodes: int, spent: list[int]
             ) -> list[int]:
    """The combination of ``candidates`` that fits ``b`` and leaves the least of ``room``."""
    sizes = [size(i) for i in candidates]
    best: list[int] = []
    best_fill = 0.0
    path: list[int] = []
    budget = [nodes]

    def dfs(start: int, fill: float) -> bool:
        nonlocal best, best_fill
        if fill > best_fill + EPS:
            best, best_fill = list(path), fill
            if room - fill <= EPS:
                return True
        tried: set[tuple[float, float, float, str | None]] = set()
        for j in range(start, len(candidates)):
            budget[0] -= 1
            if budget[0] <= 0:
                return True
            i = candidates[j]
            it = items[i]
            shape = (*it.size, it.group)
            if shape in tried or not b.fits(it):
                continue
            tried.add(shape)  # an identical server in the same place: the same subtree
            b.add(i, it)
            path.append(i)
            stop = dfs(j + 1, fill + sizes[j])
            path.pop()
            b.remove(i, it)
            if stop:
                return True
        return False

    dfs(0, 0.0)
    spent[0] += nodes - max(budget[0], 0)
    return best
