"""Plans from data: each folder under cases/ with a case.yaml is what an operator did to the
example estate on the sim cloud (apply, edit a plan, remove one, make a server by hand) and
what govcloud must then say: the exit status and the lines it prints, in order.

    plans: [approval]            # example plans in the estate (all when left out)
    steps:                       # in order
      - apply: [--prune]         # govcloud apply --yes --no-services [ARGS]
      - edit: plans/approval.yaml
        replace: {"flavor: m1.medium": "flavor: m1.large"}   # each old text must be there
      - remove: plans/finance.yaml
      - by-hand: {like: finance/server/fin-budget-app, name: hand-made,   # not via govcloud
                  set: {server_group: null}}
    checks:                      # each: a command, its exit status, lines it must print
      - run: [plan, --detailed-exitcode]
        exit: 2
        expect: ["    ~ resize server  …"]   # each a part of one line, in this order
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from govcloud.applying import engine
from govcloud.core.desired import Resource
from tests.support.cli import govcloud
from tests.support.estate import REPO, copy_estate

CASES = Path(__file__).parent / "cases"
PLAN_CASES = sorted(p.name for p in CASES.iterdir() if (p / "case.yaml").is_file())


def _step(step: dict[str, Any], estate: Path) -> None:
    if "apply" in step:
        govcloud("apply", "--yes", "--no-services", *(step["apply"] or []), estate=estate,
                 check=True)
    elif "edit" in step:
        path = estate / step["edit"]
        text = path.read_text()
        for old, new in step["replace"].items():
            assert old in text, f"{step['edit']} has no {old!r} to replace"
            text = text.replace(old, new)
        path.write_text(text)
    elif "remove" in step:
        (estate / step["remove"]).unlink()
    elif "by-hand" in step:
        made = step["by-hand"]
        with engine.session(estate) as s:
            model = next(r for r in s.driver.read() if r.key == made["like"])
            s.driver.create(Resource(model.kind, model.department, made["name"],
                                     {**model.attrs, **made.get("set", {})}))
    else:
        raise AssertionError(f"unknown step {step}")


def _in_order(expected: list[str], lines: list[str]) -> None:
    at = 0
    for want in expected:
        found = next((i for i in range(at, len(lines)) if want in lines[i]), None)
        assert found is not None, f"{want!r} not printed (after line {at}):\n" + \
            "\n".join(lines)
        at = found + 1


@pytest.mark.parametrize("case", PLAN_CASES)
def test_plan_case(case: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((CASES / case / "case.yaml").read_text())
    estate = copy_estate(tmp_path / "estate", plans="plans" not in spec)
    for name in spec.get("plans", []):
        shutil.copy(REPO / "plans" / f"{name}.yaml", estate / "plans")
    for step in spec.get("steps", []):
        _step(step, estate)
    for check in spec["checks"]:
        proc = govcloud(*check["run"], estate=estate, env=spec.get("env"))
        printed = (proc.stdout + proc.stderr).splitlines()
        assert proc.returncode == check["exit"], "\n".join(printed)
        _in_order(check.get("expect", []), printed)
        assert "Traceback" not in proc.stderr
