"""placement.packing: the portfolio on one zone's items and stocks, on values checked by
hand."""

from __future__ import annotations

from govcloud.placement.bins import Bin, Item, Packed, Stock
from govcloud.placement.packing import first_fit_decreasing, freeze, pack


def _items(*vcpus: float, group: str | None = None) -> list[Item]:
    return [Item(f"s{i:02d}", (v, 1.0, 1.0), group) for i, v in enumerate(vcpus)]


def _stock(n: int, cpu: float = 10.0, cost: float = 1.0, name: str = "h") -> Stock:
    return Stock((cpu, 100.0, 100.0), cost, tuple(f"{name}{i}" for i in range(1, n + 1)))


def _sizes(packed: Packed, items: list[Item]) -> list[list[float]]:
    return sorted(sorted(items[i].size[0] for i in members) for _, _, members in packed.bins)


def test_nothing_to_pack() -> None:
    assert pack([], [_stock(2)], 0) == Packed((), (), 0.0)


def test_the_lower_bound_is_reached_where_first_fit_decreasing_misses_it() -> None:
    """5,5,4,4,3,3,3,3 on hosts of 10: FFD opens 5+5 | 4+4 | 3+3+3 | 3; three hosts hold
    the 30 exactly (5+5 | 4+3+3 | 4+3+3), named as taken."""
    items, stocks = _items(5, 5, 4, 4, 3, 3, 3, 3), [_stock(4)]
    bins, left = first_fit_decreasing(items, stocks)
    assert left == [] and sorted(sorted(items[i].size[0] for i in b.items) for b in bins) == \
        [[3], [3, 3, 3], [4, 4], [5, 5]]
    packed = pack(items, stocks, 3)
    assert _sizes(packed, items) == [[3, 3, 4], [3, 3, 4], [5, 5]]
    assert [name for _, name, _ in packed.bins] == ["h1", "h2", "h3"]
    assert packed.unplaced == () and packed.cost == 3.0


def test_anti_affinity_members_get_a_host_each() -> None:
    packed = pack(_items(1, 1, group="g"), [_stock(3)], 2)
    assert [members for _, _, members in packed.bins] == [(0,), (1,)]


def test_a_load_that_fits_a_cheaper_host_moves_onto_it() -> None:
    """5+5 fit one big host (cost 2) or one small host exactly (cost 1): the small one."""
    big, small = _stock(1, cpu=20.0, cost=2.0, name="big"), _stock(2, cost=1.0, name="small")
    packed = pack(_items(5, 5), [big, small], 1)
    assert packed.bins == ((1, "small1", (0, 1)),) and packed.cost == 1.0


def test_what_fits_no_host_is_left_unplaced() -> None:
    """20 vCPU fit no host of 10; the 5 still gets one."""
    packed = pack(_items(20, 5), [_stock(2)], 1)
    assert packed.unplaced == (0,) and packed.bins == ((0, "h1", (1,)),)


def test_freeze_names_hosts_in_the_order_each_class_is_taken() -> None:
    items = _items(1, 2, 3)
    cap = (10.0, 100.0, 100.0)
    a, b, c = Bin(1, cap), Bin(0, cap), Bin(1, cap)
    a.add(2, items[2])
    a.add(0, items[0])
    b.add(1, items[1])
    frozen = freeze([a, b, c], [_stock(2, name="x"), _stock(2, cost=2.0, name="y")], [])
    assert frozen.bins == ((0, "x1", (1,)), (1, "y1", (0, 2)), (1, "y2", ()))
    assert frozen.cost == 5.0
