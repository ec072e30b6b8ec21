"""The real OpenStack test cloud (testcloud/up: Keystone, Placement, Nova with its fake virt
driver, Glance, Neutron, Cinder on loopback), started once by .ci/run for the whole suite.

In CI a test cloud that does not answer fails these tests; elsewhere they are skipped with
the command that starts it.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.components import unavailable
from tests.support.pyramid import require
from tests.support.testcloud import (
    CLOUDS,
    connect,
    ensure_images,
)


@pytest.fixture(scope="session")
def cloud() -> Any:
    """An admin openstacksdk connection to the test cloud. Tests that use it are marked real
    and openstack (tests/support/pyramid.py makes them)."""
    require("openstack")
    try:
        if not CLOUDS.exists():
            raise RuntimeError(f"{CLOUDS} does not exist")
        conn = connect()
        list(conn.compute.servers(limit=1))
    except Exception as exc:  # noqa: BLE001 - any failure means: no test cloud
        unavailable(f"the OpenStack test cloud does not answer ({exc}); start it with "
                    "testcloud/up")
    ensure_images(conn)
    return conn
