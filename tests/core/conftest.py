"""Fixtures the state-store tests of tests/core share."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud.state.store import Store


@pytest.fixture(params=["sqlite", pytest.param("postgresql",
                                                marks=[pytest.mark.real, pytest.mark.postgres])])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty state store on SQLite, and on a real PostgreSQL (``fresh_pg``)."""
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path}/state.db", tmp_path)
    return Store(request.getfixturevalue("fresh_pg"), tmp_path)
