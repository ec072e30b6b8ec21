"""Validation from data: each folder under cases/ holds estate files and the exact diagnostics
`govcloud validate` must print for them (file:line: key.path: what — how to fix).

A case's files go over a copy of the example estate: ``plans/`` (without it, the example's
plans), ``govcloud.yaml`` (replaces the settings) and ``policies/`` (added to the shipped
ones). ``expected.txt`` lists every diagnostic line printed for those files, in order.
Folders with a case.yaml instead are plan cases (test_plan_cases.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import govcloud
from tests.support.estate import copy_estate, edit, line_of

CASES = Path(__file__).parent / "cases"


DIAGNOSTIC_PREFIXES = ("plans/", "policies/", "govcloud.yaml")


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()
                                        if (p / "expected.txt").is_file()))
def test_case(case: str, tmp_path: Path) -> None:
    folder = CASES / case
    estate = copy_estate(tmp_path / "estate", plans=not (folder / "plans").is_dir())
    for part in ("plans", "policies"):
        if (folder / part).is_dir():
            shutil.copytree(folder / part, estate / part, dirs_exist_ok=True)
    if (folder / "govcloud.yaml").is_file():
        shutil.copy(folder / "govcloud.yaml", estate / "govcloud.yaml")
    expected = (folder / "expected.txt").read_text().splitlines()
    proc = govcloud("validate", estate=estate)
    printed = [line for line in (proc.stdout + proc.stderr).splitlines()
               if line.startswith(DIAGNOSTIC_PREFIXES)]
    assert printed == expected
    assert "Traceback" not in proc.stderr
    assert proc.returncode == (1 if expected else 0)


def test_oversize_file(empty_estate: Path) -> None:
    big = empty_estate / "plans" / "big.yaml"
    big.write_text("department:\n  id: big\n" + "# padding\n" * 120_000)
    proc = govcloud("validate", estate=empty_estate)
    assert proc.returncode == 1
    assert ("plans/big.yaml:1: file is 1,200,022 bytes, over the 1,000,000-byte limit — split "
            "it or remove what does not belong in a tenancy plan") in proc.stderr


def test_every_problem_in_every_file_at_once(empty_estate: Path) -> None:
    """Problems in several files come out together in one run, sorted by file and line."""
    for case in ("unknown-key", "wrong-type", "invalid-dns"):
        plan = empty_estate / "plans" / f"{case}.yaml"
        shutil.copy(CASES / case / "plans" / "water.yaml", plan)
        n = case.replace("-", "")  # one department per file: its own id, names, cost centre
        for old, new in (("id: water", f"id: water{n}"), ("sw-app", f"sw{n}"),
                         ("swj", f"swj{n}"), ("CC-3001", f"CC-{len(n)}1")):
            edit(plan, old, new)
    proc = govcloud("validate", estate=empty_estate)
    assert proc.returncode == 1
    files = [line.split(":")[0] for line in proc.stderr.splitlines() if line.startswith("plans")]
    assert files == ["plans/invalid-dns.yaml", "plans/unknown-key.yaml", "plans/wrong-type.yaml"]


def test_broken_policy_is_reported_with_its_line(empty_estate: Path) -> None:
    shutil.copytree(CASES / "valid" / "plans", empty_estate / "plans", dirs_exist_ok=True)
    (empty_estate / "policies" / "local.yaml").write_text(
        "rules:\n  - id: broken\n    expression: plan.quota.cores >=\n    message: x\n")
    proc = govcloud("validate", estate=empty_estate)
    assert proc.returncode == 1
    assert "policies/local.yaml:3: rules[0].expression: rule 'broken' does not compile" in \
        proc.stderr


def test_settings_errors_are_reported(empty_estate: Path) -> None:
    settings = empty_estate / "govcloud.yaml"
    original = settings.read_text()
    edit(settings, "headroom: 0.8", "headroom: 1.8")
    proc = govcloud("validate", estate=empty_estate)
    assert proc.returncode == 1
    line = line_of(settings, "headroom: 1.8")
    assert (f"govcloud.yaml:{line}: host_pool.headroom: 1.8 is above the maximum 1 — use a "
            "value of at most 1") in proc.stderr
    settings.write_text(original)
    edit(settings, "x86-2s-mem: 4", "x86-2s-mme: 4")
    proc = govcloud("validate", estate=empty_estate)
    line = line_of(settings, "x86-2s-mme")
    assert (f"govcloud.yaml:{line}: host_pool.hosts.intranet.x86-2s-mme: unknown host class "
            "'x86-2s-mme' — did you mean 'x86-2s-mem'?") in proc.stderr


def test_a_role_listed_twice_and_a_yes_for_a_list_are_explained(empty_estate: Path) -> None:
    """Found in the #21 trial: ``second_factor: [operator, operator]`` was accepted (the
    schema's uniqueItems was not checked) and ``second_factor: yes`` read "got true"."""
    settings = empty_estate / "govcloud.yaml"
    original = settings.read_text()
    edit(settings, "second_factor: []", "second_factor: [operator, finance, operator]")
    proc = govcloud("validate", estate=empty_estate)
    line = line_of(settings, "second_factor:")
    assert proc.returncode == 1
    assert (f"govcloud.yaml:{line}: portal.second_factor: 'operator' is listed twice — list "
            "each item once") in proc.stderr
    settings.write_text(original)
    edit(settings, "second_factor: []", "second_factor: yes")
    proc = govcloud("validate", estate=empty_estate)
    assert proc.returncode == 1
    assert "got true (a boolean; YAML reads yes/no/on/off as true/false)" in proc.stderr
