"""docs/operators.md cannot go stale: its exit-code table has a row for every command, and
the exit codes it states for the commands it was written with are the ones they return."""

from __future__ import annotations

import re

from govcloud.cli import reference
from tests.support.estate import REPO

DOC = REPO / "docs" / "operators.md"


def _exit_rows() -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        m = re.fullmatch(r"\| `(govcloud [^`]*)` \| (.*) \|", line)
        if m:
            rows[m[1]] = [cell.strip() for cell in m[2].split(" | ")]
    return rows


def test_every_command_has_its_exit_codes() -> None:
    rows = _exit_rows()
    names = {" ".join(path) for path, _ in reference.commands()}
    assert set(rows) == names, "docs/operators.md's exit-code table and the commands differ"
    assert all(len(cells) == 3 for cells in rows.values())


def test_commands_that_exit_2_say_so_in_their_help() -> None:
    """A command documented to exit 2 says when in its own help, and the other way round."""
    rows = _exit_rows()
    for path, cmd in reference.commands():
        name = " ".join(path)
        says = "Exit code 2" in (cmd.help or "") or any(
            "--detailed-exitcode" in getattr(p, "opts", ()) for p in cmd.params)
        assert says == (rows[name][2] != "–"), name


def test_the_readme_points_at_the_guide() -> None:
    assert "docs/operators.md" in (REPO / "README.md").read_text(encoding="utf-8")
