"""The cloud's own hosts: plan, capacity and show against the test cloud's real hypervisors,
and the driver moving servers between them, each checked with plain openstacksdk."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
    _group_of_back = estate / "plans" / "statistics.yaml"
    edit(_group_of_back, f"    count: {len(hosts) + 1}\n", f"    count: {len(hosts)}\n")
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
