"""The catalogue against a cloud, pure: which flavors apply makes, which it refuses to
change, and which missing images stop it."""

from __future__ import annotations

from govcloud.core.catalogue import CatalogueChanges, CloudCatalogue, compare
from govcloud.core.model import Catalogue, Flavor, Image

CATALOGUE = Catalogue(
    flavors={"m1.small": Flavor("m1.small", 1, 2, 20), "m1.big": Flavor("m1.big", 8, 16, 80),
             "r1.odd": Flavor("r1.odd", 2, 1.5, 10), "c1.new": Flavor("c1.new", 16, 16, 80)},
    images={"debian-12": Image("debian-12"), "kylin": Image("kylin"), "uos": Image("uos")})


def _cloud(in_use: set[str]) -> CloudCatalogue:
    return CloudCatalogue("test", {"m1.small": (1, 2, 20), "m1.big": (4, 8, 80),
                                   "r1.odd": (2, 1.5, 10)},
                          frozenset({"debian-12"}), frozenset(in_use))


def test_missing_flavors_are_made_and_unused_differing_ones_made_again() -> None:
    changes = compare(CATALOGUE, _cloud(set()), {})
    assert [f.name for f in changes.create] == ["c1.new"]
    assert [f.name for f in changes.recreate] == ["m1.big"]  # 1.5 GiB == 1.5 GiB: kept
    assert changes.problems == ()
    assert changes.notes == ("image kylin of the catalogue is not in cloud test (no change "
                             "needs it yet)", "image uos of the catalogue is not in cloud "
                             "test (no change needs it yet)")
    assert changes.pending


def test_a_differing_flavor_in_use_and_a_needed_image_are_problems() -> None:
    changes = compare(CATALOGUE, _cloud({"m1.big"}),
                      {"kylin": [f"a/server/s{i}" for i in range(7)]})
    assert changes.recreate == ()
    assert changes.problems == (
        "flavor m1.big is 4 vCPU, 8 GiB RAM, 80 GB root disk in cloud test, but govcloud.yaml "
        "declares 8 vCPU, 16 GiB RAM, 80 GB root disk, and servers use it: govcloud will not "
        "change it — give the new size a new flavor name in the catalogue, or declare the "
        "flavor as the cloud has it",
        "image kylin is not in cloud test, and a/server/s0, a/server/s1, a/server/s2, "
        "a/server/s3, a/server/s4 and 2 more need it — upload it (openstack image create "
        "--file FILE kylin) or choose an image the cloud has")
    assert CatalogueChanges.from_dict(changes.as_dict()) == changes
