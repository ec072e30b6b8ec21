"""Fixtures for the finance reports: the golden estate and the example estate, applied and
with usage collected; and real components (Prometheus, Chromium) that fail the run under
CI=true when they cannot start, and are skipped only on a developer machine without them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import copy_estate, govcloud
from tests.conftest import need as _need

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
CI = os.environ.get("CI", "").lower() == "true"


def need(binary: str, *alternatives: str) -> str:
    return _need(binary, *alternatives, install=".ci/install-reports")


def golden_estate(tmp_path: Path, name: str = "small") -> Path:
    dest = tmp_path / name
    shutil.copytree(GOLDEN / name, dest)
    return dest


# The clock of every finance test: the estate was applied on New Year's Day 2026 and it is
# now 26 November 2026, noon (GOVCLOUD_NOW), so months up to October are whole and November
# is month to date, whatever the machine's date.
BUILT = {"GOVCLOUD_NOW": "2026-01-01T00:00:00Z"}
NOW = {"GOVCLOUD_NOW": "2026-11-26T12:00:00Z"}


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])


def applied(estate: Path, *periods: str) -> Path:
    govcloud("apply", "--yes", "-o", "json", estate=estate, check=True, env=BUILT)
    for p in periods:
        govcloud("usage", "collect", "--period", p, estate=estate, check=True, env=NOW)
    return estate


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return applied(golden_estate(tmp_path), "2026-10")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate applied, with six months of usage collected."""
    root = copy_estate(tmp_path_factory.mktemp("example") / "estate")
    return applied(root, "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
