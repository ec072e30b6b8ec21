"""A real cloud's own hosts (its hypervisors) as the packer sees them. Pure.

The settings' ``host_pool`` is a model (the sim's cloud, and what-if); a real cloud has the
hosts it has. Their zones are the cloud's: an estate zone with hypervisors of its own (an
aggregate's ``govcloud_zone`` metadata, or an availability zone of that name) uses those
alone; the servers of an estate zone without any share the hosts that belong to no estate
zone, provided there is exactly one such cloud zone (nova's default availability zone,
``nova``, in a cloud that never split its hosts). ``zoned`` rewrites demands into the cloud's
zones so that ``place``, ``lower_bound`` and the consolidation work on them unchanged.

``check`` is what ``plan`` asks before any API call: does the estate fit these hosts, and
has every anti-affinity group as many hosts as members? ``report`` is ``capacity`` against
them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from govcloud.core.model import ZONES
from govcloud.errors import CapacityError
from govcloud.placement.capacity import REPORTED
from govcloud.placement.hosts import Demand, Host, Ratios
from govcloud.placement.place import lower_bound, place


def zone_map(zones: Iterable[str], hosts: Iterable[Host]) -> dict[str, str]:
    """Estate zone → the cloud zone whose hosts serve it (an estate zone no host can serve
    maps to itself, and finds no host)."""
    zones = sorted(set(zones))
    own = {h.zone for h in hosts}
    shared = sorted(own - set(zones) - set(ZONES))
    return {z: z if z in own or len(shared) != 1 else shared[0] for z in zones}


def zoned(demands: Iterable[Demand], hosts: Sequence[Host]) -> list[Demand]:
    """The demands with their zone replaced by the cloud zone that serves it."""
    demands = list(demands)
    mapping = zone_map({d.zone for d in demands}, hosts)
    return [d if mapping[d.zone] == d.zone else replace(d, zone=mapping[d.zone])
            for d in demands]


def check(demands: Iterable[Demand], hosts: Sequence[Host], ratios: Ratios,
          unusable: Sequence[Host] = ()) -> None:
    """Raise CapacityError naming every shortage: an estate zone no host serves, an
    anti-affinity group with more members than its zone has hosts, servers that do not fit.
    ``hosts`` are those apply may use; ``unusable`` (down, or disabled by someone else) are
    only named in the message."""
    demands = list(demands)
    mapping = zone_map({d.zone for d in demands}, hosts)
    problems: list[str] = []
    by_zone: dict[str, list[Host]] = {}
    for h in hosts:
        by_zone.setdefault(h.zone, []).append(h)
    aside = f" ({len(unusable)} more not usable: {_names(unusable)})" if unusable else ""
    for zone, cloud_zone in sorted(mapping.items()):
        if not by_zone.get(cloud_zone):
            n = sum(1 for d in demands if d.zone == zone)
            problems.append(f"no hypervisor serves zone {zone} ({n} server(s) to place){aside}")
    members = Counter((mapping[d.zone], d.group) for d in demands if d.group)
    for (cloud_zone, group), count in sorted(members.items()):
        have = len(by_zone.get(cloud_zone, []))
        if have and count > have:
            problems.append(f"anti-affinity group {group} has {count} members but zone "
                            f"{cloud_zone} has {have} hypervisor(s) ({_names(by_zone[cloud_zone])})"
                            f": {count - have} short{aside}")
    if not problems:
        try:
            place(zoned(demands, hosts), hosts, ratios)
        except CapacityError as exc:
            problems.append(f"{exc} (against the cloud's {len(hosts)} hypervisor(s)){aside}")
    if problems:
        raise CapacityError("the estate does not fit the cloud's hypervisors: "
                            + "; ".join(problems),
                            "add compute hosts (or enable disabled ones), or shrink the plans: "
                            "an anti-affinity group needs a host per member")


def _names(hosts: Iterable[Host]) -> str:
    return ", ".join(sorted(h.name for h in hosts))


@dataclass(frozen=True)
class HostRow:
    """One hypervisor: what it is, whether it takes servers, how many of ours run there."""

    host: Host
    servers: int

    def as_dict(self) -> dict[str, Any]:
        h = self.host
        return {"name": h.name, "zone": h.zone, "class": h.host_class, "vcpus": h.vcpus,
                "ram_gb": h.ram_gb, "disk_gb": h.disk_gb, "enabled": h.enabled,
                "disabled_reason": h.disabled_reason, "servers": self.servers}


@dataclass(frozen=True)
class CloudZone:
    zone: str
    serves: tuple[str, ...]  # the estate zones whose servers run here
    servers: int
    hosts: int  # hypervisors in the zone
    needed: int  # hosts a packing uses
    lower_bound: int
    in_use: int  # hypervisors running servers of the estate now
    average: dict[str, float]
    peak: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return {"zone": self.zone, "serves": list(self.serves), "servers": self.servers,
                "hypervisors": self.hosts, "needed": self.needed,
                "lower_bound": self.lower_bound, "in_use": self.in_use,
                "utilization": {"average": self.average, "peak": self.peak}}


@dataclass(frozen=True)
class CloudCapacity:
    """``capacity`` against a real cloud: its hypervisors, and how many the estate needs."""

    estate: str
    cloud: str
    headroom: float
    zones: tuple[CloudZone, ...]
    hypervisors: tuple[HostRow, ...]

    @property
    def hosts(self) -> int:
        return sum(z.needed for z in self.zones)

    @property
    def extra(self) -> int:
        return 0  # a shortage raises CapacityError instead

    def as_dict(self) -> dict[str, Any]:
        return {"estate": self.estate, "cloud": self.cloud, "headroom": self.headroom,
                "hosts": self.hosts, "in_use": sum(z.in_use for z in self.zones),
                "zones": [z.as_dict() for z in self.zones],
                "hypervisors": [r.as_dict() for r in self.hypervisors]}


def report(estate: str, cloud: str, demands: Iterable[Demand], hosts: Sequence[Host],
           running: Mapping[str, str], ratios: Ratios,
           usable: Sequence[Host] | None = None) -> CloudCapacity:
    """The capacity of the estate on the cloud's hypervisors (all of them listed; packed on
    ``usable``, by default all); ``running`` is server key → host as the driver reads it.
    Raises CapacityError when the estate does not fit."""
    demands = list(demands)
    listed = list(hosts)
    hosts = list(usable) if usable is not None else listed
    check(demands, hosts, ratios, [h for h in listed if h not in hosts])
    mapping = zone_map({d.zone for d in demands}, hosts)
    wanted = zoned(demands, hosts)
    packed = place(wanted, hosts, ratios)
    bound = lower_bound(wanted, hosts, ratios)
    per_host = Counter(running.values())
    zones = []
    for zone in sorted({h.zone for h in listed}):
        util = [h.utilization(ratios) for h in packed.hosts if h.host.zone == zone]
        names = {h.name for h in listed if h.zone == zone}
        zones.append(CloudZone(
            zone=zone,
            serves=tuple(sorted(z for z, c in mapping.items() if c == zone)),
            servers=sum(1 for d in wanted if d.zone == zone),
            hosts=len(names),
            needed=packed.count(zone),
            lower_bound=bound.get(zone, 0),
            in_use=sum(1 for n in names if per_host.get(n)),
            average={n: round(sum(u[k] for u in util) / len(util), 4) if util else 0.0
                     for k, n in enumerate(REPORTED)},
            peak={n: round(max((u[k] for u in util), default=0.0), 4)
                  for k, n in enumerate(REPORTED)}))
    rows = tuple(HostRow(h, per_host.get(h.name, 0)) for h in sorted(listed, key=lambda h: h.name))
    return CloudCapacity(estate, cloud, ratios.headroom, tuple(zones), rows)
