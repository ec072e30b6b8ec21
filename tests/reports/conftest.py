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


def applied(estate: Path, *periods: str) -> Path:
    govcloud("apply", "--yes", "-o", "json", estate=estate, check=True)
    for p in periods:
        govcloud("usage", "collect", "--period", p, estate=estate, check=True)
    return estate


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return applied(golden_estate(tmp_path), "2026-10")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate applied, with six months of usage collected."""
    root = copy_estate(tmp_path_factory.mktemp("example") / "estate")
    return applied(root, "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
