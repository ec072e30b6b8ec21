"""Which driver an estate uses: the one its settings name, loaded only when asked for."""

from __future__ import annotations

from govcloud.core.model import Estate
from govcloud.drivers.base import Driver, Rows
from govcloud.errors import GovcloudError, MissingExtra


def open_driver(estate: Estate, store: Rows) -> Driver:
    """The driver the estate's settings name."""
    name = estate.settings.driver
    if name == "sim":
        from govcloud.drivers.sim import SimDriver

        return SimDriver(estate.settings, store)
    if name == "openstack":
        try:  # the driver imports openstacksdk when it connects; check it is there first
            import keystoneauth1  # noqa: F401
            import openstack  # noqa: F401
        except ImportError as exc:
            raise MissingExtra("the openstack driver (cloud.driver: openstack)", "openstack",
                               "openstacksdk",
                               "set cloud.driver: sim in govcloud.yaml") from exc
        from govcloud.drivers.openstack.driver import OpenStackDriver

        return OpenStackDriver(estate.settings, store)
    raise GovcloudError(f"unknown cloud driver '{name}'", "set cloud.driver to sim or openstack")

