"""The openstack driver against the real test cloud, checked with plain openstacksdk calls.

The tests that share the module's applied estate (``applied``) leave it as they found it:
they restore what they edit or let govcloud repair it; the one that deletes a department
applies an estate of its own."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from govcloud.core.model import replica_names
from tests.support.cli import apply_killed_after, govcloud
from tests.support.testcloud import SUBSET, domain_of, env, os_estate, purge_domain

pytestmark = [pytest.mark.real, pytest.mark.openstack]


def _projects(cloud: Any, estate: Path) -> dict[str, Any]:
    domain = cloud.identity.find_domain(domain_of(estate))
    if domain is None:
        return {}
    out = {}
    for p in cloud.identity.projects(domain_id=domain.id):
        dep = next((t[len("gc-dept-"):] for t in p.tags if t.startswith("gc-dept-")), None)
        if dep:
            out[dep] = p
    return out


def _inventory(cloud: Any, estate: Path) -> dict[str, Any]:
    """What the cloud holds for the estate's projects, counted with openstacksdk."""
    projects = _projects(cloud, estate)
    ids = {p.id: dep for dep, p in projects.items()}
    servers = [s for s in cloud.compute.servers(all_projects=True, details=True)
               if s.project_id in ids]
    volumes = [v for v in cloud.block_storage.volumes(all_projects=True, details=True)
               if v.project_id in ids]
    networks = [n for n in cloud.network.networks() if n.project_id in ids]
    groups = [g for g in cloud.compute.server_groups(all_projects=True) if g.project_id in ids]
    return {"projects": projects, "ids": ids, "servers": servers, "volumes": volumes,
            "networks": networks, "groups": groups}


def _expected(estate: Path) -> dict[str, Any]:
    plans = {p.stem: yaml.safe_load(p.read_text()) for p in (estate / "plans").glob("*.yaml")}
    out: dict[str, Any] = {}
    for dep, plan in plans.items():
        servers = {}
        volumes = {}
        groups = set()
        for s in plan.get("servers", []):
            names = replica_names(s["name"], s.get("count", 1))
            for n in names:
                servers[n] = s["flavor"]
                if s.get("volume_gb"):
                    volumes[f"{n}-data"] = s["volume_gb"]
            if s.get("anti_affinity"):
                groups.add((s["name"], len(names)))
        out[dep] = {"servers": servers, "volumes": volumes, "groups": groups,
                    "quota": plan["quota"], "zone": plan["department"]["zone"]}
    return out


@pytest.fixture(scope="module")
def applied(cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    estate = os_estate(tmp_path_factory.mktemp("os") / "estate")
    proc = govcloud("apply", "--yes", estate=estate, env=env(), timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    try:
        yield estate
    finally:
        purge_domain(cloud, domain_of(estate))


def test_applied_estate_exists_as_planned(cloud: Any, applied: Path) -> None:
    inv = _inventory(cloud, applied)
    want = _expected(applied)
    assert set(inv["projects"]) == set(SUBSET)
    assert {want[d]["zone"] for d in SUBSET} == {"intranet", "extranet"}
    for dep, p in inv["projects"].items():
        w = want[dep]
        q = cloud.compute.get_quota_set(p.id)
        assert (q.instances, q.cores, q.ram) == (w["quota"]["instances"], w["quota"]["cores"],
                                                 w["quota"]["ram_gb"] * 1024)
        v = cloud.block_storage.get_quota_set(p.id)
        assert (v.volumes, v.gigabytes) == (w["quota"]["volumes"], w["quota"]["volume_gb"])
        servers = {s.name: s for s in inv["servers"] if s.project_id == p.id}
        assert {n: s.flavor["original_name"] for n, s in servers.items()} == w["servers"]
        assert all(s.status == "ACTIVE" for s in servers.values())
        assert all(s.metadata["gc-dept"] == dep for s in servers.values())
        vols = {v.name: v for v in inv["volumes"] if v.project_id == p.id}
        assert {n: v.size for n, v in vols.items()} == w["volumes"]
        for name, vol in vols.items():
            assert vol.status == "in-use"
            assert [a["server_id"] for a in vol.attachments] == \
                [servers[name.removesuffix("-data")].id]
        nets = [n for n in inv["networks"] if n.project_id == p.id]
        assert [n.name for n in nets] == [f"{dep}-net"]
        assert f"gc-zone-{w['zone']}" in nets[0].tags
        groups = {g.name: g for g in inv["groups"] if g.project_id == p.id}
        assert {(g.name.removeprefix(f"gc-{dep}-").removesuffix("-aa"), len(g.member_ids))
                for g in groups.values()} == w["groups"]
        for g in groups.values():
            assert (g.policy or g.policies[0]) == "anti-affinity"
    # Networks of the two zones are never routed together: each router has one subnet,
    # its own department's.
    for r in cloud.network.routers():
        if r.project_id in inv["ids"]:
            ports = list(cloud.network.ports(device_id=r.id))
            assert len(ports) == 1
            net = cloud.network.get_network(ports[0].network_id)
            assert net.project_id == r.project_id
            assert r.external_gateway_info in (None, {})
    proc = govcloud("plan", "--detailed-exitcode", estate=applied, env=env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_server_count_change_plans_exactly_that(applied: Path) -> None:
    path = applied / "plans" / "ecology.yaml"
    original = path.read_text()
    plan = yaml.safe_load(original)
    spec = next(s for s in plan["servers"] if s.get("count", 1) >= 2)
    name, count = spec["name"], spec["count"]
    spec["count"] = count + 1
    flavor = next(f for f in yaml.safe_load((applied / "govcloud.yaml").read_text())
                  ["catalogue"]["flavors"] if f["name"] == spec["flavor"])
    plan["quota"]["instances"] += 1
    plan["quota"]["cores"] += flavor["vcpus"]
    plan["quota"]["ram_gb"] += int(flavor["ram_gb"])
    plan["quota"]["volumes"] += 1
    plan["quota"]["volume_gb"] += spec.get("volume_gb", 0)
    try:
        path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False))
        proc = govcloud("plan", "--output", "json", estate=applied, env=env(), timeout=300)
        data = json.loads(proc.stdout)
        pending = [(c["action"], c["key"]) for c in data["changes"] if c["action"] != "no-op"]
        expected = [("update", "ecology/quota/ecology"),
                    ("create", f"ecology/server/{name}-{count + 1}")]
        if spec.get("volume_gb"):
            expected.append(("create", f"ecology/volume/{name}-{count + 1}-data"))
        assert pending == expected
    finally:
        path.write_text(original)


def test_department_credential_is_isolated(cloud: Any, applied: Path) -> None:
    import openstack

    creds = {}
    for dep in ("statistics", "ecology"):
        proc = govcloud("credentials", "issue", "--department", dep, "--days", "1",
                        "--output", "json", estate=applied, env=env(), timeout=300)
        assert proc.returncode == 0, proc.stderr
        creds[dep] = json.loads(proc.stdout)
    a = creds["statistics"]
    conn = openstack.connect(load_yaml_config=False, load_envvars=False,
                             auth_type="v3applicationcredential",
                             auth={"auth_url": a["auth_url"],
                                   "application_credential_id": a["id"],
                                   "application_credential_secret": a["secret"]},
                             region_name="RegionOne", identity_api_version="3")
    inv = _inventory(cloud, applied)
    mine = {s.id for s in inv["servers"] if inv["ids"][s.project_id] == "statistics"}
    theirs = [s for s in inv["servers"] if inv["ids"][s.project_id] == "ecology"]
    their_volumes = [v for v in inv["volumes"] if inv["ids"][v.project_id] == "ecology"]
    assert mine and theirs and their_volumes
    assert {s.id for s in conn.compute.servers()} == mine
    assert not [v for v in conn.block_storage.volumes() if v.project_id !=
                inv["projects"]["statistics"].id]
    with pytest.raises(openstack.exceptions.HttpException):  # NotFound or Forbidden
        conn.compute.get_server(theirs[0].id)
    with pytest.raises(openstack.exceptions.HttpException):
        conn.compute.delete_server(theirs[0].id, ignore_missing=False)
    with pytest.raises(openstack.exceptions.HttpException):
        conn.block_storage.delete_volume(their_volumes[0].id, ignore_missing=False)
    with pytest.raises(openstack.exceptions.HttpException):
        list(conn.compute.servers(all_projects=True))  # admin-only listing is refused
    assert cloud.compute.get_server(theirs[0].id).status == "ACTIVE"
    assert cloud.block_storage.get_volume(their_volumes[0].id).status == "in-use"
    # The secret is shown once and kept nowhere by govcloud.
    for path in applied.rglob("*"):
        if path.is_file():
            assert a["secret"].encode() not in path.read_bytes(), path


def test_removed_department_is_deleted_only_with_prune(cloud: Any, tmp_path: Path) -> None:
    """On an estate of its own (the module's ``applied`` estate is shared): two departments
    applied, one plan removed; only ``--prune`` deletes that department, and only it."""
    estate = os_estate(tmp_path / "estate", ("statistics", "ecology"))
    try:
        proc = govcloud("apply", "--yes", estate=estate, env=env(), timeout=1200)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert set(_projects(cloud, estate)) == {"statistics", "ecology"}
        (estate / "plans" / "ecology.yaml").rename(tmp_path / "ecology.yaml.removed")
        plan = govcloud("plan", "--output", "json", estate=estate, env=env(), timeout=300)
        data = json.loads(plan.stdout)
        assert data["summary"]["delete"] == 0 and data["orphans"]
        pruned = json.loads(govcloud("plan", "--prune", "--output", "json", estate=estate,
                                     env=env(), timeout=300).stdout)
        deletes = {c["department"] for c in pruned["changes"] if c["action"] == "delete"}
        assert deletes == {"ecology"}
        proc = govcloud("apply", "--yes", "--prune", estate=estate, env=env(), timeout=1200)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        inv = _inventory(cloud, estate)
        assert set(inv["projects"]) == {"statistics"}
        ecology_ids = {p.id for p in cloud.identity.projects(tags="gc-dept-ecology")
                       if p.domain_id == cloud.identity.find_domain(domain_of(estate)).id}
        assert not ecology_ids
        assert not [v for v in cloud.block_storage.volumes(all_projects=True, details=True)
                    if (v.metadata or {}).get("gc-dept") == "ecology"
                    and v.project_id not in {p.id for p in cloud.identity.projects()}]
        assert govcloud("plan", "--detailed-exitcode", estate=estate, env=env(),
                        timeout=300).returncode == 0
    finally:
        purge_domain(cloud, domain_of(estate))


def test_sigkill_mid_apply_then_rerun_converges(cloud: Any, tmp_path: Path) -> None:
    """Five applies killed with SIGKILL at different points, creating and pruning; each
    re-run converges with no duplicate server, volume or network."""
    estate = os_estate(tmp_path / "estate", ("statistics", "culture-tourism"))
    plan = estate / "plans" / "culture-tourism.yaml"
    # Convergence is the point here: nothing protected, so --prune removes the department
    # whole (a protected resource keeps what it stands on: test_operator_changes.py).
    plan.write_text(plan.read_text().replace("    protected: true\n", ""))
    parked = tmp_path / "culture-tourism.yaml"
    # Each target leaves cloud calls after it (culture-tourism alone is 19 changes: servers
    # 8-12 and volumes 13-14 on the cloud, then five of the store's own rows that take
    # milliseconds): killed after the 14th, a quick run could record its end before the kill.
    try:
        for target, mode in ((3, "create"), (4, "prune"), (9, "create"), (2, "prune"),
                             (11, "create")):
            if mode == "prune":
                plan.rename(parked)
            elif parked.exists():
                parked.rename(plan)
            args = ["apply", "--yes"] + (["--prune"] if mode == "prune" else [])
            status = apply_killed_after(estate, target, *args[2:], env=env())
            assert status == -signal.SIGKILL, f"{mode} at {target}: ended first"
            again = govcloud(*args, estate=estate, env=env(), timeout=1200)
            assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
            assert "was interrupted after" in again.stdout, \
                f"{mode} at {target}: the killed apply had recorded its end\n{again.stdout}"
            inv = _inventory(cloud, estate)
            want = _expected(estate)
            for kind in ("servers", "volumes", "networks"):
                names = Counter((inv["ids"][x.project_id], x.name) for x in inv[kind])
                assert not names or max(names.values()) == 1, f"duplicate {kind}: {names}"
            assert set(inv["projects"]) == set(want)
            assert Counter(inv["ids"][s.project_id] for s in inv["servers"]) == \
                Counter({d: len(w["servers"]) for d, w in want.items()})
            assert Counter(inv["ids"][v.project_id] for v in inv["volumes"]) == \
                Counter({d: len(w["volumes"]) for d, w in want.items() if w["volumes"]})
            assert govcloud("plan", "--detailed-exitcode", estate=estate, env=env(),
                            timeout=300).returncode == 0
    finally:
        purge_domain(cloud, domain_of(estate))


def test_quota_refusal_is_clear_and_leaves_no_half_made_department(cloud: Any,
                                                                    tmp_path: Path) -> None:
    """The estate drops the quota policies (an operator may), so the cloud itself refuses."""
    estate = os_estate(tmp_path / "estate", ("culture-tourism",))
    rules = yaml.safe_load((estate / "policies" / "defaults.yaml").read_text())
    rules["rules"] = [r for r in rules["rules"] if not r["id"].startswith("quota-")]
    (estate / "policies" / "defaults.yaml").write_text(yaml.safe_dump(rules))
    plan_file = estate / "plans" / "culture-tourism.yaml"
    plan = yaml.safe_load(plan_file.read_text())
    plan["quota"]["instances"] = 2
    plan_file.write_text(yaml.safe_dump(plan, allow_unicode=True))
    try:
        proc = govcloud("apply", "--yes", estate=estate, env=env(), timeout=1200)
        assert proc.returncode == 1
        assert "department culture-tourism: the cloud refused to create server" in proc.stdout
        assert "quota exceeded" in proc.stdout
        assert "raise the department's quota in its plan" in proc.stdout
        assert "no half-made department is left" in proc.stdout
        inv = _inventory(cloud, estate)
        assert inv["servers"] == [] and inv["volumes"] == [] and inv["networks"] == []
        assert inv["projects"] == {}
    finally:
        purge_domain(cloud, domain_of(estate))


def _count_plan_calls(estate: Path) -> tuple[list[str], int]:
    """API requests made by one no-op plan (reading the estate), recorded at the HTTP session,
    and the number of servers the plan saw."""
    import keystoneauth1.session as ks_session

    from govcloud.applying import engine

    calls: list[str] = []
    original = ks_session.Session.request

    def counting(self: Any, url: str, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(f"{method} {url.split('?')[0]}")
        return original(self, url, method, *args, **kwargs)

    os.environ.update(env())
    with engine.session(estate) as s:
        ks_session.Session.request = counting  # type: ignore[method-assign]
        try:
            plan = s.plan()
        finally:
            ks_session.Session.request = original  # type: ignore[method-assign]
    assert not plan.has_changes
    servers = sum(1 for c in plan.changes if c.kind == "server")
    return calls, servers


def test_noop_plan_api_calls_do_not_grow_with_servers(cloud: Any, tmp_path: Path) -> None:
    estate = os_estate(tmp_path / "estate", ())
    plan = {"department": {"id": "calls", "name": "调用计数", "cost_centre": "CC-7777",
                           "zone": "extranet"},
            "quota": {"instances": 100, "cores": 100, "ram_gb": 200, "volumes": 1,
                      "volume_gb": 10},
            "servers": [{"name": "calls-web", "flavor": "m1.small", "image": "debian-12",
                         "count": 10}]}
    path = estate / "plans" / "calls.yaml"
    try:
        counts = {}
        # 10 and 40 servers: a call made per server would add 30, far above the tolerance
        # below (100 servers, as this test had, took 339 s of CI's budget for no more proof).
        for n in (10, 40):
            plan["servers"][0]["count"] = n
            path.write_text(yaml.safe_dump(plan, allow_unicode=True))
            proc = govcloud("apply", "--yes", estate=estate, env=env(), timeout=1800)
            assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
            counts[n] = _count_plan_calls(estate)
        print(f"API calls of a no-op plan: {len(counts[10][0])} at 10 servers, "
              f"{len(counts[40][0])} at 40 servers")
        assert counts[10][1] == 10 and counts[40][1] == 40
        # A call that grew with the servers would add 30. The count itself varied by one
        # from run to run on the shared test cloud (28 and 28 here; 29 and 30 in one CI run,
        # where other tests had run before in the same process): up to two more are allowed,
        # and what differed is printed.
        few, many = Counter(counts[10][0]), Counter(counts[40][0])
        print(f"more at 40 servers: {dict(many - few)}; fewer: {dict(few - many)}")
        assert len(counts[40][0]) <= len(counts[10][0]) + 2, \
            f"more at 40 servers: {many - few}; fewer: {few - many}; all at 40: {counts[40][0]}"
    finally:
        purge_domain(cloud, domain_of(estate))


def test_security_group_drift_is_repaired_in_place(cloud: Any, applied: Path) -> None:
    """Rules changed out of band are put back without replacing the group, which stays
    attached to the department's servers."""
    project = _projects(cloud, applied)["statistics"]
    group = next(g for g in cloud.network.security_groups(project_id=project.id)
                 if g.name == "statistics-default")
    ssh = next(r for r in group.security_group_rules if r.get("port_range_min") == 22)
    cloud.network.delete_security_group_rule(ssh["id"])
    cloud.network.create_security_group_rule(
        security_group_id=group.id, project_id=project.id, direction="ingress",
        ethertype="IPv4", protocol="tcp", port_range_min=3389, port_range_max=3389,
        remote_ip_prefix="0.0.0.0/0")
    data = json.loads(govcloud("plan", "--output", "json", estate=applied, env=env(),
                               timeout=300).stdout)
    pending = [(c["action"], c["key"]) for c in data["changes"] if c["action"] != "no-op"]
    assert ("update", "statistics/security_group/statistics-default") in pending
    proc = govcloud("apply", "--yes", estate=applied, env=env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    after = cloud.network.get_security_group(group.id)  # same group, not a new one
    ports = sorted((r.get("protocol"), r.get("port_range_min"), r.get("remote_ip_prefix"))
                   for r in after.security_group_rules if r.get("direction") == "ingress")
    assert ("tcp", 22, "10.20.0.0/16") in ports
    assert not [p for p in ports if p[1] == 3389]
