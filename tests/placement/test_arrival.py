"""Issue #13, part 1: apply puts new servers where the packer puts them (sim driver)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from govcloud.applying import engine
from govcloud.placement.arrival import arrivals
from govcloud.placement.hosts import Demand, Host, Ratios
from govcloud.placement.place import place
from tests.support.cli import govcloud

RATIOS = Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=1.0)


def _hosts(n: int, zone: str = "intranet") -> list[Host]:
    return [Host(f"{zone}-{i}", zone, "std", 16, 64, 1000) for i in range(1, n + 1)]


def test_a_fresh_estate_arrives_exactly_as_packed() -> None:
    hosts = _hosts(6)
    new = [Demand(f"a/server/s{i}", "a", "intranet", 4 + i % 3, 8 + 4 * (i % 5), 50)
           for i in range(14)]
    got = arrivals(new, [], {}, hosts, RATIOS)
    assert dict(got.hosts) == dict(place(new, hosts, RATIOS).assignment)
    assert got.enable == ()


def test_new_servers_fill_running_hosts_before_empty_ones() -> None:
    hosts = _hosts(3)
    running = [Demand("a/server/r1", "a", "intranet", 8, 32, 100)]
    new = [Demand("a/server/n1", "a", "intranet", 8, 32, 100)]
    # r1 runs on intranet-3: n1 joins it rather than open another host.
    got = arrivals(new, running, {"a/server/r1": "intranet-3"}, hosts, RATIOS)
    assert dict(got.hosts) == {"a/server/n1": "intranet-3"}


def test_disabled_hosts_are_used_only_when_the_enabled_are_too_few() -> None:
    hosts = _hosts(3)
    hosts[0] = dataclasses.replace(hosts[0], enabled=False)
    two = [Demand(f"a/server/s{i}", "a", "intranet", 16, 64, 100) for i in range(2)]
    got = arrivals(two, [], {}, hosts, RATIOS)
    assert sorted(got.hosts.values()) == ["intranet-2", "intranet-3"] and got.enable == ()
    three = [*two, Demand("a/server/s9", "a", "intranet", 16, 64, 100)]
    got = arrivals(three, [], {}, hosts, RATIOS)
    assert sorted(got.hosts.values()) == ["intranet-1", "intranet-2", "intranet-3"]
    assert got.enable == ("intranet-1",)


def test_after_the_first_apply_the_hosts_in_use_are_capacitys(estate: Path) -> None:
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    shown = json.loads(govcloud("show", "-o", "json", estate=estate, check=True).stdout)
    needed = json.loads(govcloud("capacity", "-o", "json", estate=estate, check=True).stdout)
    assert len(shown["hosts_used"]) == needed["hosts"] > 0
    with engine.session(estate) as s:  # and they are the packing's hosts, server by server
        from govcloud.placement.capacity import demands

        wanted = demands(s.desired().values())
        packed = place(wanted, s.driver.hosts(), Ratios.of(s.estate.settings.host_pool))
        assert s.driver.servers_on_hosts() == dict(packed.assignment)


def test_apply_enables_a_parked_host_when_capacity_needs_it(estate: Path) -> None:
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    with engine.session(estate) as s:
        used = set(s.driver.servers_on_hosts().values())
        intranet = [h.name for h in s.driver.hosts() if h.zone == "intranet"]
        idle = [h for h in intranet if h not in used]
        for h in idle:  # park every idle intranet host
            s.driver.set_host_enabled(h, False, "govcloud: consolidated 2026-11-26")
        assert sum(not h.enabled for h in s.driver.hosts()) == len(idle)
    # A second finance department: more than the free room on the intranet hosts in use.
    plan = (estate / "plans" / "finance.yaml").read_text(encoding="utf-8")
    assert "zone: intranet" in plan
    extra = plan.replace("id: finance", "id: finance2").replace("CC-1002", "CC-1902") \
        .replace("fin-", "fn2-").replace("czj-intra", "czj2-intra")
    (estate / "plans" / "finance2.yaml").write_text(extra, encoding="utf-8")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    with engine.session(estate) as s:
        where = s.driver.servers_on_hosts()
        hosts = {h.name: h for h in s.driver.hosts()}
        mine = {h for k, h in where.items() if k.startswith("finance2/")}
        assert mine - used, "finance2 fitted on the hosts in use: the test proves nothing"
        assert all(hosts[h].enabled for h in mine)
        assert all(not hosts[h].enabled for h in set(idle) - mine)  # the rest stay parked
