"""``estate.files.write_atomically``: the one writer of every file govcloud writes (reports,
releases, saved plans, a request's plan edit, a new estate's files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from govcloud.estate import files


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_new_file_holds_the_content_with_a_new_files_mode(tmp_path: Path) -> None:
    target = tmp_path / "plan.yaml"
    files.write_atomically(target, "部门: finance\n".encode())
    assert target.read_text(encoding="utf-8") == "部门: finance\n"
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yaml"]  # no temporary file


def test_an_existing_files_mode_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "plan.yaml"
    target.write_text("old\n")
    target.chmod(0o640)
    files.write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yaml"]


def test_a_mode_given_is_set(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o600)
    files.write_atomically(target, b"<p>", 0o644)
    assert target.read_bytes() == b"<p>"
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.yaml"
    target.write_text("old\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(OSError):
        files.write_atomically(tmp_path / "sub", b"not onto a folder")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.yaml", "sub"]
    assert list((tmp_path / "sub").iterdir()) == []


def test_many_files_written_at_once_hold_their_content_and_leave_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = {tmp_path / f"d{n}.yaml": f"name: 第{n}局\n" for n in range(50)}
    files.write_all(made)
    assert all(p.read_text(encoding="utf-8") == text for p, text in made.items())
    assert {p.stat().st_mode & 0o777 for p in made} == {0o666 & ~_umask()}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in made)

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "sync", full)  # a failure before the renames: nothing is left
    with pytest.raises(OSError):
        files.write_all({tmp_path / "new.yaml": "x: 1\n"})
    assert not (tmp_path / "new.yaml").exists() and not list(tmp_path.glob(".*part"))
