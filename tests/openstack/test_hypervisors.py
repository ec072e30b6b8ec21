"""The cloud's own hosts: plan, capacity and show against the test cloud's real hypervisors,
and the driver moving servers between them, each checked with plain openstacksdk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import govcloud
from tests.support.estate import edit
from tests.support.testcloud import domain_of, env, os_estate, purge_domain

pytestmark = [pytest.mark.real, pytest.mark.openstack]


def _hypervisors(cloud: Any) -> dict[str, Any]:
    """Compute host name -> its nova-compute service, as nova lists them."""
    hosts = {(h.service_details or {}).get("host") or h.name for h in cloud.compute.hypervisors()}
    return {s.host: s for s in cloud.compute.services(binary="nova-compute") if s.host in hosts}


@pytest.fixture
def estate(tmp_path: Path, cloud: Any) -> Iterator[Path]:
    est = os_estate(tmp_path / "estate", ("statistics",))
    yield est
    purge_domain(cloud, domain_of(est))


def _group_of(estate: Path, members: int) -> None:
    """statistics' anti-affinity group tj-survey-app with ``members`` members (and quota for
    them)."""
    plan = estate / "plans" / "statistics.yaml"
    edit(plan, "    count: 2\n    anti_affinity: true", f"    count: {members}\n"
                                                        "    anti_affinity: true")
    edit(plan, "  instances: 5\n  cores: 16\n  ram_gb: 64",
         f"  instances: {members + 1}\n  cores: {4 * members + 4}\n  ram_gb: {8 * members + 32}")


def test_plan_refuses_an_anti_affinity_group_larger_than_the_hypervisors(
        cloud: Any, estate: Path) -> None:
    hosts = _hypervisors(cloud)
    assert len(hosts) >= 3, f"testcloud/up starts 3 compute hosts; nova lists {sorted(hosts)}"
    _group_of(estate, len(hosts) + 1)

    planned = govcloud("plan", estate=estate, env=env())
    assert planned.returncode == 1, planned.stdout + planned.stderr
    err = planned.stderr
    assert "anti-affinity group statistics/tj-survey-app-aa has " \
           f"{len(hosts) + 1} members" in err, err
    assert f"has {len(hosts)} hypervisor(s)" in err and ": 1 short" in err, err
    assert all(h in err for h in hosts), err
    assert "Traceback" not in err

    # apply refuses the same way, before its first call: nothing was made in the cloud
    applied = govcloud("apply", "--yes", estate=estate, env=env())
    assert applied.returncode == 1 and "1 short" in applied.stderr, applied.stderr
    domain = cloud.identity.find_domain(domain_of(estate))
    made = list(cloud.identity.projects(domain_id=domain.id)) if domain else []
    assert made == [], [p.name for p in made]

    # as many members as hypervisors: it fits
    edit(estate / "plans" / "statistics.yaml", f"    count: {len(hosts) + 1}\n",
         f"    count: {len(hosts)}\n")
    fits = govcloud("plan", estate=estate, env=env())
    assert fits.returncode == 0, fits.stdout + fits.stderr


def test_capacity_and_show_list_the_real_hypervisors(cloud: Any, estate: Path) -> None:
    hosts = _hypervisors(cloud)
    report = govcloud("capacity", "-o", "json", estate=estate, env=env(), check=True)
    data = json.loads(report.stdout)
    listed = {h["name"]: h for h in data["hypervisors"]}
    assert set(listed) == set(hosts)
    for name, svc in hosts.items():
        assert listed[name]["enabled"] == (svc.status == "enabled" and svc.state == "up")
        assert listed[name]["vcpus"] > 0 and listed[name]["ram_gb"] > 0
    # the settings' host_pool (16 intranet hosts) is not what a real cloud is planned on
    assert sum(z["hypervisors"] for z in data["zones"]) == len(hosts)
    served = {z for zone in data["zones"] for z in zone["serves"]}
    assert "intranet" in served  # statistics' zone is served by the cloud's hosts
    assert data["hosts"] == 2  # statistics: an anti-affinity pair needs 2 hosts at least

    text = govcloud("capacity", estate=estate, env=env(), check=True).stdout
    assert all(h in text for h in hosts), text

    shown = json.loads(govcloud("show", "-o", "json", estate=estate, env=env(),
                                check=True).stdout)
    assert {h["name"] for h in shown["hypervisors"]} == set(hosts)
    assert all(h["servers"] == 0 for h in shown["hypervisors"])  # nothing applied yet
    text = govcloud("show", estate=estate, env=env(), check=True).stdout
    assert all(h in text for h in hosts), text


def test_the_driver_moves_servers_and_parks_hosts(cloud: Any, estate: Path) -> None:
    from dataclasses import replace

    from govcloud.applying import engine
    from govcloud.core.desired import Resource
    from govcloud.drivers.base import consolidated_reason
    from govcloud.errors import DriverError

    govcloud("apply", "--yes", estate=estate, env=env(), check=True, timeout=600)
    with engine.session(estate) as s:
        driver = s.driver
        where = driver.servers_on_hosts()
        ids = {s_.name: s_ for s_ in cloud.compute.servers(all_projects=True, details=True)
               if s_.id in {r.computed["id"] for r in driver.read() if r.kind == "server"}}
        assert {k.split("/")[2]: h for k, h in where.items()} == \
            {n: s_.compute_host for n, s_ in ids.items()}
        a, b = "statistics/server/tj-survey-app", "statistics/server/tj-survey-app-2"
        assert where[a] != where[b]  # anti-affinity
        # apply put them where the packer chose: as few hosts as capacity says
        assert len(set(where.values())) == 2
        report = json.loads(govcloud("capacity", "-o", "json", estate=estate, env=env(),
                                     check=True).stdout)
        assert report["hosts"] == report["in_use"] == 2

        # a new server goes to the host asked for (compute API 2.74); a host nova does not
        # know, or refuses (NoValidHost: here disabled behind the driver's back), leaves the
        # choice to nova, with a warning
        base = s.desired()["statistics/server/tj-warehouse"]
        probe = Resource("server", "statistics", "tj-probe", {
            **base.attrs, "server_group": None, "flavor": "m1.small", "vcpus": 1, "ram_gb": 2,
            "disk_gb": 20})
        names = sorted(_hypervisors(cloud))
        made = driver.create(replace(probe, computed={"host": names[0]}))
        assert "placement_warning" not in made.computed
        assert cloud.compute.get_server(made.computed["id"]).compute_host == names[0]
        driver.delete(probe)
        made = driver.create(replace(probe, computed={"host": "no-such-host"}))
        assert "no-such-host is not a hypervisor" in made.computed["placement_warning"]
        assert cloud.compute.get_server(made.computed["id"]).status == "ACTIVE"
        driver.delete(probe)
        driver.hosts()  # the driver sees names[1] enabled, then it is disabled
        svc = _hypervisors(cloud)[names[1]]
        try:
            cloud.compute.disable_service(svc, disabled_reason="test: refused")
            made = driver.create(replace(probe, computed={"host": names[1]}))
        finally:
            cloud.compute.enable_service(svc)
        assert f"nova refused host {names[1]} (NoValidHost" in made.computed["placement_warning"]
        now = cloud.compute.get_server(made.computed["id"])
        assert now.status == "ACTIVE" and now.compute_host not in (None, names[1])
        driver.delete(probe)

        # a member to a host with no member: moved, and nova says so
        free = sorted(set(_hypervisors(cloud)) - {where[a], where[b]})[0]
        moved = driver.migrate(a, free)
        assert moved.computed["host"] == free
        assert cloud.compute.get_server(ids["tj-survey-app"].id).compute_host == free
        assert driver.migrate(a, free).computed["host"] == free  # again: nothing to do

        # onto the other member's host: nova's scheduler refuses, the server stays
        with pytest.raises(DriverError, match=f"(did not move|cannot live-migrate) "
                                              f"tj-survey-app to {where[b]}") as refused:
            driver.migrate(a, where[b])
        assert not refused.value.retryable, str(refused.value)  # a refusal is not retried
        assert cloud.compute.get_server(ids["tj-survey-app"].id).compute_host == free

        # park a host nothing of ours runs on, with the reason; then take it back
        parked = sorted(set(_hypervisors(cloud)) - set(driver.servers_on_hosts().values()))
        host = parked[0] if parked else where[a]
        reason = consolidated_reason(date(2026, 11, 26))
        try:
            driver.set_host_enabled(host, False, reason)
            svc = _hypervisors(cloud)[host]
            assert (svc.status, svc.disabled_reason) == ("disabled", reason)
            assert next(h for h in driver.hosts() if h.name == host).enabled is False
            driver.set_host_enabled(host, False, reason)  # idempotent
        finally:
            driver.set_host_enabled(host, True, "")
        assert _hypervisors(cloud)[host].status == "enabled"

        # a host someone else disabled is not govcloud's to enable
        svc = _hypervisors(cloud)[host]
        try:
            cloud.compute.disable_service(svc, disabled_reason="maintenance window")
            with pytest.raises(DriverError, match="disabled by someone else"):
                driver.set_host_enabled(host, True, "")
        finally:
            cloud.compute.enable_service(svc)
