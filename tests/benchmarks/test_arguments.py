"""Each benchmark refuses, before it prepares anything, an argument that would make its run
mean nothing (``benchmarks/arguments``): exit 2, argparse's usage and the reason. Found
trying #24 as an operator: a comparison checkout that did not exist measured the installed
govcloud under its name; zeros, negatives and files given as folders ended in tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CASES = [
    ("startup", ["--against", "{missing}", "--quick"], "is not a govcloud checkout"),
    ("startup", ["--against", "{file}", "--quick"], "is not a govcloud checkout"),
    ("startup", ["--runs", "0"], "0 is less than 1"),
    ("validate_plan", ["--rounds", "0"], "0 is less than 1"),
    ("validate_plan", ["--against", "{missing}"], "is not a govcloud checkout"),
    ("validate_plan", ["--estate", "{file}"], "is not an estate"),
    ("validate_plan", ["--departments", "-5"], "-5 is less than 1"),
    ("apply_scale", ["--sizes", "-4"], "-4 is less than 1"),
    ("apply_scale", ["--sizes", "4,,40"], "separated by commas"),
    ("apply_scale", ["--shapes", "bogus"], "choose from servers, websites, lopsided"),
    ("apply_scale", ["--state", "mysql"], "choose from sqlite, postgres"),
    ("apply_scale", ["--rounds", "0"], "0 is less than 1"),
    ("apply_scale", ["--govcloud", "{missing}"], "is not a govcloud checkout"),
    ("apply_scale", ["--vs", "{missing}"], "is not a govcloud checkout"),
    ("exporter_load", ["-5", "--quick"], "-5 is less than 1"),
    ("exporter_load", ["--clients", "0"], "0 is less than 1"),
    ("exporter_load", ["--work", "{file}"], "is a file, not a folder"),
    ("exporter_load", ["--govcloud", "{missing}"], "is not a govcloud checkout"),
    ("portal", ["--departments", "-3"], "-3 is less than 1"),
    ("portal", ["--sessions", "-1"], "-1 is less than 1"),
    ("portal", ["--workers", "abc"], "'abc' is not a whole number"),
    ("portal", ["--think", "3"], "give MIN,MAX seconds"),
    ("portal", ["--think", "3,1"], "give 0 <= MIN <= MAX"),
    ("portal", ["--seconds", "nan"], "give more than 0"),
    ("portal", ["--work", "{file}"], "is a file, not a folder"),
]


@pytest.mark.parametrize("script,args,said", CASES,
                         ids=[f"{s}-{'_'.join(a)}" for s, a, _ in CASES])
def test_a_meaningless_argument_is_refused_before_anything_runs(
        script: str, args: list[str], said: str, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    given = [a.format(missing=tmp_path / "no-such-checkout", file=afile) for a in args]
    done = subprocess.run([sys.executable, f"benchmarks/{script}.py", *given], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout[-800:] + done.stderr[-800:]
    assert said in done.stderr and "usage:" in done.stderr, done.stderr[-800:]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing measured or prepared
