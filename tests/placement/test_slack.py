"""placement.slack: minimum bin slack, on an instance where first-fit-decreasing opens a
host too many; checked by hand."""

from __future__ import annotations

from govcloud.placement.bins import Item, Stock
from govcloud.placement.packing import first_fit_decreasing
from govcloud.placement.slack import minimum_slack

# 49+26+25 = 100 and 40+35+25 = 100: two hosts of 100, filled exactly.
SIZES = (49, 26, 25, 40, 35, 25)


def _items() -> list[Item]:
    return [Item(f"i{n}", (float(v), 1.0, 1.0), None) for n, v in enumerate(SIZES)]


def _stock(n: int, cpu: float = 100.0) -> list[Stock]:
    return [Stock((cpu, 100.0, 100.0), 1.0, tuple(f"h{i}" for i in range(n)))]


def test_each_host_gets_the_combination_that_fills_it_most() -> None:
    """FFD: 49+40 | 35+26+25 | 25, three hosts. Minimum slack: the first host takes the
    largest, 49, and the fullest combination of the rest beside it (26+25, exactly 51);
    the second 40 and 35+25."""
    items = _items()
    bins, _ = first_fit_decreasing(items, _stock(3))
    assert len(bins) == 3
    found = minimum_slack(items, _stock(3), 0)
    assert found is not None
    assert [sorted(items[i].size[0] for i in b.items) for b in found] == [[25, 26, 49],
                                                                          [25, 35, 40]]


def test_none_when_the_class_is_too_small() -> None:
    assert minimum_slack(_items(), _stock(1), 0) is None  # 200 vCPU on one host of 100
    assert minimum_slack(_items(), _stock(3, cpu=45.0), 0) is None  # 49 fits no host
