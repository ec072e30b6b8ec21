"""Example estates in temporary folders, and edits to their files that cannot silently miss."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ESTATE_PARTS = ("govcloud.yaml", "policies", "plans", "inventories", "prices.yaml")
# Estates worked out by hand for the finance reports (golden/small/README.md).
GOLDEN = REPO / "tests" / "reports" / "golden"


SECOND_FACTOR = "  second_factor: [operator, approver, finance, auditor]\n"


def copy_estate(dest: Path, plans: bool = True, second_factor: bool = False) -> Path:
    """A copy of the repo's example estate (settings, policies, optionally plans). The
    example asks operators, approvers, finance and auditors for a second factor after the
    password; the copy does only with ``second_factor`` (tests of other things sign in with
    a password: tests/portal/test_second_factor.py holds the second factor)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in ESTATE_PARTS:
        src = REPO / part
        if not src.exists() or (part == "plans" and not plans):
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy(src, dest / part)
    (dest / "plans").mkdir(exist_ok=True)
    if not second_factor:
        edit(dest / "govcloud.yaml", SECOND_FACTOR, "  second_factor: []\n")
    return dest


def golden_estate(tmp_path: Path, name: str = "small") -> Path:
    """A copy of the golden estate ``name`` in ``tmp_path``."""
    dest = tmp_path / name
    shutil.copytree(GOLDEN / name, dest)
    return dest


def edit(path: Path, old: str, new: str, count: int | None = 1) -> str:
    """Replace ``old`` by ``new`` in the file; ``old`` must occur exactly ``count`` times
    (``count=None``: at least once, every occurrence replaced). Returns the new text.

    Raises AssertionError when it does not, so a test never passes on an edit that no longer
    matches the file it edits."""
    text = path.read_text(encoding="utf-8")
    found = text.count(old)
    if found == 0 or (count is not None and found != count):
        want = "at least once" if count is None else f"{count} time(s)"
        raise AssertionError(f"edit of {path.name}: {old!r} occurs {found} time(s), "
                             f"expected {want}")
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text


def line_of(path: Path, needle: str) -> int:
    """The number (from 1) of the one line of the file that contains ``needle``."""
    lines = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if needle in line]
    assert len(lines) == 1, f"{path.name}: {needle!r} is on lines {lines}, expected one line"
    return lines[0]
