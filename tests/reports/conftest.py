"""Fixtures for the finance reports: the golden estate and the example estate, applied and
with usage collected. (The real components of the report tests, Prometheus and Chromium, fail
the run under CI=true when they cannot start, and are skipped only on a developer machine
without them: tests/support/components.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import BUILT, NOW, apply_and_collect, govcloud
from tests.support.estate import copy_estate, golden_estate


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every finance test runs at the same moment (tests.support.cli.NOW)."""
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])


def park_idle_hosts(estate: Path) -> None:
    """Disable every host that runs no server, as consolidate --apply leaves them: a parked
    host draws no power. Parked when the estate was built (the dated record bills a host's
    power for the hours it was on)."""
    from govcloud.applying import engine

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_NOW", BUILT["GOVCLOUD_NOW"])
        _park(engine, estate)


def _park(engine: Any, estate: Path) -> None:
    with engine.session(estate) as s:
        running = set(s.driver.servers_on_hosts().values())
        for h in s.driver.hosts():
            if h.name not in running:
                s.driver.set_host_enabled(h.name, False, "govcloud: consolidated 2026-01-01")


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    """The golden estate applied, its idle second host parked, October collected (the first
    case of golden/small/README.md)."""
    root = golden_estate(tmp_path)
    govcloud("apply", "--yes", "-o", "json", estate=root, check=True, env=BUILT)
    park_idle_hosts(root)
    govcloud("usage", "collect", "--period", "2026-10", estate=root, check=True, env=NOW)
    return root


@pytest.fixture
def golden_idle_on(tmp_path: Path) -> Path:
    """The golden estate as applied: its second host idle but powered on (the second case of
    golden/small/README.md)."""
    return apply_and_collect(golden_estate(tmp_path), "2026-10")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate applied, with six months of usage collected."""
    root = copy_estate(tmp_path_factory.mktemp("example") / "estate")
    return apply_and_collect(root, "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
                             "2026-10")
