"""Drivers do the side effects: a handful of verbs over ``Resource`` values.

SDK objects never leave a driver; it converts them to ``govcloud.core.desired.Resource``.
``base`` declares the interface and the optional abilities; ``sim`` and ``openstack`` are the
two drivers; ``choice`` opens the one the estate's settings name.
"""

from govcloud.drivers.base import Driver
from govcloud.drivers.choice import open_driver

__all__ = ["Driver", "open_driver"]
