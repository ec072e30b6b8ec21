"""The README's first command works as written, on a copy of the example estate."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.cli import govcloud
from tests.support.estate import REPO


def _first_command() -> str:
    blocks = re.findall(r"```sh\n(.*?)\n```", (REPO / "README.md").read_text(), re.S)
    assert len(blocks) >= 2, "the README starts with two commands"
    assert blocks[1].strip() == "bash .ci/run"
    return blocks[0].strip()


def test_readme_first_command_applies_the_example_estate(estate: Path) -> None:
    command = _first_command()
    assert command.startswith("pip install -e . && ")
    # The package is already installed in this environment; run the rest exactly as written.
    rest = command.removeprefix("pip install -e . && ")
    bindir = str(Path(sys.executable).parent)
    proc = subprocess.run(["bash", "-c", rest], cwd=estate, capture_output=True, text=True,
                          env={**os.environ, "PATH": bindir + os.pathsep + os.environ["PATH"]},
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Apply complete" in proc.stdout
    assert "16 departments" in proc.stdout
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 0
