"""placement.hosts: a host's usable capacity, whether a server fits it, usage and loads, on
values small enough to check by hand."""

from __future__ import annotations

import pytest

from govcloud.core.model import HostClass, HostPool
from govcloud.placement.hosts import (
    Demand,
    Host,
    HostLoad,
    Placement,
    Ratios,
    Usage,
    capacity,
    fits,
    pool_hosts,
)

EXACT = Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=1.0)


def _host(name: str = "intranet-1", zone: str = "intranet", cpu: float = 10,
          ram: float = 10, disk: float = 100, cost: float = 1.0) -> Host:
    return Host(name, zone, "std", cpu, ram, disk, cost)


def _server(key: str, cpu: float, ram: float = 1, zone: str = "intranet",
            group: str | None = None) -> Demand:
    return Demand(key, key.split("/")[0], zone, cpu, ram, 1, group)


def test_capacity_is_size_times_ratio_times_headroom() -> None:
    """16 vCPU × 4 × 0.8 = 51.2; 64 GiB × 1 × 0.8 = 51.2; 1000 GB × 1 × 0.8 = 800."""
    host = _host(cpu=16, ram=64, disk=1000)
    assert capacity(host, Ratios(cpu=4.0, ram=1.0, disk=1.0, headroom=0.8)) == \
        pytest.approx((51.2, 51.2, 800.0))
    assert capacity(host, EXACT) == (16, 64, 1000)


def test_a_server_fits_up_to_the_brim_and_not_one_vcpu_more() -> None:
    host = _host()  # 10 vCPU usable
    used = Usage()
    used.add(_server("a/server/s1", 6))
    assert fits(_server("a/server/s2", 4), host, used, EXACT)  # 6 + 4 = 10
    assert not fits(_server("a/server/s3", 5), host, used, EXACT)  # 6 + 5 = 11


def test_fits_refuses_another_zone_and_a_second_replica() -> None:
    host = _host()
    assert not fits(_server("a/server/s", 1, zone="extranet"), host, Usage(), EXACT)
    used = Usage()
    used.add(_server("a/server/db-1", 1, group="a/db"))
    assert not fits(_server("a/server/db-2", 1, group="a/db"), host, used, EXACT)
    assert fits(_server("a/server/web", 1, group="a/web"), host, used, EXACT)


def test_usage_adds_and_removes() -> None:
    u = Usage()
    assert u.empty
    one, two = _server("a/server/s1", 2, 3, group="a/g"), _server("a/server/s2", 4, 5)
    u.add(one)
    u.add(two)
    assert (u.vcpus, u.ram_gb, u.disk_gb, u.groups) == (6, 8, 2, {"a/g"})
    u.remove(one)
    assert (u.vcpus, u.ram_gb, u.disk_gb, u.groups) == (4, 5, 1, set())
    u.remove(two)
    assert u.empty


def test_pool_hosts_are_named_zone_class_number_in_zone_then_class_order() -> None:
    pool = HostPool(classes=(HostClass("std", 48, 384, 7680, 1.0),
                             HostClass("mem", 48, 768, 7680, 1.35)),
                    hosts={"intranet": {"std": 2}, "extranet": {"std": 1, "mem": 1}})
    hosts = pool_hosts(pool)
    assert [h.name for h in hosts] == ["extranet-mem-01", "extranet-std-01",
                                       "intranet-std-01", "intranet-std-02"]
    assert (hosts[0].zone, hosts[0].host_class, hosts[0].ram_gb, hosts[0].cost_weight) == \
        ("extranet", "mem", 768, 1.35)
    assert Ratios.of(pool) == Ratios(cpu=4.0, ram=1.0, disk=1.0, headroom=0.8)


def test_utilization_is_a_share_of_the_allocatable_capacity() -> None:
    """Allocatable = physical × ratio (no headroom): 32 of 16 × 4 = 64 vCPU is 0.5."""
    load = HostLoad(_host(cpu=16, ram=64, disk=1000), ("a/server/s",), 32, 16, 250)
    ratios = Ratios(cpu=4.0, ram=1.0, disk=1.0, headroom=0.8)
    assert load.utilization(ratios) == (0.5, 0.25, 0.25)


def test_a_placement_counts_hosts_classes_and_cost_per_zone() -> None:
    a = _host("intranet-1")
    b = Host("intranet-2", "intranet", "mem", 10, 20, 100, 1.5)
    c = _host("extranet-1", zone="extranet")
    s1, s2, s3 = (_server("a/server/s1", 2), _server("a/server/s2", 3),
                  _server("b/server/s3", 4, zone="extranet"))
    placed = Placement({s1.key: "intranet-1", s2.key: "intranet-2", s3.key: "extranet-1"},
                       (HostLoad(c, (s3.key,), 4, 1, 1), HostLoad(a, (s1.key,), 2, 1, 1),
                        HostLoad(b, (s2.key,), 3, 1, 1)), EXACT)
    assert (placed.count(), placed.count("intranet"), placed.count("extranet")) == (3, 2, 1)
    assert placed.by_class() == {"mem": 1, "std": 2}
    assert placed.by_class("intranet") == {"mem": 1, "std": 1}
    assert placed.cost() == 3.5 and placed.cost("intranet") == 2.5
    usage = placed.usage([s1, s2, s3, _server("a/server/unplaced", 9)])
    assert {h: u.vcpus for h, u in usage.items()} == {"intranet-1": 2, "intranet-2": 3,
                                                      "extranet-1": 4}
