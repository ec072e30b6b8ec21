"""placement.bins: what the packing search works on, and the measures its stages share, on
values checked by hand."""

from __future__ import annotations

from govcloud.placement.bins import Bin, Item, Packed, Stock, biggest, binding, need, norm


def test_a_bin_takes_items_up_to_its_capacity_and_one_member_per_group() -> None:
    b = Bin(0, (10.0, 10.0, 10.0))
    b.add(0, Item("a", (6.0, 2.0, 1.0), "g"))
    assert b.used == [6.0, 2.0, 1.0] and b.items == [0] and b.groups == {"g"}
    assert b.fits(Item("b", (4.0, 8.0, 9.0), None))  # to the brim in every dimension
    assert not b.fits(Item("c", (4.1, 1.0, 1.0), None))
    assert not b.fits(Item("d", (1.0, 1.0, 1.0), "g"))  # a second member of g
    assert b.load() == 0.6  # the fullest dimension
    b.remove(0, Item("a", (6.0, 2.0, 1.0), "g"))
    assert b.used == [0.0, 0.0, 0.0] and b.items == [] and b.groups == set()


def test_biggest_is_the_largest_class_per_dimension() -> None:
    stocks = [Stock((48.0, 384.0, 7680.0), 1.0, ("s1",)), Stock((24.0, 768.0, 3840.0), 1.3, ())]
    assert biggest(stocks) == (48.0, 768.0, 7680.0)


def test_norm_sums_the_shares_of_a_host() -> None:
    assert norm((5.0, 2.0, 50.0), (10.0, 4.0, 100.0)) == 1.5
    assert norm((5.0, 2.0, 50.0), (10.0, 0.0, 100.0)) == 1.0  # a dimension of 0 is left out


def test_need_is_the_fewest_hosts_in_the_tightest_dimension() -> None:
    assert need((25.0, 10.0, 0.0), (10.0, 10.0, 100.0)) == 3  # 2.5 hosts of vCPU
    assert need((20.0, 10.0, 0.0), (10.0, 10.0, 100.0)) == 2  # exactly two: not three
    assert need((0.0, 0.0, 0.0), (10.0, 10.0, 100.0)) == 0


def test_binding_dimensions_need_at_least_half_the_hosts_of_the_worst() -> None:
    """vCPU needs 10/10 = 1 host, RAM 4/10, disk 1/10: only vCPU binds; with RAM 6/10 both."""
    items = [Item("a", (6.0, 2.0, 0.5), None), Item("b", (4.0, 2.0, 0.5), None)]
    assert binding(items, (10.0, 10.0, 10.0)) == [0]
    items.append(Item("c", (0.0, 2.0, 0.0), None))
    assert binding(items, (10.0, 10.0, 10.0)) == [0, 1]


def test_packed_ranks_unplaced_then_hosts_then_cost() -> None:
    packed = Packed(((0, "h1", (0, 1)), (0, "h2", (2,))), (3,), 2.0)
    assert packed.hosts == 2 and packed.rank() == (1, 2, 2.0)
