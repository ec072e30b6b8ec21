"""Desired state: the cloud resources the tenancy plans ask for, as plain values.

Every resource has a kind, a department and a name; its key ``department/kind/name`` is how
it is found again in the cloud. ``attrs`` hold only what the plan decides; what the cloud
decides (ids, hosts, addresses) lives in ``Resource.computed`` on the actual side. What each
kind is (its creation order, what changes in place, what it stands on) is in ``core.kinds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govcloud.core.kinds import KIND
from govcloud.core.model import Estate, TenancyPlan


@dataclass(frozen=True)
class Resource:
    """One resource, desired (from a plan) or actual (read from the cloud)."""

    kind: str
    department: str
    name: str
    attrs: dict[str, Any]
    protected: bool = False
    computed: dict[str, Any] = field(default_factory=dict, compare=False)
    # The servers that serve together (the replicas of one server spec): disruptive changes
    # to them roll, one member at a time. Set on desired servers only.
    roll: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return f"{self.department}/{self.kind}/{self.name}"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "kind": self.kind,
                               "department": self.department, "name": self.name,
                               "attrs": self.attrs, "protected": self.protected}
        if self.computed:
            out["computed"] = self.computed
        if self.roll:
            out["roll"] = self.roll
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resource:
        return cls(data["kind"], data["department"], data["name"], data["attrs"],
                   data.get("protected", False), data.get("computed", {}),
                   data.get("roll", ""))


SECURITY_RULES: dict[str, list[str]] = {
    # Zone-aware defaults: intranet departments accept traffic from the intranet pool only.
    "intranet": ["ingress tcp 22 from zone", "ingress tcp 443 from zone",
                 "ingress icmp from zone"],
    "extranet": ["ingress tcp 22 from zone", "ingress tcp 80 from any",
                 "ingress tcp 443 from any", "ingress icmp from zone"],
}


def department_resources(plan: TenancyPlan, estate: Estate) -> list[Resource]:
    """Every resource one department's plan asks for."""
    dep = plan.department
    d = dep.id
    zone = dep.zone
    net = KIND["network"].named(d)
    out = [
        Resource("project", d, KIND["project"].named(d), {
            "name": dep.name, "name_en": dep.name_en, "cost_centre": dep.cost_centre,
            "zone": zone, "contact": dep.contact}),
        Resource("quota", d, KIND["quota"].named(d), {
            "instances": plan.quota.instances, "cores": plan.quota.cores,
            "ram_gb": plan.quota.ram_gb, "volumes": plan.quota.volumes,
            "volume_gb": plan.quota.volume_gb, "websites": plan.quota.websites}),
        Resource("network", d, net, {"zone": zone}),
        Resource("router", d, KIND["router"].named(d), {"zone": zone, "network": net}),
        Resource("security_group", d, KIND["security_group"].named(d),
                 {"zone": zone, "rules": sorted(SECURITY_RULES[zone])}),
    ]
    flavors = estate.settings.catalogue.flavors
    for spec in plan.servers:
        group = f"{spec.name}-aa" if spec.anti_affinity else None
        if group:
            out.append(Resource("server_group", d, group, {"policy": "anti-affinity"}))
        flavor = flavors[spec.flavor]
        for name in spec.replica_names():
            out.append(Resource("server", d, name, {
                "flavor": spec.flavor, "image": spec.image, "zone": zone,
                "vcpus": flavor.vcpus, "ram_gb": flavor.ram_gb, "disk_gb": flavor.disk_gb,
                "server_group": group, "network": net,
                "load": {"cpu": spec.load.cpu, "ram": spec.load.ram},
                "antivirus": spec.antivirus, "backup": spec.backup,
                "protected": spec.protected,
            }, protected=spec.protected, roll=spec.name))
            if spec.volume_gb:
                out.append(Resource("volume", d, f"{name}-data",
                                    {"size_gb": spec.volume_gb, "server": name},
                                    protected=spec.protected))
    for site in plan.websites:
        out.append(Resource("website", d, site.domain, {
            "kind": site.kind, "storage_gb": site.storage_gb, "upstream": site.upstream,
            "public": site.public, "zone": zone, "protected": site.protected,
        }, protected=site.protected))
    out.append(Resource("antivirus", d, KIND["antivirus"].named(d), {
        "enabled": plan.antivirus.enabled, "schedule": plan.antivirus.schedule}))
    r = plan.backup.retention
    out.append(Resource("backup", d, KIND["backup"].named(d), {
        "enabled": plan.backup.enabled, "schedule": plan.backup.schedule,
        "retention": {"daily": r.daily, "weekly": r.weekly, "monthly": r.monthly,
                      "yearly": r.yearly},
        "paths": list(plan.backup.paths)}))
    return out


def desired_state(estate: Estate) -> dict[str, Resource]:
    """Every resource every plan asks for, by key."""
    out: dict[str, Resource] = {}
    for plan in estate.plans.values():
        for res in department_resources(plan, estate):
            out[res.key] = res
    return out
