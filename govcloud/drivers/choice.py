"""Which driver an estate uses: the one its settings name, loaded only when asked for."""

from __future__ import annotations

from govcloud.core.model import Estate
from govcloud.drivers.base import Driver
from govcloud.errors import GovcloudError
from govcloud.runtime.store import Store


def open_driver(estate: Estate, store: Store) -> Driver:
    """The driver the estate's settings name."""
    name = estate.settings.driver
    if name == "sim":
        from govcloud.drivers.sim import SimDriver

        return SimDriver(estate.settings, store)
    if name == "openstack":
        try:
            from govcloud.drivers.openstack.driver import OpenStackDriver
        except ImportError as exc:
            raise GovcloudError(f"the openstack driver cannot be loaded: {exc}",
                                "pip install govcloud with its openstacksdk dependency") from exc
        return OpenStackDriver(estate.settings, store)
    raise GovcloudError(f"unknown cloud driver '{name}'", "set cloud.driver to sim or openstack")

