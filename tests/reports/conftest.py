"""Fixtures for the finance reports: the golden estate and the example estate, applied and
with usage collected. (The real components of the report tests, Prometheus and Chromium, fail
the run under CI=true when they cannot start, and are skipped only on a developer machine
without them: tests/support/components.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import NOW, apply_and_collect
from tests.support.estate import copy_estate, golden_estate


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every finance test runs at the same moment (tests.support.cli.NOW)."""
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return apply_and_collect(golden_estate(tmp_path), "2026-10")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate applied, with six months of usage collected."""
    root = copy_estate(tmp_path_factory.mktemp("example") / "estate")
    return apply_and_collect(root, "2026-05", "2026-06", "2026-07", "2026-08", "2026-09",
                             "2026-10")
