"""A saved plan is data to check, not to trust: apply makes the plan afresh and refuses a file
that differs from it, naming the first difference; nothing of an edited file reaches the cloud.
Through the real CLI, on the sim cloud."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.core.desired import Resource
from tests.support.cli import govcloud
from tests.support.estate import copy_estate
from tests.support.estate import edit as shared_edit


def cloud(estate: Path) -> dict[str, Resource]:
    with engine.session(estate) as s:
        return {r.key: r for r in s.driver.read()}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate applied, then edited: finance wants a fourth budget app server
    (a create) and statistics a smaller survey flavor (an update); the plan saved."""
    estate = copy_estate(tmp_path_factory.mktemp("saved") / "estate")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    edit(estate / "plans" / "finance.yaml", "flavor: m1.large\n    image: kylin-v10-sp3\n"
         "    count: 3", "flavor: m1.large\n    image: kylin-v10-sp3\n    count: 4")
    edit(estate / "plans" / "statistics.yaml", "flavor: m1.large", "flavor: m1.small")
    govcloud("plan", "--out", str(estate / "saved.json"), estate=estate, check=True)
    return estate


def edit(path: Path, old: str, new: str) -> None:
    shared_edit(path, old, new, count=None)


@pytest.fixture
def estate(prepared: Path, tmp_path: Path) -> Path:
    """A copy of the prepared estate, its state store included."""
    return Path(shutil.copytree(prepared, tmp_path / "estate"))


def change(plan: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in plan["changes"] if c["key"] == key)


def quota_cores(plan: dict[str, Any]) -> None:
    c = change(plan, "finance/quota/finance")
    c["action"], c["after"]["attrs"]["cores"] = "update", 99999


def huge_small(plan: dict[str, Any]) -> None:
    c = change(plan, "statistics/server/tj-survey-app")
    assert c["action"] == "replace" and c["after"]["attrs"]["flavor"] == "m1.small"
    c["after"]["attrs"].update(vcpus=48, ram_gb=384)


def protect(plan: dict[str, Any]) -> None:
    change(plan, "finance/server/fin-budget-app-4")["after"]["protected"] = True


def hacked_flavor(plan: dict[str, Any]) -> None:
    change(plan, "finance/server/fin-budget-app-4")["after"]["attrs"]["flavor"] = "m1.hacked"


@pytest.mark.parametrize("tamper, where", [
    (quota_cores, "changes[{i}].action (change of finance/quota/finance): \"update\" in the "
                  "file, \"no-op\" in a fresh plan"),
    (huge_small, "changes[{i}].after.attrs.vcpus (change of statistics/server/tj-survey-app):"
                 " 48 in the file, 1 in a fresh plan"),
    (protect, "changes[{i}].after.protected (change of finance/server/fin-budget-app-4): true "
              "in the file, false in a fresh plan"),
    (hacked_flavor, "changes[{i}].after.attrs.flavor (change of finance/server/fin-budget-app-4):"
                    " \"m1.hacked\" in the file, \"m1.large\" in a fresh plan"),
], ids=["quota-cores-99999", "m1.small-with-48-vcpus", "protected-true", "flavor-m1.hacked"])
def test_an_edited_saved_plan_is_refused_naming_the_first_difference(
        estate: Path, tamper: Callable[[dict[str, Any]], None], where: str) -> None:
    saved = json.loads((estate / "saved.json").read_text())
    before = cloud(estate)
    tamper(saved)
    keys = [c["key"] for c in saved["changes"]]
    key = where.split("change of ")[1].split(")")[0]
    edited = estate / "edited.json"
    edited.write_text(json.dumps(saved, ensure_ascii=False, indent=1))
    proc = govcloud("apply", str(edited), "--yes", "--no-services", estate=estate)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Internal error" not in proc.stderr
    assert (f"Error: {edited} differs from the plan the current plans, policies and cloud "
            f"give, first at {where.format(i=keys.index(key))} (the file was edited or "
            "damaged) — make a new plan with govcloud plan --out FILE and review it; nothing "
            "was applied") in proc.stderr
    assert cloud(estate) == before  # nothing of it reached the cloud
    # The file as saved is still good, and applies exactly what it shows.
    proc = govcloud("apply", str(estate / "saved.json"), "--yes", "--no-services",
                    estate=estate)
    assert proc.returncode == 0, proc.stderr
    after = cloud(estate)
    assert after["finance/quota/finance"].attrs["cores"] == 48
    assert after["statistics/server/tj-survey-app"].attrs["vcpus"] == 1
    assert after["finance/server/fin-budget-app-4"].attrs["flavor"] == "m1.large"
    assert after["finance/server/fin-budget-app-4"].protected is False
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 0


def test_a_plan_saved_before_the_plans_changed_is_refused(estate: Path) -> None:
    edit(estate / "plans" / "finance.yaml", "count: 4", "count: 5")
    proc = govcloud("apply", str(estate / "saved.json"), "--yes", "--no-services",
                    estate=estate)
    assert proc.returncode == 1
    assert (f"Error: {estate / 'saved.json'} was made from other plans, policies or settings "
            "than the estate's current ones — make a new plan") in proc.stderr
    assert "finance/server/fin-budget-app-4" not in cloud(estate)


@pytest.mark.parametrize("content, message", [
    ('{"format": 1, "changes": []}', " is not a saved govcloud plan of format 3"),
    ("[1, 2]", " is not a saved govcloud plan of format 3"),
    ('{"format": 2', ":1: not a saved govcloud plan (invalid JSON)"),
    ("[" * 100_000 + "]" * 100_000, " is not a saved govcloud plan (RecursionError)"),
    ('{"format": 2, "n": ' + "9" * 5000 + "}", " is not a saved govcloud plan (ValueError)"),
], ids=["format-1", "a-list", "truncated", "deeply-nested", "over-long-number"])
def test_a_file_that_is_not_a_saved_plan_is_refused(estate: Path, content: str,
                                                     message: str) -> None:
    path = estate / "other.json"
    path.write_text(content)
    proc = govcloud("apply", str(path), "--yes", "--no-services", estate=estate)
    assert proc.returncode == 1
    assert f"Error: {path}{message}" in proc.stderr
    assert "Traceback" not in proc.stderr
