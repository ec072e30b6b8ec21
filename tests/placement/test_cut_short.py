"""Cutting a portfolio member short (``packing.pack``) never changes a placement: on generated
estates, large zones (over 5,000 servers) and small ones, the result is the one the full
portfolio finds, host for host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from benchmarks.placement import MEM, RATIOS, STD, estate, pool
from govcloud.errors import CapacityError
from govcloud.placement import filling, packing
from govcloud.placement.hosts import Demand, Host, Ratios
from govcloud.placement.place import place
from tests.placement.test_properties import estates
from tests.support.pyramid import sized

SMALL_CHEAP = ("x86-1s-small", 24, 192, 3840, 0.6)  # a cheaper, smaller class: a long sweep


class Cuts:
    """Counts the members cut short while it is in place."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        fill, ffd = packing.fill_hosts, packing.first_fit_decreasing

        def counted(run: Any) -> Any:
            def wrapper(*args: Any) -> Any:
                got = run(*args)
                self.count += got is None
                return got
            return wrapper

        monkeypatch.setattr(packing, "fill_hosts", counted(fill))
        monkeypatch.setattr(packing, "first_fit_decreasing", counted(ffd))


def _full(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The full portfolio: no bound ever cuts a member short."""
    with monkeypatch.context() as m:
        for module in (filling, packing):  # the bound both kinds of member are cut short by
            m.setattr(module, "need", lambda size, cap: -10**9)
        yield


def _both(demands: list[Demand], hosts: list[Host], ratios: Ratios,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, int]:
    with monkeypatch.context() as m:
        cuts = Cuts(m)
        cut = place(demands, hosts, ratios)
    for _ in _full(monkeypatch):
        full = place(demands, hosts, ratios)
    return cut, full, cuts.count


@pytest.mark.slow
@pytest.mark.parametrize("classes", [[STD], [STD, MEM], [STD, MEM, SMALL_CHEAP]],
                         ids=["one-class", "two-classes", "three-classes"])
def test_large_zones_place_as_the_full_portfolio(classes: list[Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With one class the sweep may end before any member is cut; with more, the sweeps of
    the other policies are cut short (the servers-shaped benchmark estate's case)."""
    demands = estate(400, 25.0, "realistic", seed=400)  # ~6,500 intranet, ~3,500 extranet
    zones = {z: sum(1 for d in demands if d.zone == z) for z in ("intranet", "extranet")}
    assert zones["intranet"] > 5_000 >= zones["extranet"]  # both paths of the portfolio
    cut, full, cuts = _both(demands, pool(demands, classes), RATIOS, monkeypatch)
    assert cuts > 0 or len(classes) == 1  # the bound did cut members short here
    assert dict(cut.assignment) == dict(full.assignment)
    assert cut.by_class() == full.by_class()


@settings(max_examples=sized(ci=100, dev=30), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=estates())
def test_small_zones_place_as_the_full_portfolio(case: tuple[list[Demand], list[Host], Ratios],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    demands, hosts, ratios = case
    try:
        cut, full, _ = _both(demands, hosts, ratios, monkeypatch)
    except CapacityError:
        return  # the pool is too small either way (test_properties covers the refusal)
    assert dict(cut.assignment) == dict(full.assignment)
