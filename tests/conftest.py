"""Shared fixtures: example estates in temporary folders, and a real PostgreSQL server started
for the suite on loopback. What tests share besides fixtures is in tests/support/; the
markers of the test pyramid are enforced by tests/support/pyramid.py, loaded here."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before the first import of the support modules: their asserts get pytest's rewriting, and
# the markers plugin (below) loads without a warning.
pytest.register_assert_rewrite("tests.support")

from tests.support import directory  # noqa: E402
from tests.support.components import free_port, wait_for  # noqa: E402
from tests.support.directory import Slapd  # noqa: E402
from tests.support.estate import copy_estate  # noqa: E402
from tests.support.pyramid import require  # noqa: E402

pytest_plugins = ["tests.support.pyramid", "pytester"]


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The full example estate, in a temporary folder with its own state."""
    return copy_estate(tmp_path / "estate")


@pytest.fixture
def empty_estate(tmp_path: Path) -> Path:
    """The example settings and policies with no plans."""
    return copy_estate(tmp_path / "estate", plans=False)


def _pg_bin() -> Path:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql "
                       "(.ci/run does this)")


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """The suite's OpenLDAP server on loopback (tests/support/directory.py); fails (never
    skips) under CI if it cannot start."""
    require("slapd")
    yield from directory.start(tmp_path_factory.mktemp("slapd"))


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 for the suite; fails (never skips) if it
    cannot start."""
    require("postgres")
    bindir = _pg_bin()
    # Not under pytest's tmp folders: they are private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="govcloud-pg-"))
    data = base / "data"
    sock = base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "govcloud",
                    "--auth=trust", "-E", "UTF8", "--locale=C"], check=True,
                   capture_output=True)
    log = data.parent / "pg.log"
    if os.geteuid() == 0:
        log.touch()
        shutil.chown(log, "postgres")
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off", "start"], check=True, capture_output=True)
    url = f"postgresql://govcloud@127.0.0.1:{port}/postgres"
    import psycopg

    def accepts() -> bool:
        try:
            psycopg.connect(url).close()
        except psycopg.OperationalError:
            return False
        return True

    try:
        wait_for("PostgreSQL to accept connections", accepts, 30, log=log)
        yield url
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fresh_pg(postgres_url: str) -> str:
    """A new, empty database on the suite's PostgreSQL server."""
    require("postgres")  # also when requested by name (request.getfixturevalue)
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:10]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


def _xdist_group(item: pytest.Item) -> tuple[int, str]:
    """Where a test runs under pytest-xdist, and when: tests sharing the OpenStack test cloud
    run one after another on one worker, and so do the tests sharing the service rig (a
    session fixture: a second worker would build a second rig); every other module stays on
    one worker (its module fixtures are built once). The two long groups come first, so the
    short modules fill in beside them."""
    if item.get_closest_marker("openstack"):
        return 0, "openstack"
    if "rig" in getattr(item, "fixturenames", ()):
        return 1, "service-rig"
    return 2, item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`.ci/run` runs the suite on two workers (``-n 2 --dist loadgroup
    --no-loadscope-reorder``): every test of a module gets the module's group (the first of
    its tests' groups), and the long groups are collected first. Without pytest-xdist
    nothing changes."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    modules: dict[str, tuple[int, str]] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        modules[module] = min(modules.get(module, (3, "")), _xdist_group(item))
    for item in items:
        item.add_marker(pytest.mark.xdist_group(modules[item.nodeid.split("::")[0]][1]))
    items.sort(key=lambda item: modules[item.nodeid.split("::")[0]][0])
