"""Capacity report, what-if and consolidate: the pure functions on data, and the commands
run as a user would on a copy of the example estate (sim driver)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from govcloud.applying import engine
from govcloud.core.desired import Resource
from govcloud.placement import capacity
from govcloud.placement.consolidation import repack, replay
from govcloud.placement.hosts import Demand, Host, Ratios
from govcloud.placement.place import violations
from tests.support.cli import govcloud, help_text
from tests.support.estate import REPO

STD = dict(host_class="std", vcpus=16, ram_gb=64, disk_gb=1000)
RATIOS = Ratios(cpu=1.0, ram=1.0, disk=1.0, headroom=1.0)


def _hosts(zone: str, n: int) -> list[Host]:
    return [Host(f"{zone}-{i}", zone, **STD) for i in range(1, n + 1)]  # type: ignore[arg-type]


def test_repack_frees_hosts_with_few_migrations() -> None:
    hosts = _hosts("intranet", 3)
    demands = [Demand(f"a/server/s{i}", "a", "intranet", 4, 16, 100) for i in range(6)]
    current = {d.key: f"intranet-{i % 3 + 1}" for i, d in enumerate(demands)}
    plan = repack(current, demands, hosts, RATIOS)
    assert plan.hosts_before == 3 and plan.hosts_after == 2 == plan.repacked
    assert plan.migrations == 2 and plan.released_per_migration == 0.5
    assert replay(current, demands, hosts, RATIOS, plan.steps) == []
    assert plan.as_dict()["released_compute_nodes_count"] == 1


def test_repack_keeps_anti_affinity_and_zones() -> None:
    hosts = _hosts("intranet", 2) + _hosts("extranet", 1)
    demands = [Demand("a/server/db-1", "a", "intranet", 2, 4, 10, "a/db-aa"),
               Demand("a/server/db-2", "a", "intranet", 2, 4, 10, "a/db-aa"),
               Demand("b/server/web", "b", "extranet", 1, 2, 10)]
    current = {"a/server/db-1": "intranet-1", "a/server/db-2": "intranet-2",
               "b/server/web": "extranet-1"}
    plan = repack(current, demands, hosts, RATIOS)
    assert plan.steps == () and plan.released == ()
    assert plan.hosts_after == 3 == plan.repacked


def test_report_of_the_example_estate() -> None:
    estate = engine.validate(REPO).estate()
    report = capacity.report(estate)
    assert [z.zone for z in report.zones] == ["intranet", "extranet"]
    for z in report.zones:
        assert z.hosts >= z.lower_bound > 0
        assert z.extra == {}
        assert all(v <= estate.settings.host_pool.headroom + 1e-9 for v in z.peak.values())
        assert z.consolidation_ratio == z.legacy_servers / z.hosts
        assert z.spread is None or z.spread >= z.hosts
    wanted = capacity.demands(__import__("govcloud.core.desired").core.desired.desired_state(estate)
                              .values())
    assert sum(z.servers for z in report.zones) == len(wanted)


def _new_plan(estate: Path, servers: int) -> Path:
    data = yaml.safe_load((estate / "plans" / "big-data.yaml").read_text(encoding="utf-8"))
    data["department"].update(id="new-dept", name="青岛市新部门", cost_centre="CC-9999")
    data["quota"].update(instances=servers, cores=8 * servers, ram_gb=64 * servers,
                         volumes=0, volume_gb=0, websites=0)
    data["servers"] = [{"name": "nd-db", "flavor": "r1.xlarge", "image": "kylin-v10-sp3",
                        "count": servers, "load": {"cpu": 0.5, "ram": 0.8}}]
    data["websites"] = []
    path = estate / "plans" / "new.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_what_if_a_department_joins(estate: Path) -> None:
    _new_plan(estate, servers=60)  # 3,840 GiB of RAM: more than the extranet pool holds
    new = str(estate / "plans" / "new.yaml")
    out = govcloud("capacity", "--add", new, "-o", "json", estate=estate)
    assert out.returncode == 2, out.stderr  # the pool is short
    data = json.loads(out.stdout)
    assert data["departments"] == ["new-dept"]
    assert data["hosts_after"] > data["hosts_before"]
    assert sum(data["extra_hosts"]["extranet"].values()) > 0
    text = govcloud("capacity", "--add", new, estate=estate)
    assert text.returncode == 2
    assert "What if new-dept joins" in text.stdout and "add " in text.stdout


def test_what_if_that_fits(estate: Path) -> None:
    new = str(_new_plan(estate, servers=2))
    text = govcloud("capacity", "--add", new, estate=estate, check=True).stdout
    assert "no extra hosts needed" in text


def test_consolidate_after_apply(estate: Path) -> None:
    govcloud("apply", "--yes", estate=estate, check=True)
    data = json.loads(govcloud("consolidate", "-o", "json", estate=estate, check=True).stdout)
    released = set(data["released"])
    assert data["instance_migrations_count"] == len(data["steps"])
    assert not released & {s["to"] for s in data["steps"]}
    assert data["hosts_after"] >= data["repacked"]
    # The same advice from the pure function, checked step by step.
    with engine.session(estate) as s:
        current = s.driver.servers_on_hosts()
        demands = capacity.demands(s.driver.read())
        hosts = s.driver.hosts()
        ratios = Ratios.of(s.estate.settings.host_pool)
    assert violations(current, demands, hosts, ratios) == []
    plan = repack(current, demands, hosts, ratios)
    assert plan.as_dict() == data
    assert replay(current, demands, hosts, ratios, plan.steps) == []


def test_commands_have_help_and_examples() -> None:
    for cmd in ("capacity", "consolidate"):
        assert "Example" in help_text(cmd)


def test_capacity_add_finds_the_cheapest_hosts_and_exits_2_when_short(estate: Path) -> None:
    """Issue #10, case 8: a 17-replica anti-affinity group in the intranet (16 hosts: 12 std,
    4 mem) needs one more host, not three std with the memory hosts left unused; the extranet
    row, which the group does not touch, shows nova's spread (not NoValidHost); exit 2."""
    data = yaml.safe_load((estate / "plans" / "big-data.yaml").read_text(encoding="utf-8"))
    data["department"].update(id="water", name="青岛市水务管理局", cost_centre="CC-3001",
                              zone="intranet")
    data["quota"].update(instances=17, cores=68, ram_gb=136, volumes=0, volume_gb=0,
                         websites=0)
    data["servers"] = [{"name": "sw-app", "flavor": "m1.large", "image": "kylin-v10-sp3",
                        "count": 17, "anti_affinity": True}]
    data["websites"] = []
    new = estate / "water.yaml"
    new.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    proc = govcloud("capacity", "--add", str(new), "-o", "json", estate=estate)
    assert proc.returncode == 2, proc.stderr
    result = json.loads(proc.stdout)
    assert result["extra_hosts"] == {"intranet": {"x86-2s-std": 1}}
    intranet, extranet = result["after"]["zones"]
    assert intranet["zone"] == "intranet" and intranet["hosts"] == 17
    assert intranet["needed"]["x86-2s-mem"] == 4  # the memory hosts are used
    assert extranet["spread"] == result["before"]["zones"][1]["spread"] is not None
    text = govcloud("capacity", "--add", str(new), estate=estate)
    assert text.returncode == 2
    assert "intranet: the installed pool is short by 1 x86-2s-std" in text.stdout
    assert "add intranet: 1 x86-2s-std to host_pool.hosts" in text.stdout
    extranet_row = next(x for x in text.stdout.splitlines() if x.startswith("extranet"))
    assert "NoValidHost" not in extranet_row
    assert govcloud("capacity", estate=estate).returncode == 0  # the pool itself suffices


def test_cheapest_extra_mixes_classes_by_cost() -> None:
    """Pure: two 100 GiB servers fit no std host (64 GiB): one mem host (cost 1.35) takes
    both. Two 60 GiB servers: the installed std host takes one, one more std (1.0) is cheaper
    than a mem host (1.35). One 60 GiB server fits: nothing to add."""
    from govcloud.core.model import HostClass, HostPool

    pool = HostPool(classes=(HostClass("std", 16, 64, 1000, 1.0),
                             HostClass("mem", 16, 256, 1000, 1.35)),
                    hosts={"intranet": {"std": 1}, "extranet": {}}, headroom=1.0)
    wanted = [Demand(f"d/server/db-{i}", "d", "intranet", 4, 100, 50) for i in range(2)]
    assert capacity.cheapest_extra(pool, "intranet", wanted, Ratios.of(pool)) == {"mem": 1}
    small = [Demand("d/server/web", "d", "intranet", 4, 60, 50),
             Demand("d/server/web-2", "d", "intranet", 4, 60, 50)]
    assert capacity.cheapest_extra(pool, "intranet", small, Ratios.of(pool)) == {"std": 1}
    assert capacity.cheapest_extra(pool, "intranet", small[:1], Ratios.of(pool)) == {}


def test_demands_are_the_servers_with_their_group_keyed_by_department() -> None:
    """A volume is no server; a server's group becomes ``department/group``; by key."""
    size = {"zone": "intranet", "vcpus": 4, "ram_gb": 16, "disk_gb": 100}
    resources = [Resource("server", "fin", "web", {**size, "zone": "extranet"}),
                 Resource("volume", "fin", "data", {"size_gb": 50}),
                 Resource("server", "fin", "db-1", {**size, "server_group": "db"})]
    assert capacity.demands(resources) == [
        Demand("fin/server/db-1", "fin", "intranet", 4, 16, 100, "fin/db"),
        Demand("fin/server/web", "fin", "extranet", 4, 16, 100, None)]
