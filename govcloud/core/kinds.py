"""Resource kinds: one declaration per kind of resource govcloud makes, in creation order.

As openstacksdk's ``resource`` declares a kind's fields and what may be done to it, a
:class:`Kind` holds every fact about a kind that more than one part of govcloud needs: where
it comes in creation order (apply creates in this order and deletes in the reverse one), which
attributes change in place, what it stands on while it exists, whether the openstack driver
only records it (the service playbooks configure it), whether a change to it re-runs the
service playbooks, and which items of the bill it is metered on. The planner, apply, the
drivers, the services and finance read these facts here; adding a kind starts here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """What govcloud knows of one kind of resource."""

    name: str
    # Attributes a driver can change in place; a change to any other attribute replaces it.
    updatable: frozenset[str]
    # The department's resources it needs while it exists: while it stays, they are not
    # deleted (each is the department's one resource of that kind, see ``department_name``).
    stands_on: tuple[str, ...] = ("project",)
    # Kinds of its own resources it holds on to: the server group its attributes name, the
    # volumes that name it (a server's).
    keeps: tuple[str, ...] = ()
    # Attributes changed in place by a resize, when the driver can resize (a server's size).
    resizable: frozenset[str] = frozenset()
    # The name of the department's one resource of this kind ("{department}" filled in);
    # empty when a department has any number of them.
    department_name: str = ""
    # Not an OpenStack object: the service playbooks configure it and the openstack driver
    # keeps its record in the state store.
    recorded: bool = False
    # The service playbooks configure it: a change to it re-runs them for its department.
    service: bool = False
    # The items of the bill it is metered on.
    billed: tuple[str, ...] = ()

    def named(self, department: str) -> str:
        """The name of ``department``'s one resource of this kind."""
        if not self.department_name:
            raise ValueError(f"a department has any number of {self.name} resources")
        return self.department_name.format(department=department)

    def key(self, department: str) -> str:
        """The key of ``department``'s one resource of this kind."""
        return f"{department}/{self.name}/{self.named(department)}"


# What a server stands on: its department's foundations.
_FOUNDATIONS = ("project", "quota", "network", "router", "security_group")

# Creation order. Deletion runs in the reverse order.
KINDS: tuple[Kind, ...] = (
    Kind("project", frozenset({"name", "name_en", "cost_centre", "contact"}), stands_on=(),
         department_name="{department}", service=True),
    Kind("quota", frozenset({"instances", "cores", "ram_gb", "volumes", "volume_gb",
                             "websites"}), department_name="{department}"),
    Kind("network", frozenset(), stands_on=("project", "quota"),
         department_name="{department}-net"),
    Kind("router", frozenset(), stands_on=("project", "network"),
         department_name="{department}-router"),
    Kind("security_group", frozenset({"rules"}), department_name="{department}-default"),
    Kind("server_group", frozenset(), stands_on=("project", "quota")),
    Kind("server", frozenset({"flavor", "load", "antivirus", "backup", "protected"}),
         stands_on=_FOUNDATIONS, keeps=("server_group", "volume"),
         resizable=frozenset({"flavor", "vcpus", "ram_gb", "disk_gb"}), service=True,
         billed=("vcpu", "ram_gb", "disk_gb")),
    Kind("volume", frozenset({"size_gb"}), stands_on=("project", "quota"),
         billed=("volume_gb",)),
    Kind("website", frozenset({"kind", "storage_gb", "upstream", "public", "protected"}),
         stands_on=("project", "quota"), recorded=True, service=True, billed=("website",)),
    # A seat per server it scans.
    Kind("antivirus", frozenset({"schedule", "enabled"}), department_name="{department}",
         recorded=True, service=True, billed=("antivirus_seat",)),
    # The GB of data it protects: its department's server volumes and website storage.
    Kind("backup", frozenset({"schedule", "retention", "paths", "enabled"}),
         department_name="{department}", recorded=True, service=True, billed=("backup_gb",)),
)
KIND: dict[str, Kind] = {k.name: k for k in KINDS}
STAGE: dict[str, int] = {k.name: i for i, k in enumerate(KINDS)}

# What a resource that stays keeps from deletion: every kind some kind stands on or keeps.
KEPT_UNDER: frozenset[str] = frozenset(n for k in KINDS for n in (*k.stands_on, *k.keeps))

# The bill's items, in the order the price book and every report list them: a server's size,
# then volumes, websites, backup and antivirus.
_BILL_ORDER = ("server", "volume", "website", "backup", "antivirus")
BILLED: tuple[str, ...] = tuple(item for name in _BILL_ORDER for item in KIND[name].billed)


def stands_on(kind: str) -> tuple[str, ...]:
    """The kinds of its department's resources a resource of ``kind`` needs (a kind govcloud
    does not know, found in the cloud, stands on its department's project)."""
    known = KIND.get(kind)
    return known.stands_on if known is not None else ("project",)
