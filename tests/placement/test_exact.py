"""placement.exact: class mixes and the bounded exact search, on values checked by hand."""

from __future__ import annotations

from govcloud.placement.bins import Bin, Item, Stock
from govcloud.placement.exact import fewer_hosts, mixes, search

SMALL = Stock((10.0, 100.0, 100.0), 1.0, ("s1", "s2", "s3"))
LARGE = Stock((20.0, 100.0, 100.0), 1.5, ("l1",))


def _items(*vcpus: float) -> list[Item]:
    return [Item(f"i{n}", (v, 1.0, 1.0), None) for n, v in enumerate(vcpus)]


def test_mixes_are_the_class_combinations_that_hold_the_demand_cheapest_first() -> None:
    """25 vCPU. Two hosts: small + large (30, cost 2.5); two small give only 20 and there is
    one large. Three: three small (30, cost 3) before two small + large (40, cost 3.5)."""
    items = _items(10, 10, 5)
    assert mixes(items, [SMALL, LARGE], 2) == [(0, 1)]
    assert mixes(items, [SMALL, LARGE], 3) == [(0, 0, 0), (0, 0, 1)]
    assert mixes(items, [SMALL, LARGE], 1) == []


def test_search_fills_the_mix_or_says_it_cannot() -> None:
    """5,5,4,4,3,3,3,3 = 30 fills three hosts of 10 exactly; two hosts hold only 20."""
    items = _items(5, 5, 4, 4, 3, 3, 3, 3)
    found = search(items, [SMALL], (0, 0, 0))
    assert found is not None
    assert sorted(sorted(items[i].size[0] for i in b.items) for b in found) == \
        [[3, 3, 4], [3, 3, 4], [5, 5]]
    assert search(items, [SMALL], (0, 0)) is None


def test_fewer_hosts_tries_one_host_fewer_at_a_time() -> None:
    """From first-fit-decreasing's four hosts (5+5 | 4+4 | 3+3+3 | 3) down to three."""
    items = _items(5, 5, 4, 4, 3, 3, 3, 3)
    stocks = [Stock((10.0, 100.0, 100.0), 1.0, ("s1", "s2", "s3", "s4"))]
    start = []
    for members in ((0, 1), (2, 3), (4, 5, 6), (7,)):
        b = Bin(0, stocks[0].cap)
        for i in members:
            b.add(i, items[i])
        start.append(b)
    assert len(fewer_hosts(items, stocks, start, 3)) == 3
    assert fewer_hosts(items, stocks, start, 4) == start  # already at the bound given
