"""The catalogue is part of the estate: the flavors govcloud.yaml declares are made in the
cloud when missing, and the images servers need are checked before anything is asked of it.

Pure: what the cloud has (read by a driver that can, ``Ability.CATALOGUE``) and what the
settings declare in, the catalogue's changes and problems out. A flavor is never changed
under servers that use it; an image is never uploaded (that is the operator's upload), but a
plan names every one the cloud lacks before apply would fail on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govcloud.core.model import Catalogue, Flavor

Sizes = tuple[int, float, int]  # vCPUs, RAM GiB, root disk GB


@dataclass(frozen=True)
class CloudCatalogue:
    """What one cloud offers: its flavors by name with their sizes, its image names, and the
    flavors that servers use."""

    cloud: str
    flavors: Mapping[str, Sizes]
    images: frozenset[str]
    flavors_in_use: frozenset[str]


@dataclass(frozen=True)
class CatalogueChanges:
    cloud: str
    create: tuple[Flavor, ...]  # declared, missing in the cloud
    recreate: tuple[Flavor, ...]  # sizes differ and no server uses it: made again
    problems: tuple[str, ...]  # what stops apply: a flavor in use that differs, a missing image
    notes: tuple[str, ...]  # images the cloud lacks that no change needs yet

    @property
    def pending(self) -> bool:
        return bool(self.create or self.recreate)

    def as_dict(self) -> dict[str, Any]:
        def flavor(f: Flavor) -> dict[str, Any]:
            return {"name": f.name, "vcpus": f.vcpus, "ram_gb": f.ram_gb, "disk_gb": f.disk_gb}

        return {"cloud": self.cloud, "create": [flavor(f) for f in self.create],
                "recreate": [flavor(f) for f in self.recreate],
                "problems": list(self.problems), "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CatalogueChanges:
        return cls(d["cloud"], tuple(Flavor(**f) for f in d["create"]),
                   tuple(Flavor(**f) for f in d["recreate"]), tuple(d["problems"]),
                   tuple(d["notes"]))


def sizes_text(s: Sizes) -> str:
    return f"{s[0]} vCPU, {s[1]:g} GiB RAM, {s[2]} GB root disk"


def compare(catalogue: Catalogue, cloud: CloudCatalogue,
            needed_images: Mapping[str, list[str]]) -> CatalogueChanges:
    """The catalogue against the cloud. ``needed_images``: image → the servers a plan
    creates from it (only those images must exist before apply)."""
    create, recreate, problems, notes = [], [], [], []
    for f in sorted(catalogue.flavors.values(), key=lambda f: f.name):
        want: Sizes = (f.vcpus, f.ram_gb, f.disk_gb)
        have = cloud.flavors.get(f.name)
        if have is None:
            create.append(f)
        elif (have[0], float(have[1]), have[2]) != (want[0], float(want[1]), want[2]):
            if f.name in cloud.flavors_in_use:
                problems.append(
                    f"flavor {f.name} is {sizes_text(have)} in cloud {cloud.cloud}, but "
                    f"govcloud.yaml declares {sizes_text(want)}, and servers use it: govcloud "
                    "will not change it — give the new size a new flavor name in the "
                    "catalogue, or declare the flavor as the cloud has it")
            else:
                recreate.append(f)
    for image in sorted(catalogue.images):
        if image in cloud.images:
            continue
        users = needed_images.get(image, [])
        if users:
            shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5
                                             else "")
            problems.append(
                f"image {image} is not in cloud {cloud.cloud}, and {shown} need it — upload "
                f"it (openstack image create --file FILE {image}) or choose an image the "
                "cloud has")
        else:
            notes.append(f"image {image} of the catalogue is not in cloud {cloud.cloud} "
                         "(no change needs it yet)")
    return CatalogueChanges(cloud.cloud, tuple(create), tuple(recreate), tuple(problems),
                            tuple(notes))
