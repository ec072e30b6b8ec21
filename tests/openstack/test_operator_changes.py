"""Issue #10 on the real test cloud: a flavor change resizes in place, an anti-affinity pair
changes one member at a time, prune keeps what a protected server stands on, and the
catalogue's flavors are made by apply (and never changed under servers that use them).
Everything is checked with plain openstacksdk calls and nova's instance actions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import govcloud
from tests.support.testcloud import domain_of, env, os_estate, purge_domain

pytestmark = [pytest.mark.real, pytest.mark.openstack]


def _plan(dep: str, servers: list[dict[str, Any]], zone: str = "extranet") -> dict[str, Any]:
    return {"department": {"id": dep, "name": f"测试部门 {dep}", "cost_centre": f"CC-{dep}",
                           "zone": zone},
            "quota": {"instances": 6, "cores": 24, "ram_gb": 48, "volumes": 4,
                      "volume_gb": 100, "websites": 0},
            "servers": servers}


def _write(estate: Path, plan: dict[str, Any]) -> Path:
    path = estate / "plans" / f"{plan['department']['id']}.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False))
    return path


def _apply(estate: Path, *args: str) -> tuple[str, float]:
    start = time.monotonic()
    proc = govcloud("apply", "--yes", "--no-services", *args, estate=estate, env=env(),
                    timeout=1200)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, took


def _project(cloud: Any, estate: Path, dep: str) -> Any:
    domain = cloud.identity.find_domain(domain_of(estate))
    return next((p for p in cloud.identity.projects(domain_id=domain.id)
                 if f"gc-dept-{dep}" in (p.tags or [])), None)


def _servers(cloud: Any, project: Any) -> dict[str, Any]:
    return {s.name: s for s in cloud.compute.servers(all_projects=True, details=True)
            if s.project_id == project.id}


def _volumes(cloud: Any, project: Any) -> dict[str, Any]:
    return {v.name: v for v in cloud.block_storage.volumes(all_projects=True, details=True)
            if v.project_id == project.id}


def _actions(cloud: Any, server_id: str) -> list[Any]:
    """Nova's instance actions of a server (also once it is deleted), oldest first."""
    return sorted(cloud.compute.server_actions(server_id), key=lambda a: a.start_time)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _finished(cloud: Any, server_id: str, action: Any) -> datetime:
    detail = cloud.compute.get_server_action(action.request_id, server_id)
    ends = [_when(e["finish_time"] if isinstance(e, dict) else e.finish_time)
            for e in detail.events or []
            if (e["finish_time"] if isinstance(e, dict) else e.finish_time)]
    return max(ends) if ends else _when(action.start_time)


@pytest.fixture
def estate_i10(cloud: Any, tmp_path: Path) -> Iterator[Path]:
    estate = os_estate(tmp_path / "estate", ())
    try:
        yield estate
    finally:
        purge_domain(cloud, domain_of(estate))


def test_flavor_change_resizes_the_server_in_place(cloud: Any, estate_i10: Path) -> None:
    dep = "i10-resize"
    plan = _plan(dep, [{"name": "rs-app", "flavor": "m1.small", "image": "debian-12",
                        "volume_gb": 1}])
    path = _write(estate_i10, plan)
    _apply(estate_i10)
    project = _project(cloud, estate_i10, dep)
    before = _servers(cloud, project)["rs-app"]
    volume = _volumes(cloud, project)["rs-app-data"]
    assert [a["server_id"] for a in volume.attachments] == [before.id]
    plan["servers"][0]["flavor"] = "m1.medium"
    _write(estate_i10, plan)
    data = json.loads(govcloud("plan", "-o", "json", estate=estate_i10, env=env(),
                               timeout=300).stdout)
    pending = [(c["action"], c["key"]) for c in data["changes"]
               if c["action"] not in ("no-op",)]
    assert pending == [("resize", f"{dep}/server/rs-app")]
    out, took = _apply(estate_i10)
    print(f"resize in place of {dep}/server/rs-app (m1.small → m1.medium): {took:.1f} s "
          "(the whole apply, as a user runs it)")
    assert "Apply complete: 1 done" in out
    after = cloud.compute.get_server(before.id)  # the same server id
    assert after.status == "ACTIVE"
    assert after.flavor["original_name"] == "m1.medium"
    assert (after.flavor["vcpus"], after.flavor["ram"]) == (2, 4096)
    volume = cloud.block_storage.get_volume(volume.id)
    assert volume.status == "in-use"
    assert [a["server_id"] for a in volume.attachments] == [before.id]
    actions = _actions(cloud, before.id)
    assert [a.action for a in actions][-2:] == ["resize", "confirmResize"], actions
    began, done = _when(actions[-2].start_time), _finished(cloud, before.id, actions[-1])
    print(f"  nova: resize asked {began:%H:%M:%S}, confirmed by {done:%H:%M:%S} "
          f"({(done - began).total_seconds():.1f} s)")
    assert _servers(cloud, project).keys() == {"rs-app"}
    assert govcloud("plan", "--detailed-exitcode", estate=estate_i10, env=env(),
                    timeout=300).returncode == 0
    assert path.exists()


def test_anti_affinity_pair_changes_one_member_at_a_time(cloud: Any,
                                                         estate_i10: Path) -> None:
    """A new image replaces both members of a two-member anti-affinity group (two compute
    hosts: each member has one). Nova's actions show the second member deleted only after
    the first one's replacement was ACTIVE: the service never lost both."""
    dep = "i10-roll"
    plan = _plan(dep, [{"name": "rl-web", "flavor": "m1.small", "image": "debian-12",
                        "count": 2, "anti_affinity": True, "volume_gb": 1}])
    _write(estate_i10, plan)
    _apply(estate_i10)
    project = _project(cloud, estate_i10, dep)
    old = _servers(cloud, project)
    assert old.keys() == {"rl-web", "rl-web-2"}
    assert old["rl-web"].compute_host != old["rl-web-2"].compute_host
    plan["servers"][0]["image"] = "kylin-v10-sp3"
    _write(estate_i10, plan)
    text = govcloud("plan", estate=estate_i10, env=env(), timeout=300).stdout
    assert "-/+ replace server         rl-web" in text
    assert "kept: volume rl-web-data, detached and attached to the new server" in text
    assert "rolling: one of 2 replicas of rl-web, changed one at a time" in text
    out, took = _apply(estate_i10)
    print(f"rolling replace of {dep}/rl-web (2 members, anti-affinity): {took:.1f} s")
    new = _servers(cloud, project)
    assert new.keys() == {"rl-web", "rl-web-2"}
    assert {s.id for s in new.values()}.isdisjoint(s.id for s in old.values())
    assert all(s.status == "ACTIVE" for s in new.values())
    assert new["rl-web"].compute_host != new["rl-web-2"].compute_host
    timeline = []
    for name in ("rl-web", "rl-web-2"):
        gone = next(a for a in _actions(cloud, old[name].id) if a.action == "delete")
        made = next(a for a in _actions(cloud, new[name].id) if a.action == "create")
        timeline.append((name, _when(gone.start_time), _when(made.start_time),
                         _finished(cloud, new[name].id, made)))
    for name, deleted, created, active in timeline:
        print(f"  {name}: old deleted {deleted:%H:%M:%S}, new created {created:%H:%M:%S}, "
              f"ACTIVE by {active:%H:%M:%S}")
    (_, first_gone, _, first_back), (_, second_gone, _, _) = timeline
    assert first_back <= second_gone, "the second member went before the first was back"
    for name, _, _, _ in timeline:  # the data volumes followed their servers
        vol = _volumes(cloud, project)[f"{name}-data"]
        assert [a["server_id"] for a in vol.attachments] == [new[name].id]
    apply_id = json.loads(govcloud("history", "-o", "json", estate=estate_i10, env=env(),
                                   timeout=120).stdout)[0]["id"]
    journal = json.loads(govcloud("history", "--journal", apply_id, "-o", "json",
                                  estate=estate_i10, env=env(), timeout=120).stdout)
    servers = [(r["key"].rsplit("/", 1)[1], r["phase"]) for r in journal
               if "/server/" in r["key"]]
    assert servers == [("rl-web", "started"), ("rl-web", "done"), ("rl-web-2", "started"),
                       ("rl-web-2", "done")]


def test_resize_nova_refuses_stops_the_roll(cloud: Any, estate_i10: Path) -> None:
    """With two compute hosts, each holding one member of the pair, nova has nowhere to
    resize a member to (the other host holds its sibling): the first resize fails with
    nova's reason (refused by the scheduler, the server left ACTIVE, or refused late by the
    compute host, the server marked ERROR), the roll stops, and the second member is
    untouched."""
    dep = "i10-refused"
    plan = _plan(dep, [{"name": "rf-app", "flavor": "m1.small", "image": "debian-12",
                        "count": 2, "anti_affinity": True}])
    _write(estate_i10, plan)
    _apply(estate_i10)
    project = _project(cloud, estate_i10, dep)
    old = _servers(cloud, project)
    plan["servers"][0]["flavor"] = "m1.medium"
    _write(estate_i10, plan)
    proc = govcloud("apply", "--yes", "--no-services", estate=estate_i10, env=env(),
                    timeout=1200)
    assert proc.returncode == 1, proc.stdout[-3000:]
    failed = next(line for line in proc.stdout.splitlines() if line.startswith("Failed:"))
    print(failed)
    assert failed.startswith(f"Failed: resize {dep}/server/rf-app: department {dep}: nova did "
                             "not resize rf-app to m1.medium")
    assert "it still has flavor m1.small" in failed or "it still runs as m1.small" in failed
    assert f"Skipped 1 change(s) that depended on a failed one: {dep}/server/rf-app-2" \
        in proc.stdout
    now = _servers(cloud, project)
    assert {n: s.id for n, s in now.items()} == {n: s.id for n, s in old.items()}
    assert now["rf-app"].flavor["original_name"] == "m1.small"
    assert now["rf-app"].status in ("ACTIVE", "ERROR")
    second = now["rf-app-2"]
    assert (second.status, second.flavor["original_name"]) == ("ACTIVE", "m1.small")
    assert "resize" not in [a.action for a in _actions(cloud, second.id)]


def test_prune_keeps_what_a_protected_server_stands_on(cloud: Any, estate_i10: Path) -> None:
    dep = "i10-keep"
    plan = _plan(dep, [{"name": "kp-db", "flavor": "m1.small", "image": "debian-12",
                        "volume_gb": 1, "protected": True},
                       {"name": "kp-tmp", "flavor": "m1.small", "image": "debian-12"}])
    path = _write(estate_i10, plan)
    _write(estate_i10, _plan("i10-stays", []))  # the estate keeps a plan
    _apply(estate_i10)
    project = _project(cloud, estate_i10, dep)
    path.unlink()
    out, _ = _apply(estate_i10, "--prune")
    assert "! blocked project        i10-keep" in out
    assert _project(cloud, estate_i10, dep) is not None
    assert _servers(cloud, project).keys() == {"kp-db"}  # the unprotected one went
    assert _servers(cloud, project)["kp-db"].status == "ACTIVE"
    nets = [n.name for n in cloud.network.networks(project_id=project.id)]
    assert nets == [f"{dep}-net"]
    routers = [r.name for r in cloud.network.routers(project_id=project.id)]
    assert routers == [f"{dep}-router"]
    assert _volumes(cloud, project)["kp-db-data"].status == "in-use"
    again = govcloud("plan", "--detailed-exitcode", estate=estate_i10, env=env(), timeout=300)
    assert again.returncode == 2
    assert f"department {dep} has no plan; 2 protected resource(s) and " in again.stdout
    assert "--prune never deletes a protected resource" in again.stdout


def test_catalogue_flavors_are_made_and_never_changed_under_servers(
        cloud: Any, estate_i10: Path) -> None:
    flavor = f"i10.{uuid.uuid4().hex[:6]}"
    settings_file = estate_i10 / "govcloud.yaml"
    settings = yaml.safe_load(settings_file.read_text())
    settings["catalogue"]["flavors"].append({"name": flavor, "vcpus": 1, "ram_gb": 1,
                                             "disk_gb": 1})
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    dep = "i10-flavor"
    _write(estate_i10, _plan(dep, [{"name": "fl-app", "flavor": flavor,
                                    "image": "debian-12"}]))
    try:
        text = govcloud("plan", estate=estate_i10, env=env(), timeout=300).stdout
        assert f"    + flavor {flavor}  1 vCPU, 1 GiB RAM, 1 GB root disk (missing: made " \
            "before any server)" in text
        _apply(estate_i10)
        made = next(f for f in cloud.compute.flavors() if f.name == flavor)
        assert (made.vcpus, made.ram, made.disk, made.is_public) == (1, 1024, 1, True)
        project = _project(cloud, estate_i10, dep)
        assert _servers(cloud, project)["fl-app"].flavor["original_name"] == flavor
        # The catalogue now says 2 vCPUs; a server uses the flavor: it is never changed.
        settings["catalogue"]["flavors"][-1]["vcpus"] = 2
        settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True,
                                                sort_keys=False))
        plan = govcloud("plan", "--detailed-exitcode", estate=estate_i10, env=env(),
                        timeout=300)
        assert plan.returncode == 2
        assert f"flavor {flavor} is 1 vCPU, 1 GiB RAM, 1 GB root disk in cloud " in plan.stdout
        assert "and servers use it: govcloud will not change it" in plan.stdout
        proc = govcloud("apply", "--yes", "--no-services", estate=estate_i10, env=env(),
                        timeout=600)
        assert proc.returncode == 1
        assert "Error: the catalogue stops this apply before any change: flavor " \
            f"{flavor} is 1 vCPU" in proc.stderr
        same = cloud.compute.get_flavor(made.id)
        assert (same.vcpus, same.ram, same.disk) == (1, 1024, 1)
        assert _servers(cloud, project)["fl-app"].flavor["vcpus"] == 1
    finally:
        purge_domain(cloud, domain_of(estate_i10))
        for f in cloud.compute.flavors():
            if f.name == flavor:
                cloud.compute.delete_flavor(f)


def test_plan_names_a_missing_image_before_any_call_would_fail(cloud: Any,
                                                               estate_i10: Path) -> None:
    image = f"i10-image-{uuid.uuid4().hex[:6]}"
    settings_file = estate_i10 / "govcloud.yaml"
    settings = yaml.safe_load(settings_file.read_text())
    settings["catalogue"]["images"].append({"name": image, "os": "not uploaded"})
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False))
    dep = "i10-image"
    _write(estate_i10, _plan(dep, [{"name": "im-app", "flavor": "m1.small", "image": image}]))
    plan = govcloud("plan", "--detailed-exitcode", estate=estate_i10, env=env(), timeout=300)
    assert plan.returncode == 2
    assert f"image {image} is not in cloud govcloud-test, and {dep}/server/im-app need it " \
        f"— upload it (openstack image create --file FILE {image})" in plan.stdout
    proc = govcloud("apply", "--yes", "--no-services", estate=estate_i10, env=env(),
                    timeout=600)
    assert proc.returncode == 1
    assert f"Error: the catalogue stops this apply before any change: image {image} is not " \
        "in cloud govcloud-test" in proc.stderr
    assert _project(cloud, estate_i10, dep) is None  # nothing was made
