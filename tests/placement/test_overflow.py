"""placement.overflow: the tabu search on overflow, on an instance with one exact answer;
checked by hand."""

from __future__ import annotations

from govcloud.placement.bins import Item, Stock
from govcloud.placement.overflow import fewer

# The only split into two hundreds: 49+26+25 | 40+35+25 (49 needs 51 more, and only 26 and
# a 25 make 51).
SIZES = (49, 26, 25, 40, 35, 25)


def _items(groups: dict[int, str] | None = None) -> list[Item]:
    groups = groups or {}
    return [Item(f"i{n}", (float(v), 1.0, 1.0), groups.get(n)) for n, v in enumerate(SIZES)]


STOCKS = [Stock((100.0, 100.0, 100.0), 1.0, ("h1", "h2", "h3"))]


def test_three_hosts_become_two_filled_exactly() -> None:
    items = _items()
    found = fewer(items, STOCKS, 0, 3, 2)
    assert found is not None
    assert sorted(sorted(items[i].size[0] for i in b.items) for b in found) == \
        [[25, 26, 49], [25, 35, 40]]
    assert all(b.used[0] == 100.0 for b in found)


def test_anti_affinity_that_forbids_the_only_exact_split_leaves_it_undone() -> None:
    """49 and 26 in one anti-affinity group: no split into two hundreds is left."""
    assert fewer(_items({0: "g", 1: "g"}), STOCKS, 0, 3, 2) is None


def test_nothing_when_a_server_is_larger_than_the_class() -> None:
    small = [Stock((45.0, 100.0, 100.0), 1.0, ("h1", "h2", "h3", "h4", "h5"))]
    assert fewer(_items(), small, 0, 5, 4) is None
