"""Nova's side of the catalogue: the flavors govcloud.yaml declares are made when missing
(public, with the declared sizes); one whose sizes differ is made again only when no server
uses it. Images are only read: uploading one is the operator's job, and the plan names any
that a change needs and the cloud lacks (``govcloud.core.catalogue``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from govcloud.core.catalogue import CloudCatalogue
from govcloud.core.model import Catalogue, Flavor


class CatalogueResources:
    """Mixed into OpenStackDriver: needs ``conn``, ``cloud``, ``_lock``, ``_call`` and the
    ``_flavors``/``_images`` caches (emptied when flavors change)."""

    conn: Any
    cloud: str
    _lock: Any
    _call: Callable[..., Any]
    _flavors: dict[str, Any] | None
    _images: dict[str, Any] | None

    def cloud_catalogue(self, declared: Catalogue) -> CloudCatalogue:
        """Flavors and images as the cloud has them. Whether servers use a flavor is asked
        only for a declared flavor whose sizes differ (one call each, usually none)."""
        flavors = {f.name: f for f in self.conn.compute.flavors()}
        images = frozenset(i.name for i in self.conn.image.images())
        sizes = {name: (f.vcpus, _gib(f.ram), f.disk) for name, f in flavors.items()}
        in_use = set()
        for name, want in declared.flavors.items():
            have = sizes.get(name)
            if have is not None and (have[0], float(have[1]), have[2]) != \
                    (want.vcpus, float(want.ram_gb), want.disk_gb):
                flavor_id = flavors[name].id
                if next(iter(self.conn.compute.servers(all_projects=True, flavor=flavor_id,
                                                       limit=1)), None) is not None:
                    in_use.add(name)
        return CloudCatalogue(self.cloud, sizes, images, frozenset(in_use))

    def make_flavors(self, create: list[Flavor], recreate: list[Flavor]) -> None:
        with self._lock:
            existing = {f.name: f for f in self.conn.compute.flavors()}
            for f in recreate:
                if f.name in existing:
                    old = existing[f.name]
                    self._call(f"delete flavor {f.name} to make it again", "(catalogue)",
                               lambda old=old: self.conn.compute.delete_flavor(old))
            for f in [*create, *recreate]:
                have = existing.get(f.name)
                if f in create and have is not None and \
                        (have.vcpus, _gib(have.ram), have.disk) == (f.vcpus, f.ram_gb, f.disk_gb):
                    continue  # made since the plan (an earlier, interrupted apply)
                self._call(f"create flavor {f.name}", "(catalogue)",
                           lambda f=f: self.conn.compute.create_flavor(
                               name=f.name, vcpus=f.vcpus, ram=int(round(f.ram_gb * 1024)),
                               disk=f.disk_gb, is_public=True))
            self._flavors = None  # read again on the next server


def _gib(mb: Any) -> float:
    gb = float(mb or 0) / 1024
    return int(gb) if gb.is_integer() else gb
