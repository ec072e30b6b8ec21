"""The OpenStack test cloud (testcloud/up) as the tests see it: an admin connection, estates
on it in Keystone domains of their own, and the clean-up of such a domain with plain
openstacksdk."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.support.estate import REPO, copy_estate

TESTCLOUD_DIR = Path(os.environ.get("TESTCLOUD_DIR", "/var/tmp/govcloud-testcloud"))
CLOUDS = TESTCLOUD_DIR / "clouds.yaml"
CLOUD = "govcloud-test"
SUBSET = ("statistics", "civil-affairs", "ecology", "culture-tourism")  # 2 intranet, 2 extranet


def connect() -> Any:
    """An admin openstacksdk connection to the test cloud, authorized."""
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(CLOUDS)
    conn = openstack.connect(cloud=CLOUD)
    conn.authorize()
    return conn


def ensure_images(conn: Any) -> None:
    """The example catalogue's images exist in the cloud: uploading an image is an
    operator's job. (Its flavors are not made here: govcloud apply makes the flavors
    govcloud.yaml declares.)"""
    settings = yaml.safe_load((REPO / "govcloud.yaml").read_text())
    images = {i.name for i in conn.image.images()}
    for i in settings["catalogue"]["images"]:
        if i["name"] not in images:
            conn.create_image(i["name"], data=b"\0" * 65536, disk_format="raw",
                              container_format="bare", wait=True)


def os_estate(dest: Path, departments: tuple[str, ...] = SUBSET) -> Path:
    """A copy of the example estate with only ``departments``, on the test cloud, in a
    Keystone domain of its own (so tests never see each other's projects)."""
    estate = copy_estate(dest, plans=False)
    for dep in departments:
        shutil.copy(REPO / "plans" / f"{dep}.yaml", estate / "plans")
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text())
    settings["cloud"].update({"driver": "openstack", "cloud": CLOUD,
                              "domain": "gct-" + uuid.uuid4().hex[:8]})
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True,
                                                         sort_keys=False))
    return estate


def domain_of(estate: Path) -> str:
    """The Keystone domain an estate made by ``os_estate`` lives in."""
    return yaml.safe_load((estate / "govcloud.yaml").read_text())["cloud"]["domain"]


def env() -> dict[str, str]:
    """The environment that points govcloud (openstacksdk) at the test cloud."""
    return {"OS_CLIENT_CONFIG_FILE": str(CLOUDS)}


def purge_domain(conn: Any, domain_name: str) -> None:
    """Delete everything in a test domain, with plain openstacksdk."""
    domain = conn.identity.find_domain(domain_name)
    if domain is None:
        return
    projects = list(conn.identity.projects(domain_id=domain.id))
    ids = {p.id for p in projects}
    for s in conn.compute.servers(all_projects=True):
        if s.project_id in ids:
            conn.compute.delete_server(s, force=True)
    for s in conn.compute.servers(all_projects=True):
        if s.project_id in ids:
            conn.compute.wait_for_delete(s, wait=300)
    for v in conn.block_storage.volumes(all_projects=True):
        if v.project_id in ids:
            conn.block_storage.wait_for_status(v, "available", failures=["error"], wait=300) \
                if v.status == "in-use" else None
            conn.block_storage.delete_volume(v, ignore_missing=True)
    for g in conn.compute.server_groups(all_projects=True):
        if g.project_id in ids:
            conn.compute.delete_server_group(g, ignore_missing=True)
    net = conn.network
    for r in net.routers():
        if r.project_id in ids:
            for port in net.ports(device_id=r.id):
                for ip in port.fixed_ips or []:
                    net.remove_interface_from_router(r, subnet=ip["subnet_id"])
            net.delete_router(r)
    for n in net.networks():
        if n.project_id in ids:
            for port in net.ports(network_id=n.id):
                net.delete_port(port)
            net.delete_network(n)
    for g in net.security_groups():
        if g.project_id in ids:
            net.delete_security_group(g, ignore_missing=True)
    for u in conn.identity.users(domain_id=domain.id):
        conn.identity.delete_user(u)
    for p in projects:
        conn.identity.delete_project(p)
    conn.identity.update_domain(domain, is_enabled=False)
    conn.identity.delete_domain(domain)
