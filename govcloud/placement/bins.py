"""What the packing search works on: servers as size vectors (``Item``), the spare hosts of a
class (``Stock``), an opened host (``Bin``) and a zone's result (``Packed``); and the measures
more than one stage takes of them: the largest class (``biggest``), a size as shares of a
host (``norm``), the fewest hosts a size needs (``need``) and the dimensions that bind
(``binding``). Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

EPS = 1e-9

Vec = tuple[float, float, float]
SortKey = float | tuple[float, float]


def vec(values: Iterable[float]) -> Vec:
    """Exactly three values (CPU, RAM, disk) as a vector."""
    cpu, ram, disk = values
    return (cpu, ram, disk)


@dataclass(frozen=True)
class Item:
    """One server, as the search sees it."""

    key: str
    size: Vec
    group: str | None


@dataclass(frozen=True)
class Stock:
    """The spare hosts of one class in one zone, in the order they are taken."""

    cap: Vec  # usable capacity of one host
    cost: float
    hosts: tuple[str, ...]  # host names


@dataclass
class Bin:
    """One opened host while searching (mutable working state, never returned)."""

    stock: int
    cap: Vec
    used: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    items: list[int] = field(default_factory=list)
    groups: set[str] = field(default_factory=set)

    def fits(self, item: Item) -> bool:
        s, u, c = item.size, self.used, self.cap
        return (u[0] + s[0] <= c[0] + EPS and u[1] + s[1] <= c[1] + EPS
                and u[2] + s[2] <= c[2] + EPS
                and (item.group is None or item.group not in self.groups))

    def add(self, i: int, item: Item) -> None:
        self.items.append(i)
        for d in range(3):
            self.used[d] += item.size[d]
        if item.group is not None:
            self.groups.add(item.group)

    def remove(self, i: int, item: Item) -> None:
        self.items.remove(i)
        for d in range(3):
            self.used[d] -= item.size[d]
        if item.group is not None:
            self.groups.discard(item.group)

    def load(self) -> float:
        return max(self.used[d] / self.cap[d] for d in range(3) if self.cap[d] > 0)


@dataclass(frozen=True)
class Packed:
    """A zone's packing: for every used host (stock index, host name), its item indices."""

    bins: tuple[tuple[int, str, tuple[int, ...]], ...]
    unplaced: tuple[int, ...]  # items that did not fit the stock (empty when all fit)
    cost: float

    @property
    def hosts(self) -> int:
        return len(self.bins)

    def rank(self) -> tuple[int, int, float]:
        return (len(self.unplaced), len(self.bins), round(self.cost, 9))


def biggest(stocks: Sequence[Stock]) -> Vec:
    """The largest capacity of any class, per dimension."""
    return vec(max(s.cap[d] for s in stocks) for d in range(3))


def norm(size: Vec, cap: Vec) -> float:
    """A size as the sum of its shares of a host's capacity, over the dimensions."""
    return sum(size[d] / cap[d] for d in range(3) if cap[d] > 0)


def need(size: Sequence[float], cap: Vec) -> int:
    """The fewest hosts of capacity ``cap`` (the largest of every class) that could hold
    ``size`` in all: a lower bound, rounded down within a rounding error."""
    return max((math.ceil(size[d] / cap[d] - 1e-6) for d in range(3) if cap[d] > 0),
               default=0)


def binding(items: Sequence[Item], cap: Sequence[float]) -> list[int]:
    """The dimensions that bind: those needing at least half the hosts the worst one needs."""
    hosts = [sum(it.size[d] for it in items) / cap[d] if cap[d] > 0 else 0.0 for d in range(3)]
    top = max(hosts)
    return [d for d in range(3) if top > 0 and hosts[d] >= 0.5 * top]
