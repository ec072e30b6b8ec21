"""A department's backup paths lie apart (#22, case 5): no path inside another, none twice.

With ``["/srv", "/srv/data"]`` the backup host pulled /srv first (a server's link /srv/data
came along as a link) and then /srv/data through that link, out of the department's folder.
Validate refuses such a path; the inventory drops it from a state applied before the rule
(the outer path takes its files), by the one rule (``core.patterns.covered``); the pull
itself never writes through a link either (tests/services/test_department_servers.py, a
hostile server on the real rig)."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from govcloud.core.checks import check_plan
from govcloud.core.desired import Resource
from govcloud.core.documents import parse
from govcloud.core.model import Settings
from govcloud.estate.loader import check_estate
from govcloud.services import inventory
from tests.support.estate import REPO
from tests.support.pyramid import sized


@functools.cache
def _example() -> tuple[Settings, dict[str, Any]]:
    checked = check_estate(REPO)
    assert checked.settings is not None and not checked.errors
    return checked.settings, yaml.safe_load((REPO / "plans" / "finance.yaml").read_text(
        encoding="utf-8"))


@pytest.fixture
def example() -> tuple[Settings, dict[str, Any]]:
    return _example()


def validate(example: tuple[Settings, dict[str, Any]], paths: list[str]) -> list[Any]:
    """The errors validate finds in the finance plan with these backup paths."""
    estate_settings, base = example
    data = copy.deepcopy(base)
    data.setdefault("services", {}).setdefault("backup", {})["paths"] = paths
    doc, problems = parse(json.dumps(data, ensure_ascii=False), "plans/finance.yaml")
    assert doc is not None, problems
    result = check_plan(doc, problems, estate_settings, None)
    return [d for d in result.diagnostics if d.severity == "error"]


def test_validate_refuses_a_backup_path_inside_another(example: Any) -> None:
    errors = validate(example, ["/srv", "/srv/data"])
    assert [(e.path, e.message) for e in errors] == [
        ("services.backup.paths[1]",
         "backup path '/srv/data' lies inside '/srv', which is backed up already")]
    assert errors[0].hint == "remove '/srv/data': backing up '/srv' takes its files too"
    assert errors[0].line  # where in the file
    inner_first = validate(example, ["/srv/app/data", "/var/x", "/srv/app"])
    assert [e.path for e in inner_first] == ["services.backup.paths[0]"]
    twice = validate(example, ["/srv/data", "/srv/data"])
    assert [e.message for e in twice] == [
        "backup path '/srv/data' repeats '/srv/data', which is backed up already"]


def test_paths_that_only_share_a_prefix_are_apart(example: Any) -> None:
    assert validate(example, ["/srv/data", "/srv/data2", "/srv/dat", "/var/lib/app"]) == []


def test_the_inventory_drops_a_nested_path_a_state_still_holds() -> None:
    """A state applied before the rule still configures the services (the inventory does not
    refuse it, which would stop every department's), with the outer path only."""
    applied = {r.key: r for r in [
        Resource("project", "water", "water", {"name": "水务局", "zone": "intranet"}),
        Resource("backup", "water", "backup", {
            "enabled": True, "schedule": "30 1 * * *", "retention": {"daily": 7},
            "paths": ["/srv/app/data", "/srv/app", "/var/x", "/srv/app"]})]}
    deps = inventory.departments(applied, "gc-")
    assert deps["water"]["backup"]["paths"] == ["/srv/app", "/var/x"]


PATHS = st.lists(st.lists(st.sampled_from(["srv", "data", "app", "a", "data2"]), min_size=1,
                          max_size=3).map(lambda parts: "/" + "/".join(parts)),
                 min_size=1, max_size=4)


@settings(max_examples=sized(ci=300, dev=100), deadline=None)
@given(PATHS)
def test_validated_backup_paths_never_nest(paths: list[str]) -> None:
    """Whatever validate passes reaches the backup host as folders none of which holds
    another: each pull lands in a folder no other pull writes into."""
    errors = validate(_example(), paths)
    nested = any(a == b or b.startswith(a + "/")
                 for i, a in enumerate(paths) for j, b in enumerate(paths) if i != j)
    assert bool(errors) == nested, (paths, errors)

