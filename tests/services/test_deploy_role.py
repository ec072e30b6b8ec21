"""The deploy role's variables, read as files (no Ansible run: tests/services/test_deploy.py
runs it): every variable the role uses is set in its defaults (or vars) and every group of
defaults is explained by a comment; every periodic job has its timer's schedule and a row in
docs/operations.md."""

from __future__ import annotations

import re

import yaml

from tests.support.estate import REPO

ROLE = REPO / "playbooks" / "roles" / "govcloud_control"
REGISTERED = {"govcloud_control_cloned"}


def _defaults() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    return data


def _jobs() -> list[dict[str, object]]:
    jobs: list[dict[str, object]] = yaml.safe_load(
        (ROLE / "vars/main.yml").read_text())["govcloud_control_jobs"]
    return jobs


def test_every_variable_the_role_uses_is_set_in_its_defaults() -> None:
    used = {name for f in ROLE.rglob("*") if f.is_file() and f.suffix in (".yml", ".j2")
            for name in re.findall(r"\bgovcloud_control_\w+", f.read_text())}
    known = set(_defaults()) | {"govcloud_control_jobs"} | REGISTERED
    assert used - known == set()
    assert set(_defaults()) - used == set()  # and none is set for nothing


def test_every_group_of_defaults_begins_with_its_comment() -> None:
    paragraphs = (ROLE / "defaults/main.yml").read_text().split("\n\n")
    bare = [p.splitlines()[0] for p in paragraphs
            if re.search(r"^govcloud_control_\w+:", p, re.M) and not p.startswith("#")]
    assert bare == []


def test_every_job_has_a_schedule_and_a_row_in_the_runbook() -> None:
    names = [str(job["name"]) for job in _jobs()]
    timers = _defaults()["govcloud_control_timers"]
    assert isinstance(timers, dict) and sorted(timers) == sorted(names)
    runbook = (REPO / "docs" / "operations.md").read_text()
    assert [n for n in names if f"| `govcloud-{n}.timer` |" not in runbook] == []
