"""Where apply puts the servers it creates: where the packer would. Pure and deterministic.

Servers that run stay where they are. New servers first fill the hosts in use (the biggest
server first, each onto the fullest host it fits: ``place_one``); those left are packed by
the packer (``place.place``) onto the empty hosts. On a fresh estate that is exactly the
packing, so after the first apply the hosts in use are the ones ``capacity`` counts.

Hosts that are disabled (a consolidation freed them) are used only when the enabled ones are
too few; :class:`Arrivals` lists those, so apply enables them before it creates anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from govcloud.errors import CapacityError
from govcloud.placement.hosts import Demand, Host, Ratios, Usage
from govcloud.placement.place import place, place_one


@dataclass(frozen=True)
class Arrivals:
    """The host of every new server that has one (a server missing here is left to the
    cloud, which then reports the shortage), and the disabled hosts they need."""

    hosts: Mapping[str, str]  # server key -> host name
    enable: tuple[str, ...]  # disabled hosts the new servers need, by name


def arrivals(new: Iterable[Demand], running: Iterable[Demand], where: Mapping[str, str],
             hosts: Sequence[Host], ratios: Ratios) -> Arrivals:
    """The hosts for the ``new`` servers, given the ``running`` ones and ``where`` they run
    (server key -> host name)."""
    new = sorted(new, key=lambda d: d.key)
    by_name = {h.name: h for h in hosts}
    running = [d for d in sorted(running, key=lambda d: d.key) if where.get(d.key) in by_name]
    chosen: dict[str, str] = {}
    for zone in sorted({d.zone for d in new}):
        zone_new = [d for d in new if d.zone == zone]
        zone_running = [d for d in running if d.zone == zone]
        zone_hosts = [h for h in hosts if h.zone == zone]
        enabled = [h for h in zone_hosts if h.enabled]
        # Enabled hosts first; the disabled ones only when the enabled are too few.
        for pool in (enabled, zone_hosts):
            got = _zone(zone_new, zone_running, where, pool, ratios)
            if len(got) == len(zone_new) or pool is zone_hosts:
                chosen.update(got)
                break
    enable = sorted({h for h in chosen.values() if not by_name[h].enabled})
    return Arrivals(dict(sorted(chosen.items())), tuple(enable))


def _zone(new: Sequence[Demand], running: Sequence[Demand], where: Mapping[str, str],
          hosts: Sequence[Host], ratios: Ratios) -> dict[str, str]:
    """New servers first onto the hosts in use (fullest first, biggest servers first), then
    the rest packed onto the empty hosts; what the packing cannot take goes one by one."""
    used: dict[str, Usage] = {}
    for d in running:
        used.setdefault(where[d.key], Usage()).add(d)
    in_use = [h for h in hosts if h.name in used]
    out: dict[str, str] = {}
    rest = []
    for d in sorted(new, key=lambda d: (-(d.vcpus + d.ram_gb + d.disk_gb), d.key)):
        try:
            target = place_one(d, in_use, used, ratios)
        except CapacityError:
            rest.append(d)
            continue
        used[target].add(d)
        out[d.key] = target
    empty = [h for h in hosts if h.name not in used]
    try:
        packed = place(rest, empty, ratios).assignment if rest else {}
    except CapacityError:
        packed = {}
    for d in rest:
        chosen = packed.get(d.key)
        if chosen is None:
            try:
                chosen = place_one(d, hosts, used, ratios)
            except CapacityError:
                continue
        target = chosen
        used.setdefault(target, Usage()).add(d)
        out[d.key] = target
    return out
