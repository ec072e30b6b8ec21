"""placement.place: a whole estate, one more server, the baselines and the rules, on a few
hosts and servers whose answer can be worked out by hand (each test says how)."""

from __future__ import annotations

import pytest

from govcloud.errors import CapacityError
from govcloud.placement.hosts import Demand, Host, Ratios, Usage
from govcloud.placement.place import (
    first_fit_decreasing,
    hosts_by_class,
    lower_bound,
    place,
    place_one,
    spread,
    violations,
)

EXACT = Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=1.0)


def _hosts(n: int, zone: str = "intranet", cpu: float = 10, ram: float = 10,
           cls: str = "std", cost: float = 1.0) -> list[Host]:
    return [Host(f"{zone}-{cls}-{i}", zone, cls, cpu, ram, 100, cost) for i in range(1, n + 1)]


def _servers(*vcpus: float, zone: str = "intranet", group: str | None = None,
             ram: float = 1) -> list[Demand]:
    return [Demand(f"a/server/s{i}-{zone}", "a", zone, v, ram, 1, group)
            for i, v in enumerate(vcpus, start=1)]


def test_five_servers_on_three_hosts_need_two() -> None:
    """6+4+5+3+2 = 20 vCPU on hosts of 10: two hosts, full; the only split in tens is
    {6, 4} and {5, 3, 2}. The hosts are taken in list order."""
    hosts, demands = _hosts(3), _servers(6, 4, 5, 3, 2)
    result = place(demands, hosts, EXACT)
    assert result.count() == 2 == lower_bound(demands, hosts, EXACT)["intranet"]
    assert {h.host.name for h in result.hosts} == {"intranet-std-1", "intranet-std-2"}
    assert sorted(sorted(d.vcpus for d in demands if result.assignment[d.key] == h.host.name)
                  for h in result.hosts) == [[2, 3, 5], [4, 6]]
    assert [h.vcpus for h in result.hosts] == [10, 10]


def test_place_finds_three_where_first_fit_decreasing_opens_four() -> None:
    """5,5,4,4,3,3,3,3 on hosts of 10. FFD: 5+5 | 4+4 (3 does not fit) | 3+3+3 | 3: four
    hosts. Three hold the 30 exactly: 5+5 | 4+3+3 | 4+3+3 (5 pairs only with 5)."""
    hosts, demands = _hosts(4), _servers(5, 5, 4, 4, 3, 3, 3, 3)
    ffd = first_fit_decreasing(demands, hosts, EXACT)
    assert ffd.count() == 4
    assert sorted(h.vcpus for h in ffd.hosts) == [3, 8, 9, 10]
    ours = place(demands, hosts, EXACT)
    assert ours.count() == 3 == lower_bound(demands, hosts, EXACT)["intranet"]
    assert sorted(sorted(d.vcpus for d in demands if ours.assignment[d.key] == h.host.name)
                  for h in ours.hosts) == [[3, 3, 4], [3, 3, 4], [5, 5]]


def test_zones_are_never_mixed() -> None:
    """Three servers of 2 would fit one host; the extranet one still gets its own."""
    hosts = _hosts(1) + _hosts(1, zone="extranet")
    demands = [*_servers(2, 2), *_servers(2, zone="extranet")]
    result = place(demands, hosts, EXACT)
    assert dict(result.assignment) == {"a/server/s1-intranet": "intranet-std-1",
                                       "a/server/s2-intranet": "intranet-std-1",
                                       "a/server/s1-extranet": "extranet-std-1"}
    assert (result.count("intranet"), result.count("extranet")) == (1, 1)


def test_replicas_of_a_group_land_on_distinct_hosts() -> None:
    """Three 1-vCPU replicas would fit one host; anti-affinity spreads them over three. A
    fourth replica on three hosts has nowhere to go."""
    hosts = _hosts(3)
    three = _servers(1, 1, 1, group="a/db")
    result = place(three, hosts, EXACT)
    assert sorted(result.assignment.values()) == ["intranet-std-1", "intranet-std-2",
                                                  "intranet-std-3"]
    assert lower_bound(three, hosts, EXACT) == {"intranet": 3}
    with pytest.raises(CapacityError) as err:
        place(_servers(1, 1, 1, 1, group="a/db"), hosts, EXACT)
    assert "1 server(s) of a do not fit on the 3 intranet hosts" in str(err.value)
    assert "anti-affinity needs more distinct hosts" in str(err.value)


def test_headroom_and_allocation_ratios_are_respected() -> None:
    """Two 5-vCPU servers on 10-vCPU hosts: with headroom 0.8 a host gives 8, so one each;
    with headroom 1 they share one. A 4-vCPU host at ratio 4 holds four 4-vCPU servers."""
    hosts, demands = _hosts(2), _servers(5, 5)
    assert place(demands, hosts, Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=0.8)).count() == 2
    assert place(demands, hosts, EXACT).count() == 1
    small = _hosts(2, cpu=4, ram=64)
    four = _servers(4, 4, 4, 4)
    packed = place(four, small, Ratios(cpu=4.0, ram=1.0, disk=1.0, headroom=1.0))
    assert packed.count() == 1 and packed.hosts[0].vcpus == 16


def test_equal_host_counts_take_the_cheaper_class() -> None:
    """10 vCPU fit one small host (cost 1) or one big one (cost 2): the small one. 15 vCPU
    need one big host or two small ones: fewer hosts first."""
    hosts = _hosts(2, cpu=20, cls="big", cost=2.0) + _hosts(2, cls="small")
    assert place(_servers(5, 5), hosts, EXACT).by_class() == {"small": 1}
    assert place(_servers(5, 5, 5), hosts, EXACT).by_class() == {"big": 1}


def test_lower_bound_counts_whole_vcpus_on_a_host() -> None:
    """16 vCPU × 4 × 0.8 = 51.2 usable, but whole 1-vCPU servers fill only 51: 256 of them
    need 6 hosts (5 × 51 = 255), where 256 / 51.2 = 5 would say five."""
    ratios = Ratios(cpu=4.0, ram=1.0, disk=1.0, headroom=0.8)
    hosts = _hosts(8, cpu=16, ram=64)
    demands = [Demand(f"a/server/s{i:03d}", "a", "intranet", 1, 0.1, 1) for i in range(256)]
    assert lower_bound(demands, hosts, ratios) == {"intranet": 6}
    assert place(demands, hosts, ratios).count() == 6


def test_place_one_takes_the_fullest_used_host_it_fits() -> None:
    """A holds 6 of 10, B 2, C and D nothing: 4 fills A to the brim; 5 fits only B; 9 fits
    no used host and opens the first empty one by name."""
    a, b, c, d = _hosts(4)
    used = {a.name: Usage(vcpus=6), b.name: Usage(vcpus=2)}
    hosts = [d, c, b, a]  # the order given does not matter
    assert place_one(_servers(4)[0], hosts, used, EXACT) == a.name
    assert place_one(_servers(5)[0], hosts, used, EXACT) == b.name
    assert place_one(_servers(9)[0], hosts, used, EXACT) == c.name


def test_place_one_says_what_is_short() -> None:
    hosts = _hosts(2)
    used = {hosts[0].name: Usage(vcpus=7)}
    with pytest.raises(CapacityError) as err:
        place_one(_servers(11)[0], hosts, used, EXACT)
    assert str(err.value) == ("department a: out of intranet capacity placing "
                              "a/server/s1-intranet: short of vCPU (needs 11, most free on one "
                              "host 10)")
    assert err.value.hint == "add intranet hosts to host_pool.hosts, or lower the request"


def test_spread_puts_each_server_on_the_host_with_the_most_free_ram() -> None:
    """A has 10 GiB, B 20: 4-GiB servers go to B while it has more free (20, 16, 12), then
    to A (10 free against B's 8)."""
    hosts = [*_hosts(1, ram=10), Host("intranet-std-9", "intranet", "std", 10, 20, 100)]
    demands = _servers(1, 1, 1, 1, ram=4)
    result = spread(demands, hosts, EXACT)
    assert [result.assignment[d.key] for d in demands] == [
        "intranet-std-9", "intranet-std-9", "intranet-std-9", "intranet-std-1"]


def test_violations_names_every_broken_rule() -> None:
    hosts = _hosts(1) + _hosts(1, zone="extranet")
    s1, s2, s3 = _servers(1, 1, 1)
    s4, s5 = (Demand("a/server/s4", "a", "intranet", 6, 1, 1, "a/g"),
              Demand("a/server/s5", "a", "intranet", 6, 1, 1, "a/g"))
    assignment = {s1.key: "extranet-std-1", s3.key: "nowhere",
                  s4.key: "intranet-std-1", s5.key: "intranet-std-1"}
    assert violations(assignment, [s1, s2, s3, s4, s5], hosts, EXACT) == [
        "a/server/s1-intranet: intranet server on extranet host extranet-std-1",
        "a/server/s2-intranet: not placed",
        "a/server/s3-intranet: unknown host nowhere",
        "a/server/s5: a second replica of a/g on intranet-std-1",
        "intranet-std-1: vcpus 12 over usable 10",
    ]
    good = place([s1, s2], hosts, EXACT)
    assert violations(good.assignment, [s1, s2], hosts, EXACT) == []


def test_a_server_larger_than_every_host_is_named_with_what_is_short() -> None:
    with pytest.raises(CapacityError) as err:
        place(_servers(11), _hosts(2), EXACT)
    assert str(err.value) == ("department a: a/server/s1-intranet is larger than any intranet "
                              "host (std) after ratios and headroom: short of vCPU (needs 11, "
                              "largest usable host has 10)")


def test_hosts_by_class_counts_what_place_uses() -> None:
    """Two zones, two classes each (the big class cheaper per vCPU), anti-affinity: the
    count per class is the placement's, without building it."""
    hosts = [*_hosts(4, cls="small", cost=1.0), *_hosts(3, cls="big", cpu=20, ram=20, cost=1.5),
             *_hosts(3, zone="extranet", cls="small"),
             *_hosts(2, zone="extranet", cls="big", cpu=20, ram=20, cost=1.5)]
    demands = [*_servers(6, 4, 5, 3, 2, 9, 8, 7), *_servers(4, 4, 4, 4, group="a/g"),
               *_servers(12, 3, 3, zone="extranet")]
    demands = [Demand(f"{d.key}-{n}", d.department, d.zone, d.vcpus, d.ram_gb, d.disk_gb,
                      d.group) for n, d in enumerate(demands)]
    assert hosts_by_class(reversed(demands), hosts, EXACT) == \
        place(demands, hosts, EXACT).by_class()
    assert sum(hosts_by_class(demands, hosts, EXACT).values()) == \
        place(demands, hosts, EXACT).count()
    with pytest.raises(CapacityError):
        hosts_by_class(_servers(30), hosts, EXACT)
