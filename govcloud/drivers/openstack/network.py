"""Neutron side of the openstack driver: a department's network, subnet, router and security
group, each read, created and deleted side by side. Neutron tags are set after creation, so a
resource is found by name in the department's project (tagged or not) before anything is
created."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

from govcloud.core.desired import Resource
from govcloud.errors import DriverError

TAG = "govcloud"


def dept_tag(department: str) -> str:
    return f"gc-dept-{department}"


def zone_tag(zone: str) -> str:
    return f"gc-zone-{zone}"


def dept_of(tags: list[str] | None) -> str | None:
    for t in tags or []:
        if t.startswith("gc-dept-"):
            return t[len("gc-dept-"):]
    return None


def zone_of(tags: list[str] | None) -> str | None:
    for t in tags or []:
        if t.startswith("gc-zone-"):
            return t[len("gc-zone-"):]
    return None


def described(text: str | None) -> dict[str, Any]:
    """The JSON object a project's or router's description holds ({} when it holds none)."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class NetworkResources:
    """Mixed into OpenStackDriver: needs ``conn``, ``settings``, ``_lock``, ``_project`` and
    ``_call``."""

    conn: Any
    settings: Any
    _lock: Any
    _project: Callable[[str], Any]
    _call: Callable[..., Any]

    def _rule_text(self, rule: dict[str, Any], zone: str | None) -> str | None:
        """An ingress rule as the plan writes it ("ingress tcp 22 from zone"); None for the
        egress rules neutron adds itself."""
        if rule.get("direction") != "ingress":
            return None
        prefix = rule.get("remote_ip_prefix")
        source = "zone" if prefix == self.settings.networks.get(zone) else \
            "any" if prefix in ("0.0.0.0/0", None) else prefix
        if rule.get("protocol") == "icmp":
            return f"ingress icmp from {source}"
        return f"ingress {rule.get('protocol')} {rule.get('port_range_min')} from {source}"

    def _rules_back(self, rules: list[dict[str, Any]], zone: str | None) -> list[str]:
        texts = (self._rule_text(r, zone) for r in rules or [])
        return sorted(t for t in texts if t is not None)

    def _tags(self, res: Resource) -> list[str]:
        return [TAG, dept_tag(res.department), zone_tag(res.attrs["zone"])]

    def _tag(self, item: Any, res: Resource) -> None:
        """Neutron tags are set after creation: a run killed in between leaves an untagged
        resource, which the next run finds by name in the project and tags."""
        if set(self._tags(res)) - set(item.tags or []):
            self.conn.network.set_tags(item, self._tags(res))

    def _in_project(self, lister: Callable[..., Any], department: str, name: str) -> list[Any]:
        """The department's resources of one type named ``name``, tagged or not."""
        project = self._project(department)
        if project is None:
            return []
        return [x for x in lister(project_id=project.id) if x.name == name]

    def _read_networks(self, dep_of: dict[str, str]) -> list[Resource]:
        """The departments' networks (project id → department in ``dep_of``), with the CIDR
        of each one's subnet."""
        subnets = {s.network_id: s for s in self.conn.network.subnets(tags=TAG)}
        out = []
        for n in self.conn.network.networks(tags=TAG):
            dep = dep_of.get(n.project_id)
            if dep is None:
                continue
            sub = subnets.get(n.id)
            out.append(Resource("network", dep, n.name, {"zone": zone_of(n.tags)},
                                computed={"id": n.id, "cidr": sub.cidr if sub else None}))
        return out

    def _create_network(self, res: Resource) -> Resource:
        dep = res.department
        net = self.conn.network
        p = self._project(dep)
        found = self._in_project(net.networks, dep, res.name)
        with self._lock:  # one CIDR allocation at a time
            network = found[0] if found else self._call("create network", dep, lambda: net
                                                        .create_network(name=res.name,
                                                                        project_id=p.id))
            self._tag(network, res)
            subnets = list(net.subnets(network_id=network.id))
            if subnets:
                subnet = subnets[0]
                self._tag(subnet, res)
            else:
                cidr = self._free_cidr(res.attrs["zone"], dep)
                subnet = self._call("create subnet", dep, lambda: net.create_subnet(
                    name=res.name, network_id=network.id, project_id=p.id, ip_version=4,
                    cidr=cidr, enable_dhcp=False))
                self._tag(subnet, res)
        return Resource(res.kind, dep, res.name, res.attrs,
                        computed={"id": network.id, "cidr": subnet.cidr})

    def _free_cidr(self, zone: str, department: str) -> str:
        pool = ipaddress.ip_network(self.settings.networks[zone])
        # Every subnet the cloud has, tagged or not (a killed run may leave one untagged).
        taken = {s.cidr for s in self.conn.network.subnets()}
        for candidate in pool.subnets(new_prefix=24):
            if str(candidate) not in taken:
                return str(candidate)
        raise DriverError(f"department {department}: the {zone} address pool {pool} is "
                          "exhausted", f"widen networks.{zone} in govcloud.yaml")

    def _delete_network(self, res: Resource) -> None:
        net = self.conn.network
        for n in self._in_project(net.networks, res.department, res.name):
            for port in net.ports(network_id=n.id):
                if port.device_owner in ("network:dhcp", ""):
                    self._call("delete port", res.department,
                               lambda port=port: net.delete_port(port, ignore_missing=True))
            for s in net.subnets(network_id=n.id):
                self._call("delete subnet", res.department,
                           lambda s=s: net.delete_subnet(s, ignore_missing=True))
            self._call("delete network", res.department,
                       lambda n=n: net.delete_network(n, ignore_missing=True))

    def _read_routers(self, dep_of: dict[str, str]) -> list[Resource]:
        """The departments' routers; the network each serves is kept in its description."""
        out = []
        for r in self.conn.network.routers(tags=TAG):
            dep = dep_of.get(r.project_id)
            if dep is None:
                continue
            out.append(Resource("router", dep, r.name, {
                "zone": zone_of(r.tags), "network": described(r.description).get("network")},
                computed={"id": r.id}))
        return out

    def _create_router(self, res: Resource) -> Resource:
        dep = res.department
        net = self.conn.network
        p = self._project(dep)
        found = self._in_project(net.routers, dep, res.name)
        router = found[0] if found else self._call("create router", dep, lambda: net
                                                   .create_router(name=res.name,
                                                                  project_id=p.id,
                                                                  description=json.dumps(
                                                                      {"network":
                                                                       res.attrs["network"]})))
        self._tag(router, res)
        # Only the department's own subnet: no external gateway, never another zone's network.
        networks = self._in_project(net.networks, dep, res.attrs["network"])
        if networks:
            attached = {ip["subnet_id"] for port in net.ports(device_id=router.id)
                        for ip in port.fixed_ips or []}
            for s in net.subnets(network_id=networks[0].id):
                if s.id not in attached:
                    self._call("attach the router to the subnet", dep,
                               lambda s=s: net.add_interface_to_router(router, subnet=s.id))
        return Resource(res.kind, dep, res.name, res.attrs, computed={"id": router.id})

    def _delete_router(self, res: Resource) -> None:
        net = self.conn.network
        for r in self._in_project(net.routers, res.department, res.name):
            for port in net.ports(device_id=r.id):
                for ip in port.fixed_ips or []:
                    self._call("detach router", res.department, lambda ip=ip, r=r: net
                               .remove_interface_from_router(r, subnet=ip["subnet_id"]))
            self._call("delete router", res.department,
                       lambda r=r: net.delete_router(r, ignore_missing=True))

    def _read_security_groups(self, dep_of: dict[str, str]) -> list[Resource]:
        """The departments' security groups, their ingress rules as the plans write them."""
        out = []
        for sg in self.conn.network.security_groups(tags=TAG):
            dep = dep_of.get(sg.project_id)
            if dep is None:
                continue
            zone = zone_of(sg.tags)
            out.append(Resource("security_group", dep, sg.name, {
                "zone": zone, "rules": self._rules_back(sg.security_group_rules, zone)},
                computed={"id": sg.id}))
        return out

    def _create_security_group(self, res: Resource) -> Resource:
        dep = res.department
        net = self.conn.network
        p = self._project(dep)
        found = self._in_project(net.security_groups, dep, res.name)
        if found:
            group = found[0]
            self._tag(group, res)
        else:
            group = self._call("create security group", dep, lambda: net.create_security_group(
                name=res.name, project_id=p.id, description="govcloud department default"))
            self._tag(group, res)
        zone = res.attrs["zone"]
        wanted = set(res.attrs["rules"])
        have = set()
        # Converge in place (the group stays attached to the department's servers): remove
        # ingress rules the plan no longer lists, add the missing ones.
        for rule in group.security_group_rules or []:
            text = self._rule_text(rule, zone)
            if text is None:
                continue
            if text in wanted:
                have.add(text)
            else:
                self._call("remove security group rule", dep,
                           lambda rule=rule: net.delete_security_group_rule(
                               rule["id"], ignore_missing=True))
        pool = self.settings.networks[zone]
        for text in res.attrs["rules"]:
            if text in have:
                continue
            parts = text.split()
            proto = parts[1]
            source = parts[-1]
            prefix = pool if source == "zone" else "0.0.0.0/0" if source == "any" else source
            port = None if proto == "icmp" else int(parts[2])
            rule = {"security_group_id": group.id, "project_id": p.id, "direction": "ingress",
                    "ethertype": "IPv4", "protocol": proto, "port_range_min": port,
                    "port_range_max": port, "remote_ip_prefix": prefix}
            self._call("add security group rule", dep,
                       lambda rule=rule: net.create_security_group_rule(**rule))
        return Resource(res.kind, dep, res.name, res.attrs, computed={"id": group.id})

    def _update_security_group(self, before: Resource, after: Resource) -> Resource:
        return self._create_security_group(after)  # converges the rules in place

    def _delete_security_group(self, res: Resource) -> None:
        net = self.conn.network
        for g in self._in_project(net.security_groups, res.department, res.name):
            if g.name == res.name:
                self._call("delete security group", res.department,
                           lambda g=g: net.delete_security_group(g, ignore_missing=True))

