"""The shared test helpers that make other tests trustworthy: an edit that does not match the
file fails instead of leaving the file as it was; a line number comes from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.estate import edit, line_of


def test_edit_changes_the_file_or_fails(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("count: 2\nname: a\ncount: 2\n")
    with pytest.raises(AssertionError, match="'count: 3' occurs 0 time"):
        edit(path, "count: 3", "count: 4")
    with pytest.raises(AssertionError, match="occurs 2 time.*expected 1"):
        edit(path, "count: 2", "count: 3")
    assert path.read_text() == "count: 2\nname: a\ncount: 2\n"  # a failed edit writes nothing
    edit(path, "count: 2", "count: 3", count=2)
    edit(path, "name: a", "name: b")
    assert path.read_text() == "count: 3\nname: b\ncount: 3\n"
    edit(path, "count: 3", "count: 5", count=None)
    assert path.read_text() == "count: 5\nname: b\ncount: 5\n"
    with pytest.raises(AssertionError, match="expected at least once"):
        edit(path, "count: 3", "count: 6", count=None)


def test_line_of_finds_the_one_line(tmp_path: Path) -> None:
    path = tmp_path / "govcloud.yaml"
    path.write_text("host_pool:\n  headroom: 0.8\n  classes: []\n")
    assert line_of(path, "headroom:") == 2
    with pytest.raises(AssertionError, match="on lines \\[\\]"):
        line_of(path, "missing")
    with pytest.raises(AssertionError, match="on lines \\[1, 2\\]"):
        line_of(path, "o")
