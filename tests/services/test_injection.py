"""A malicious domain, path, name or schedule never reaches a template or a command.

Two walls: validation refuses such a plan (every value that templates or commands use has a
pattern that excludes quotes, ';', braces, '..', whitespace and line breaks), and the
inventory, the only way a value reaches the playbooks, checks every value from the state
again, so even a tampered state store cannot smuggle one in.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from govcloud.core.desired import Resource
from govcloud.core.patterns import ABS_PATH, DNS, IDENT, NAME, URL
from govcloud.estate.loader import check_estate
from govcloud.services import inventory
from govcloud.services.inventory import InventoryError
from tests.support.estate import REPO, copy_estate
from tests.support.pyramid import sized

EVIL = ['x";rm -rf /;"', "a}b", "../../etc", "a\nb", "a'b", "a;b", "a b", "a{b", "a$(id)",
        "/srv/../etc/shadow", "/srv/data\n", "a`id`"]
DANGEROUS = set(";'\"{}`$\\\n\r\t <>|&")


def plan_with(path: tuple[Any, ...], value: str) -> dict[str, Any]:
    base = yaml.safe_load((REPO / "plans" / "approval.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(base)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


FIELDS = {
    ("department", "id"): "department.id",
    ("websites", 0, "domain"): "websites.0.domain",
    ("websites", 0, "upstream"): "websites.0.upstream",
    ("servers", 0, "name"): "servers.0.name",
    ("services", "antivirus", "schedule"): "services.antivirus.schedule",
}


@pytest.mark.parametrize("evil", EVIL)
@pytest.mark.parametrize("where", [*FIELDS, ("services", "backup", "paths", 0)])
def test_validation_refuses_malicious_values(tmp_path: Path, where: tuple[Any, ...],
                                             evil: str) -> None:
    estate = copy_estate(tmp_path / "estate", plans=False)
    (estate / "plans" / "evil.yaml").write_text(
        yaml.safe_dump(plan_with(where, evil), allow_unicode=True), encoding="utf-8")
    checked = check_estate(estate)
    assert checked.errors, (where, evil)
    assert not checked.plans  # nothing of the plan goes further


@settings(max_examples=sized(ci=300, dev=100), deadline=None)
@given(st.sampled_from([IDENT, NAME, DNS, ABS_PATH, URL]).flatmap(
    lambda p: st.tuples(st.just(p), st.from_regex(p, fullmatch=True))))
def test_what_the_patterns_accept_is_inert(case: tuple[str, str]) -> None:
    """300 generated values under CI=true, 100 elsewhere (tests/support/pyramid.py)."""
    pattern, value = case
    assert not DANGEROUS & set(value), (pattern, value)
    if pattern == ABS_PATH:  # no segment walks out of a folder
        assert not {".", ".."} & set(value.split("/")), value


def applied(**changes: Any) -> dict[str, Resource]:
    res = {
        "p": Resource("project", "finance", "finance", {"name": "青岛市财政局",
                                                         "zone": "intranet"}),
        "w": Resource("website", "finance", "czj.qingdao.gov.cn",
                      {"kind": "proxy", "upstream": "http://10.20.0.5:8080/", "zone":
                       "intranet"}),
        "a": Resource("antivirus", "finance", "finance", {"enabled": True,
                                                           "schedule": "0 3 * * *"}),
        "b": Resource("backup", "finance", "finance", {
            "enabled": True, "schedule": "30 1 * * *", "paths": ["/srv/data"],
            "retention": {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 0}}),
        "s": Resource("server", "finance", "web-01", {"antivirus": True}),
    }
    for key, (field, value) in changes.items():
        r = res[key]
        if field.startswith("attr:"):
            res[key] = Resource(r.kind, r.department, r.name, {**r.attrs, field[5:]: value})
        elif field == "name":
            res[key] = Resource(r.kind, r.department, value, r.attrs)
        elif field == "department":
            res[key] = Resource(r.kind, value, r.name, r.attrs)
        elif field == "paths":
            res[key] = Resource(r.kind, r.department, r.name, {**r.attrs, "paths": [value]})
        else:
            res[key] = Resource(r.kind, r.department, r.name, {**r.attrs, field: value})
    return {r.key: r for r in res.values()}


def test_a_clean_state_builds() -> None:
    deps = inventory.departments(applied(), "gc-")
    assert deps["finance"]["websites"][0]["domain"] == "czj.qingdao.gov.cn"


TARGETS = [("w", "name"), ("w", "upstream"), ("b", "paths"), ("a", "schedule"),
           ("b", "schedule"), ("s", "name"), ("p", "department"), ("w", "kind"),
           ("p", "attr:name")]
# The department's display name is free text: spaces and '..' are fine there (it is
# HTML-escaped where shown); quotes, ';', braces, '$' and control characters are not.
TAMPERED = [(evil, t) for t in TARGETS for evil in EVIL
            if t != ("p", "attr:name") or re.search(r"[;{}\"'`$\\<>|&\x00-\x1f]", evil)]


@pytest.mark.parametrize(("evil", "target"), TAMPERED)
def test_a_tampered_state_never_reaches_the_inventory(evil: str, target: tuple[str, str]
                                                      ) -> None:
    key, field = target
    with pytest.raises(InventoryError):
        inventory.departments(applied(**{key: (field, evil)}), "gc-")


def test_site_users_fit_linux_limits() -> None:
    assert inventory.site_user("gc-", "finance") == "gc-finance"
    long = inventory.site_user("gc-", "a" * 40)
    assert len(long) <= 32 and long.startswith("gc-a")
    assert long != inventory.site_user("gc-", "a" * 39 + "b")
