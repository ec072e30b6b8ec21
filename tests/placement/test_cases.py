"""Placement from data: each folder under cases/ holds a case.yaml with the pool, the ratios
and the servers in, and the expected hosts, lower bound, utilization or error text out."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from govcloud.core.model import HostClass, HostPool
from govcloud.errors import CapacityError
from govcloud.placement.hosts import Demand, Host, Ratios, pool_hosts
from govcloud.placement.place import first_fit_decreasing, lower_bound, place, violations

CASES = Path(__file__).parent / "cases"


def load_case(folder: Path) -> tuple[list[Demand], list[Host], Ratios, dict[str, Any]]:
    data = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
    pool = HostPool(classes=tuple(HostClass(**c) for c in data["pool"]["classes"]),
                    hosts=data["pool"]["hosts"])
    ratios = Ratios(**data.get("ratios", {}))
    demands = []
    for s in data["servers"]:
        s = dict(s)
        count = s.pop("count", 1)
        keys = [s["key"]] if count == 1 else [f"{s['key']}-{i}" for i in range(1, count + 1)]
        demands += [Demand(**{**s, "key": k}) for k in keys]
    return demands, pool_hosts(pool), ratios, data["expect"]


@pytest.mark.parametrize("folder", sorted(CASES.iterdir()), ids=lambda p: p.name)
def test_case(folder: Path) -> None:
    demands, hosts, ratios, expect = load_case(folder)
    if "error" in expect:
        with pytest.raises(CapacityError) as info:
            place(demands, hosts, ratios)
        text = info.value.render()
        for fragment in expect["error"]:
            assert fragment in text
        return
    result = place(demands, hosts, ratios)
    assert violations(result.assignment, demands, hosts, ratios) == []
    assert result.count() == expect["hosts"]
    for zone, n in expect.get("by_zone", {}).items():
        assert result.count(zone) == n
    if "by_class" in expect:
        assert result.by_class() == expect["by_class"]
    bound = lower_bound(demands, hosts, ratios)
    if "lower_bound" in expect:
        assert bound == expect["lower_bound"]
    assert result.count() >= sum(bound.values())
    for dim, peak in expect.get("peak_utilization", {}).items():
        k = ("vcpu", "ram", "disk").index(dim)
        assert max(h.utilization(ratios)[k] for h in result.hosts) == pytest.approx(peak)
    assert result.count() <= first_fit_decreasing(demands, hosts, ratios).count()
    # Deterministic: the same servers in another order give the same placement.
    shuffled = list(demands)
    random.Random(7).shuffle(shuffled)
    assert place(shuffled, hosts, ratios) == result


def test_cases_cover_the_issue() -> None:
    names = {p.name for p in CASES.iterdir()}
    for topic in ("zones", "anti-affinity", "headroom", "host-class", "out-of"):
        assert any(topic in n for n in names), topic
