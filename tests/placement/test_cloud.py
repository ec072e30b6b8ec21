"""placement.cloud: an estate's demands against a real cloud's hosts (pure)."""

from __future__ import annotations

import pytest

from govcloud.errors import CapacityError
from govcloud.placement import cloud
from govcloud.placement.hosts import Demand, Host, Ratios

RATIOS = Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=1.0)


def _host(name: str, zone: str = "nova", vcpus: float = 8) -> Host:
    return Host(name, zone, "c", vcpus, 64, 1000)


def _demand(key: str, zone: str = "intranet", group: str | None = None,
            vcpus: float = 2) -> Demand:
    return Demand(key, key.split("/")[0], zone, vcpus, 4, 20, group)


def test_zones_without_hosts_share_the_one_zone_outside_the_estate() -> None:
    hosts = [_host("a"), _host("b"), _host("x", zone="extranet")]
    assert cloud.zone_map(["intranet", "extranet"], hosts) == {"intranet": "nova",
                                                               "extranet": "extranet"}
    # two availability zones outside the estate: no guess, the zone finds no host
    two = [_host("a"), _host("b", zone="az2")]
    assert cloud.zone_map(["intranet"], two) == {"intranet": "intranet"}
    assert [d.zone for d in cloud.zoned([_demand("d/server/s")], hosts)] == ["nova"]


def test_check_names_the_group_and_the_shortage() -> None:
    hosts = [_host("a"), _host("b"), _host("c")]
    group = [_demand(f"fin/server/db-{i}", group="fin/db") for i in range(4)]
    with pytest.raises(CapacityError) as err:
        cloud.check(group, hosts, RATIOS, unusable=[_host("d")])
    text = str(err.value)
    assert "anti-affinity group fin/db has 4 members but zone nova has 3 hypervisor(s)" in text
    assert "a, b, c" in text and ": 1 short" in text and "1 more not usable: d" in text
    cloud.check(group[:3], hosts, RATIOS)  # three members, three hosts: fits


def test_check_capacity_and_zones_without_hosts() -> None:
    hosts = [_host("a", vcpus=4)]
    with pytest.raises(CapacityError, match="against the cloud's 1 hypervisor"):
        cloud.check([_demand(f"d/server/s{i}", vcpus=3) for i in range(2)], hosts, RATIOS)
    with pytest.raises(CapacityError, match="no hypervisor serves zone intranet"):
        cloud.check([_demand("d/server/s")], [_host("a"), _host("b", zone="az2")], RATIOS)


def test_report_lists_every_hypervisor_and_counts_what_runs() -> None:
    hosts = [_host("a"), _host("b"), _host("c")]
    parked = Host("c", "nova", "c", 8, 64, 1000, enabled=False,
                  disabled_reason="govcloud: consolidated 2026-11-26")
    listed = [hosts[0], hosts[1], parked]
    demands = [_demand(f"d/server/s{i}") for i in range(3)]
    running = {"d/server/s0": "a", "d/server/s1": "b", "d/server/s2": "b"}
    r = cloud.report("e", "openstack", demands, listed, running, RATIOS, usable=hosts)
    assert [row.host.name for row in r.hypervisors] == ["a", "b", "c"]
    assert [row.servers for row in r.hypervisors] == [1, 2, 0]
    assert r.hypervisors[2].host.enabled is False
    (zone,) = r.zones
    assert (zone.zone, zone.serves, zone.servers, zone.hosts, zone.in_use) == \
        ("nova", ("intranet",), 3, 3, 2)
    assert r.hosts == zone.needed == 1  # 3 × 2 vCPU fit one 8-vCPU host
    assert r.as_dict()["in_use"] == 2
