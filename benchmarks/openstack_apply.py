"""100 servers on the OpenStack test cloud, three ways, side by side in one run:

1. govcloud apply (one department of 100 servers, the openstack driver);
2. a serial openstacksdk loop: create, wait for ACTIVE, next;
3. the control plane's own limit: raw openstacksdk firing every create at once, then waiting.

Goal (issue #4): govcloud ≥ 5× faster than the serial loop and within 1.25× of the limit.
Needs the test cloud (testcloud/up). Each way starts from an empty project and cleans up.

    pip install -e '.[bench,openstack]'
    python benchmarks/openstack_apply.py [--servers 100]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CLOUDS = Path(os.environ.get("TESTCLOUD_DIR", "/var/tmp/govcloud-testcloud")) / "clouds.yaml"
FLAVOR, IMAGE = "m1.small", "debian-12"


def connect() -> Any:
    import openstack

    os.environ["OS_CLIENT_CONFIG_FILE"] = str(CLOUDS)
    return openstack.connect(cloud="govcloud-test")


def scratch_project(conn: Any, name: str) -> tuple[Any, Any, Any]:
    project = conn.identity.create_project(name=name, domain_id="default")
    role = conn.identity.find_role("admin")
    conn.identity.assign_project_role_to_user(project, conn.current_user_id, role)
    conn.compute.update_quota_set(project.id, instances=-1, cores=-1, ram=-1)
    conn.network.update_quota(project.id, ports=-1)
    scoped = conn.connect_as_project({"id": project.id, "domain_id": project.domain_id})
    net = scoped.network.create_network(name=f"{name}-net")
    scoped.network.create_subnet(network_id=net.id, cidr="10.99.0.0/22", ip_version=4,
                                 enable_dhcp=False)
    return project, scoped, net


def cleanup(conn: Any, project: Any) -> None:
    servers = [s for s in conn.compute.servers(all_projects=True) if s.project_id == project.id]
    for s in servers:
        conn.compute.delete_server(s, force=True)
    for s in servers:
        conn.compute.wait_for_delete(s, wait=600)
    for n in conn.network.networks(project_id=project.id):
        for p in conn.network.ports(network_id=n.id):
            conn.network.delete_port(p)
        conn.network.delete_network(n)
    conn.identity.delete_project(project)


def serial(conn: Any, n: int) -> float:
    project, scoped, net = scratch_project(conn, "bench-serial-" + uuid.uuid4().hex[:6])
    flavor = conn.compute.find_flavor(FLAVOR)
    image = conn.image.find_image(IMAGE)
    try:
        t = time.monotonic()
        for i in range(n):
            s = scoped.compute.create_server(name=f"serial-{i}", flavor_id=flavor.id,
                                             image_id=image.id, networks=[{"uuid": net.id}])
            scoped.compute.wait_for_server(s, wait=600, interval=0.5)
        return time.monotonic() - t
    finally:
        cleanup(conn, project)


def limit(conn: Any, n: int) -> float:
    project, scoped, net = scratch_project(conn, "bench-limit-" + uuid.uuid4().hex[:6])
    flavor = conn.compute.find_flavor(FLAVOR)
    image = conn.image.find_image(IMAGE)
    try:
        t = time.monotonic()
        made = [scoped.compute.create_server(name=f"limit-{i}", flavor_id=flavor.id,
                                             image_id=image.id, networks=[{"uuid": net.id}])
                for i in range(n)]
        pending = {s.id for s in made}
        while pending:
            for s in scoped.compute.servers(details=True):
                if s.id in pending and s.status == "ACTIVE":
                    pending.discard(s.id)
                elif s.status == "ERROR":
                    raise RuntimeError(f"{s.name} went to ERROR: {s.fault}")
            if pending:
                time.sleep(0.5)
        return time.monotonic() - t
    finally:
        cleanup(conn, project)


def govcloud(conn: Any, n: int) -> float:
    tmp = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    try:
        shutil.copytree(REPO / "policies", tmp / "policies")
        (tmp / "plans").mkdir()
        settings = yaml.safe_load((REPO / "govcloud.yaml").read_text())
        domain = "bench-" + uuid.uuid4().hex[:6]
        settings["cloud"] = {"driver": "openstack", "cloud": "govcloud-test", "domain": domain,
                             "concurrency": 128}
        (tmp / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True))
        plan = {"department": {"id": "bench", "name": "基准测试", "cost_centre": "CC-9999",
                               "zone": "extranet"},
                "quota": {"instances": n, "cores": n, "ram_gb": 2 * n, "volumes": 1,
                          "volume_gb": 10},
                "servers": [{"name": "bench", "flavor": FLAVOR, "image": IMAGE, "count": n}]}
        (tmp / "plans" / "bench.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True))
        env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(CLOUDS)}
        t = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(tmp), "apply",
                               "--yes"], env=env, capture_output=True, text=True)
        took = time.monotonic() - t
        if proc.returncode != 0:
            raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
        return took
    finally:
        sys.path.insert(0, str(REPO))
        from tests.openstack.conftest import purge_domain

        purge_domain(conn, domain)
        shutil.rmtree(tmp, ignore_errors=True)


ANSIBLE = os.environ.get("ANSIBLE_PLAYBOOK", "/opt/govcloud-bench/ansible/bin/ansible-playbook")
PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: servers, one after another as the module waits for each
      openstack.cloud.server:
        auth: "{{ auth }}"
        region_name: RegionOne
        name: "ansible-{{ item }}"
        flavor: %s
        image: %s
        network: "{{ network }}"
        auto_ip: false
        wait: true
        timeout: 600
      loop: "{{ range(%d) | list }}"
"""


def ansible(conn: Any, n: int) -> float | None:
    """The `ansible` package's openstack.cloud.server module, if installed
    (python -m venv /opt/govcloud-bench/ansible && /opt/govcloud-bench/ansible/bin/pip install
    'ansible==11.13.0' 'openstacksdk<4': the last ansible for Python 3.11, whose
    openstack.cloud 2.5.0 still imports openstack.version, gone in openstacksdk 4), in a plain
    loop as playbooks usually write it."""
    if not Path(ANSIBLE).exists():
        print(f"(ansible's openstack.cloud.server not measured: {ANSIBLE} is missing)")
        return None
    project, scoped, net = scratch_project(conn, "bench-ansible-" + uuid.uuid4().hex[:6])
    cloud = yaml.safe_load(CLOUDS.read_text())["clouds"]["govcloud-test"]["auth"]
    auth = {"auth_url": cloud["auth_url"], "username": cloud["username"],
            "password": cloud["password"], "user_domain_name": cloud["user_domain_name"],
            "project_id": project.id}
    tmp = Path(tempfile.mkdtemp(prefix="bench-ansible-"))
    try:
        (tmp / "play.yml").write_text(PLAYBOOK % (FLAVOR, IMAGE, n))
        (tmp / "vars.yml").write_text(yaml.safe_dump({"auth": auth, "network": net.id}))
        t = time.monotonic()
        proc = subprocess.run([ANSIBLE, "-i", "localhost,", str(tmp / "play.yml"),
                               "-e", f"@{tmp / 'vars.yml'}"], capture_output=True, text=True,
                              env={**os.environ, "ANSIBLE_PYTHON_INTERPRETER":
                                   str(Path(ANSIBLE).parent / "python")})
        took = time.monotonic() - t
        if proc.returncode != 0:
            failed = [line for line in (proc.stdout + proc.stderr).splitlines()
                      if "Error" in line or "FAILED" in line]
            print(f"(ansible's openstack.cloud.server failed, not timed: "
                  f"{(failed or ['see ansible output'])[-1][-300:]})")
            return None
        return took
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        cleanup(conn, project)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--skip-ansible", action="store_true",
                        help="Do not time ansible's openstack.cloud.server.")
    args = parser.parse_args()
    n = args.servers
    conn = connect()
    results = {"govcloud apply": govcloud(conn, n), "raw sdk, all at once (limit)":
               limit(conn, n), "serial sdk loop": serial(conn, n)}
    took = None if args.skip_ansible else ansible(conn, n)
    if took is not None:
        results["ansible openstack.cloud.server"] = took
    base = results["raw sdk, all at once (limit)"]
    print(f"{n} servers ({FLAVOR}, {IMAGE}) on the test cloud")
    print(f"{'way':<32} {'seconds':>8} {'÷ limit':>8}")
    for way, secs in results.items():
        print(f"{way:<32} {secs:>8.1f} {secs / base:>8.2f}")
    speedup = results["serial sdk loop"] / results["govcloud apply"]
    within = results["govcloud apply"] / base
    ok = speedup >= 5 and within <= 1.25
    print(f"govcloud is {speedup:.1f}× faster than the serial loop (goal ≥ 5×) and "
          f"{within:.2f}× the limit (goal ≤ 1.25×): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
