"""The test pyramid: ``pytest -m "not real"`` is the fast layer, ``bash .ci/run`` runs all.

A test that needs a real component carries the marker ``real`` and one marker per component
it needs (pyproject.toml lists them). Forgetting is not possible: a test that uses one of
``REAL_FIXTURES``, or calls ``require()`` (``need()`` does), without those markers fails with
the line to add. This module is a pytest plugin; tests/conftest.py loads it.

Pure tests that are slow at full size (generated inputs, repeated kills) run at full size
under CI=true, which .ci/run sets, and smaller on a developer machine: ``sized()``.
"""

from __future__ import annotations

import os

import pytest

CI = os.environ.get("CI", "").lower() == "true"

COMPONENTS = ("openstack", "ansible", "nginx", "clamav", "restic", "postgres", "prometheus",
              "chromium", "sshd", "slapd")
# Fixtures that start or reach a real component, and every component each one needs.
REAL_FIXTURES: dict[str, tuple[str, ...]] = {
    "postgres_url": ("postgres",),
    "fresh_pg": ("postgres",),
    "cloud": ("openstack",),
    "rig": ("ansible", "nginx", "clamav", "restic"),
    "servers_estate": ("ansible", "nginx", "clamav", "restic", "sshd"),
    "prometheus": ("prometheus",),
    "slapd": ("slapd",),
}

_PROBLEMS = pytest.StashKey[list[str]]()
_running: list[pytest.Item] = []


def _fix(markers: list[str]) -> str:
    marks = [f"pytest.mark.{m}" for m in markers]
    return (f"decorate the test with {' '.join('@' + m for m in marks)}, or set "
            f"pytestmark = [{', '.join(marks)}] in its module")


def _missing(item: pytest.Item, components: tuple[str, ...]) -> list[str]:
    have = {m.name for m in item.iter_markers()}
    return [m for m in ("real", *components) if m not in have]


def problems(item: pytest.Item) -> list[str]:
    """What the item's markers fail to say about the real components it needs."""
    out = []
    for fixture in getattr(item, "fixturenames", ()):
        components = REAL_FIXTURES.get(fixture, ())
        if components and (missing := _missing(item, components)):
            out.append(f"{item.nodeid} uses the fixture {fixture!r} (a real "
                       f"{', '.join(components)}) but is not marked {', '.join(missing)}: "
                       + _fix(missing))
    have = {m.name for m in item.iter_markers()}
    if have & set(COMPONENTS) and "real" not in have:
        out.append(f"{item.nodeid} is marked {', '.join(sorted(have & set(COMPONENTS)))} but "
                   f"not real: {_fix(['real'])}")
    return out


def sized(*, ci: int, dev: int) -> int:
    """How many examples, rounds or items a pure test runs: ``ci`` under CI=true, ``dev``
    elsewhere (big enough to mean something, small enough for the fast layer)."""
    return ci if CI else dev


def require(*components: str) -> None:
    """Fail the running test unless it is marked ``real`` and with each of ``components``."""
    if not _running:
        raise RuntimeError("require() outside a test: tests.support.pyramid is not loaded as "
                           "a pytest plugin")
    item = _running[-1]
    missing = _missing(item, components)
    if missing:
        pytest.fail(f"{item.nodeid} needs a real {', '.join(components)} but is not marked "
                    f"{', '.join(missing)}: {_fix(missing)}", pytrace=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        found = problems(item)
        if found:
            item.stash[_PROBLEMS] = found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> object:
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    found = item.stash.get(_PROBLEMS, [])
    if found:
        pytest.fail("\n".join(found), pytrace=False)
