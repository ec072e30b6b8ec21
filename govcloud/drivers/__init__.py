"""Drivers do the side effects: a handful of verbs over ``Resource`` values.

SDK objects never leave a driver; it converts them to ``govcloud.desired.Resource``.
"""

from __future__ import annotations

from govcloud.drivers.base import Driver
from govcloud.errors import GovcloudError
from govcloud.model import Estate
from govcloud.store import Store


def open_driver(estate: Estate, store: Store) -> Driver:
    """The driver the estate's settings name."""
    name = estate.settings.driver
    if name == "sim":
        from govcloud.drivers.sim import SimDriver

        return SimDriver(store, estate.settings)
    if name == "openstack":
        try:
            from govcloud.drivers.openstack import OpenStackDriver
        except ImportError as exc:
            raise GovcloudError(f"the openstack driver cannot be loaded: {exc}",
                                "pip install govcloud with its openstacksdk dependency") from exc
        return OpenStackDriver(estate.settings, store)
    raise GovcloudError(f"unknown cloud driver '{name}'", "set cloud.driver to sim or openstack")


__all__ = ["Driver", "open_driver"]
