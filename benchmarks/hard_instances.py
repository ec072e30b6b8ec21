"""Bin-packing instances from the literature on which first-fit-decreasing is known to miss
the optimum, with the optimum known by construction. Seeded: every run sees the same ones.

1-D (vCPU only; RAM and disk are not binding):

* ``triplets`` — Falkenauer's "triplet" class (E. Falkenauer, *A hybrid grouping genetic
  algorithm for bin packing*, J. Heuristics 2, 1996; the t60/t120/t249/t501 sets): bins of
  1000, every bin filled exactly by three items, each in (250, 500). Generated as Falkenauer
  did: the first item uniform in [380, 490], the second uniform in [250, (1000 − first)/2],
  the third the rest. Optimum n/3, and the lower bound equals it; FFD, which pairs large
  items first, leaves most bins one item short.
* ``schwerin`` — a perfect-packing variant of the Schwerin & Wäscher class (P. Schwerin,
  G. Wäscher, *The bin-packing problem: a problem generator and some numerical experiments
  with FFD packing and MTP*, ITOR 4, 1997: items in [150, 200] of bins of 1000, where FFD is
  often one bin over): here every bin holds five or six items summing exactly to 1000, so
  the optimum is the bin count by construction.

2-D (vCPU and RAM both binding):

* ``vector-perfect`` — constructed perfect packings for vector bin packing (as in the
  "perfect packing" instances of Caprara & Toth, *Lower bounds and algorithms for the
  2-dimensional vector packing problem*, DAM 111, 2001, and of Panigrahy et al. 2011): each
  bin of (100, 100) is cut into three or four items by independent random cuts in each
  dimension, so a CPU-heavy item is often RAM-light; the items of a bin fill it exactly in
  both dimensions. Optimum = bins = the lower bound.
"""

from __future__ import annotations

import random

from govcloud.placement.hosts import Demand, Host, Ratios

RATIOS = Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=1.0)
SIZES = {"triplets": (60, 120, 249, 501), "schwerin": (60, 120, 250, 500),
         "vector-perfect": (60, 120, 250, 500)}


def _demand(i: int, cpu: float, ram: float) -> Demand:
    return Demand(f"h{i // 50:03d}/server/v{i:04d}", f"h{i // 50:03d}", "intranet", cpu, ram,
                  1)


def triplets(n: int, seed: int) -> tuple[list[Demand], int]:
    rnd = random.Random(seed)
    items: list[int] = []
    for _ in range(n // 3):
        a = rnd.randint(380, 490)
        b = rnd.randint(250, (1000 - a) // 2)
        items += [a, b, 1000 - a - b]
    rnd.shuffle(items)
    return [_demand(i, s, 1) for i, s in enumerate(items)], n // 3


def schwerin(n: int, seed: int) -> tuple[list[Demand], int]:
    rnd = random.Random(seed)
    items: list[int] = []
    while len(items) < n:
        k = 5 if n - len(items) >= 5 and (rnd.random() < 0.5 or n - len(items) < 6) else 6
        k = min(k, n - len(items))
        lo, hi = (150, 200) if k == 6 else (180, 220)
        while True:  # k sizes in [lo, hi] adding up to 1000
            cut = sorted(rnd.randint(lo, hi) for _ in range(k - 1))
            last = 1000 - sum(cut)
            if lo <= last <= hi or (k < 5 and last > 0):
                break
        items += [*cut, last]
    rnd.shuffle(items)
    bins = 0
    # Count the bins by construction: the generator added exactly one bin per group.
    total = sum(items)
    bins = total // 1000
    return [_demand(i, s, 1) for i, s in enumerate(items)], bins


def vector_perfect(n: int, seed: int) -> tuple[list[Demand], int]:
    rnd = random.Random(seed)
    out: list[tuple[int, int]] = []
    bins = 0
    while len(out) < n:
        k = min(rnd.choice([3, 4]), n - len(out))
        if k < 2:
            k = 2
        cpu = _cuts(rnd, 100, k)
        ram = _cuts(rnd, 100, k)
        rnd.shuffle(ram)
        out += list(zip(cpu, ram, strict=True))
        bins += 1
    rnd.shuffle(out)
    return [_demand(i, c, r) for i, (c, r) in enumerate(out)], bins


def _cuts(rnd: random.Random, total: int, k: int) -> list[int]:
    while True:
        points = sorted(rnd.sample(range(1, total), k - 1))
        parts = [b - a for a, b in zip([0, *points], [*points, total], strict=True)]
        if min(parts) >= 5:
            return parts


FAMILIES = {"triplets": triplets, "schwerin": schwerin, "vector-perfect": vector_perfect}


def hosts_for(family: str, demands: list[Demand], optimum: int) -> list[Host]:
    """Room to spare: twice the optimum, identical hosts."""
    cpu, ram = (1000, 1000) if family != "vector-perfect" else (100, 100)
    if family != "vector-perfect":
        ram = len(demands) + 1  # RAM never binds in the 1-D families
    return [Host(f"intranet-h-{i:04d}", "intranet", "h", cpu, ram, 10_000)
            for i in range(1, 2 * optimum + 3)]


def cases() -> list[tuple[str, list[Demand], list[Host], int]]:
    out = []
    for family, make in FAMILIES.items():
        for n in SIZES[family]:
            demands, opt = make(n, seed=n + len(family))
            out.append((f"{family}/{n}", demands, hosts_for(family, demands, opt), opt))
    return out
