"""The directory's rules, pure (core/directory): the settings checked at validate with clear
errors, the one gate an organisation passes to become a department, the sync's diff, and the
role a person's groups give (issue #25). The real slapd is tests/core/test_directory.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud.core.directory import (
    DirectorySettings,
    Entry,
    Known,
    Member,
    Organisation,
    decide,
    organisations,
    plan_sync,
)
from tests.support.cli import govcloud
from tests.support.estate import copy_estate, edit

BASE = "dc=qingdao,dc=gov,dc=cn"


def _section(**over: str) -> str:
    values = {"url": "ldaps://ldap.qingdao.gov.cn", "start_tls": "false",
              "bind_dn": f"cn=govcloud,ou=services,{BASE}",
              "password_env": "GOVCLOUD_DIRECTORY_PASSWORD",
              "organisations_base": f"ou=organisations,{BASE}",
              "people_base": f"ou=people,{BASE}", "groups_base": f"ou=groups,{BASE}"} | over
    return "directory:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items() if v != "-")


@pytest.mark.parametrize(("over", "said"), [
    ({"url": "ldap://ldap.qingdao.gov.cn"}, "passwords would cross the network in clear"),
    ({"start_tls": "true"}, "start_tls is on for an ldaps:// URL"),
    ({"password_env": "-"}, "the bind password needs one source"),
    ({"password_file": "secret.txt"}, "the bind password needs one source"),
    ({"people_base": '""'}, "people_base is empty"),
    ({"url": "http://ldap.qingdao.gov.cn"}, "directory.url"),
    ({"password": "hunter2"}, "password"),  # no key for the password itself
])
def test_the_settings_are_checked_at_validate_with_the_fix(tmp_path: Path, over: dict[str, str],
                                                           said: str) -> None:
    estate = copy_estate(tmp_path / "estate", plans=False)
    edit(estate / "govcloud.yaml", "\nportal:", "\n" + _section(**over) + "portal:")
    done = govcloud("validate", estate=estate)
    assert done.returncode == 1 and said in done.stdout + done.stderr, done.stdout
    assert "Traceback" not in done.stderr


def test_good_settings_validate_and_plain_ldap_is_allowed_on_loopback(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate", plans=False)
    edit(estate / "govcloud.yaml", "\nportal:",
         "\n" + _section(url="ldap://127.0.0.1:3890") + "portal:")
    assert govcloud("validate", estate=estate).returncode == 0


def _entry(code: str, name: str = "局", cc: str = "CC-1", above: str = "") -> Entry:
    return Entry(f"ou={name},{above or BASE}", above or BASE, name, code, cc)


@pytest.mark.parametrize(("code", "name", "cc", "why"), [
    ("Finance", "财政局", "CC-1", "not a department id"),
    ("fin*)(ou=*", "财政局", "CC-1", "not a department id"),
    ("a", "财政局", "CC-1", "not a department id"),
    ("finance", "财政局\"; rm -rf /", "CC-1", "cannot be a department's name"),
    ("finance", "财政局\u202e", "CC-1", "cannot be a department's name"),
    ("finance", "", "CC-1", "cannot be a department's name"),
    ("finance", "财政局", "CC 1;", "is not one"),
])
def test_an_entry_that_cannot_be_a_department_is_reported_not_imported(
        code: str, name: str, cc: str, why: str) -> None:
    found, rejected = organisations([_entry(code, name, cc)])
    assert found == [] and len(rejected) == 1 and why in rejected[0].why


def test_a_code_used_twice_is_reported_and_parents_follow_the_tree() -> None:
    district = _entry("shinan", "市南区", "")
    dept = _entry("shinan-edu", "教育局", "CC-2", above=district.dn)
    twice = _entry("shinan-edu", "另一个", "CC-3")
    found, rejected = organisations([district, dept, twice])
    # trial of #25: one of the two was imported, and which district got the department
    # hung on the directory's order; neither is, until the directory is fixed
    assert [(o.code, o.parent, o.department) for o in found] == [("shinan", "", False)]
    assert [r.dn for r in rejected] == [dept.dn, twice.dn]
    assert all("also the code" in r.why for r in rejected)
    assert twice.dn in rejected[0].why and dept.dn in rejected[1].why


def test_parents_that_loop_are_refused_with_the_loop() -> None:
    """Trial of #25: with a parent attribute, a under b and b under a (or a under itself)
    were imported without a word."""
    def entry(code: str, parent: str) -> Entry:
        return Entry(f"ou={code},{BASE}", BASE, code, code, "", parent)

    found, rejected = organisations(
        [entry("cyc-a", "cyc-b"), entry("cyc-b", "cyc-a"), entry("self", "self"),
         entry("city", ""), entry("district", "city"), entry("under-a", "cyc-a")],
        by_dn_parent=False)
    assert {(o.code, o.parent) for o in found} == {("city", ""), ("district", "city"),
                                                   ("under-a", "")}
    loops = {r.code: r.why for r in rejected}
    assert set(loops) == {"cyc-a", "cyc-b", "self"}
    assert "cyc-a → cyc-b → cyc-a" in loops["cyc-a"] and "self → self" in loops["self"]


def test_a_refused_entry_is_not_retired() -> None:
    """Trial of #25: an organisation whose entry turned invalid (a 5,000-character cost
    centre) was retired as 'no longer in the directory' although it still is."""
    known = {"long-dept": Known(_org("long-dept")), "gone": Known(_org("gone"))}
    changes = plan_sync([], known, held={"long-dept"})
    assert [(c.action, c.code) for c in changes] == [("retire", "gone")]


def _org(code: str, name: str = "局", parent: str = "city", cc: str = "CC-1") -> Organisation:
    return Organisation(code, name, parent, cc, f"ou={name},{BASE}")


def test_the_code_is_the_identity_rename_move_retire_return() -> None:
    known = {"a": Known(_org("a", "甲")), "b": Known(_org("b")), "c": Known(_org("c")),
             "d": Known(_org("d"), left="2026-12-01T00:00:00Z"), "e": Known(_org("e"))}
    found = [_org("a", "乙"), _org("b", parent="district"), _org("d"), _org("e"),
             _org("f")]
    changes = {(c.action, c.code) for c in plan_sync(found, known)}
    assert changes == {("rename", "a"), ("move", "b"), ("retire", "c"), ("return", "d"),
                       ("add", "f")}
    assert plan_sync(found, {o.code: Known(o) for o in found}) == []  # synced: nothing


def test_roles_come_from_groups_in_the_persons_own_organisation() -> None:
    settings = DirectorySettings()
    deps = {"finance", "water"}

    def role(groups: tuple[str, ...], org: str = "finance") -> tuple[str | None, str | None]:
        d = decide(Member("x", "uid=x", "X", "", org, groups), settings, deps)
        return d.role, d.department

    assert role(("govcloud-approvers",)) == ("approver", "finance")
    assert role(("govcloud-members", "govcloud-operators")) == ("operator", None)
    assert role(("govcloud-members",), org="shinan") == (None, None)  # not a department
    assert role(("staff",)) == (None, None)
    refused = decide(Member("x", "uid=x", "X", "", "finance", ()), settings, deps)
    assert "no group" in refused.refusal and "govcloud-members" in refused.fix


def test_a_directory_that_does_not_answer_is_one_sentence_with_the_fix(tmp_path: Path) -> None:
    from tests.support.components import free_port

    estate = copy_estate(tmp_path / "estate", plans=False)
    edit(estate / "govcloud.yaml", "\nportal:",
         "\n" + _section(url=f"ldap://127.0.0.1:{free_port()}") + "portal:")
    done = govcloud("directory", "sync", estate=estate,
                    env={"GOVCLOUD_DIRECTORY_PASSWORD": "x"})
    assert done.returncode == 1 and "does not answer" in done.stderr, done.stderr
    assert "check directory.url" in done.stderr and "Traceback" not in done.stderr
    unset = govcloud("directory", "sync", estate=estate, env={"GOVCLOUD_DIRECTORY_PASSWORD": ""})
    assert unset.returncode == 1 and "GOVCLOUD_DIRECTORY_PASSWORD" in unset.stderr
    none = copy_estate(tmp_path / "plain", plans=False)
    said = govcloud("directory", "sync", estate=none)
    assert said.returncode == 1 and "names no directory" in said.stderr
