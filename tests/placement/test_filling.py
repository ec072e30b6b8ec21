"""placement.filling: host-by-host filling on values checked by hand."""

from __future__ import annotations

from govcloud.placement.bins import Item, Stock
from govcloud.placement.filling import Kinds, fill_hosts

CAP = (10.0, 10.0, 10.0)


def _stock(n: int, size: float = 10.0, cost: float = 1.0) -> Stock:
    return Stock((size, size, size), cost, tuple(f"h{size:g}-{i}" for i in range(n)))


def test_kinds_group_identical_sizes_largest_first() -> None:
    items = [Item("a", (1.0, 1.0, 1.0), None), Item("b", (2.0, 2.0, 2.0), None),
             Item("c", (1.0, 1.0, 1.0), None)]
    kinds = Kinds(items)
    assert kinds.sizes == [(2.0, 2.0, 2.0), (1.0, 1.0, 1.0)]
    assert kinds.queues == [[1], [0, 2]]
    assert kinds.demand == [4.0, 4.0, 4.0] and kinds.total == 3


def test_kinds_interleave_anti_affinity_groups_largest_group_first() -> None:
    """Of one size: the first member of every group (g has three, h two), then the
    second members, then the third; servers of no group last."""
    keys = ["u", "h1", "g1", "h2", "g2", "g3"]
    items = [Item(k, (1.0, 1.0, 1.0), None if k == "u" else k[0]) for k in keys]
    kinds = Kinds(items)
    assert [items[i].key for i in kinds.queues[0]] == ["g1", "h1", "g2", "h2", "g3", "u"]


def test_each_host_takes_the_server_that_best_matches_what_is_left() -> None:
    """vCPU 6, 4, 5, 5 (RAM and disk 1) on hosts of 10, dot product: the first host takes 6
    (the largest product with an empty host), then only 4 fits its 4 vCPU left; the second
    takes 5 and 5."""
    items = [Item(f"s{v}-{i}", (float(v), 1.0, 1.0), None) for i, v in enumerate((6, 4, 5, 5))]
    got = fill_hosts(items, [_stock(3)], "cheapest", "dot", (1.0, 1.0, 1.0), Kinds(items))
    assert got is not None
    bins, left = got
    assert [sorted(b.items) for b in bins] == [[0, 1], [2, 3]] and left == []


def test_a_run_is_cut_short_once_it_must_open_more_than_the_limit() -> None:
    """After the first host, 10 vCPU are left: one more host at least, two in all."""
    items = [Item(f"s{i}", (5.0, 1.0, 1.0), None) for i in range(4)]
    args = ([_stock(3)], "cheapest", "dot", (1.0, 1.0, 1.0), Kinds(items))
    assert fill_hosts(items, *args, limit=1) is None
    assert fill_hosts(items, *args, limit=2) is not None


def test_the_policy_chooses_each_host_class() -> None:
    """One 5 on a small class (10, cost 1) and a large one (20, cost 2): largest first takes
    the large host, cheapest the small. Four 5s: the large host holds all four (3 as shares
    of the largest class) against the small one's two (1.5), so densest takes the large."""
    stocks = [_stock(2, 10.0, 1.0), _stock(1, 20.0, 2.0)]
    one = [Item("a", (5.0, 5.0, 5.0), None)]
    four = [Item(f"s{i}", (5.0, 5.0, 5.0), None) for i in range(4)]
    weights = (1.0, 1.0, 1.0)

    def classes(items: list[Item], policy: str) -> list[int]:
        got = fill_hosts(items, stocks, policy, "dot", weights, Kinds(items))
        assert got is not None
        return [b.stock for b in got[0]]

    assert classes(one, "largest") == [1]
    assert classes(one, "cheapest") == [0]
    assert classes(four, "densest") == [1]
    assert classes(four, "cheapest") == [0, 0]
