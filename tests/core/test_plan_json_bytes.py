"""Issue #24: ``plan -o json`` writes its text and the line's end apart (the text was copied
whole to add the newline: 105 MB more at 10,000 departments) and builds the plan's dicts with
the collector paused. What it prints must stay byte for byte what the plan's JSON is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from govcloud.applying import engine
from govcloud.core import jsontext
from tests.support.cli import _env
from tests.support.estate import copy_estate

NOW = {"GOVCLOUD_NOW": "2026-11-15T10:00:00Z"}


def test_plan_json_is_the_plans_json_byte_for_byte(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_estate(tmp_path / "estate")
    printed = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(root), "plan", "-o",
                              "json"], capture_output=True, env=_env(NOW), check=True,
                             stdin=subprocess.DEVNULL).stdout
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    with engine.session(root) as s:
        expected = jsontext.dumps(s.plan().as_dict()) + b"\n"
    assert b'"changes":[{' in printed and printed.count(b"\n") == 1
    assert printed == expected
