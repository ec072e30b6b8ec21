"""Scopes (#25): the pure rule of a subtree (core/hierarchy), the role a scoped directory
group gives, and a local account scoped with ``govcloud users add --scope``, checked at the
gate like a department is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from govcloud.core import hierarchy
from govcloud.core.directory import DirectorySettings, Member, decide
from govcloud.core.roles import check_account
from tests.support.cli import NOW, _env, one_line
from tests.support.estate import copy_estate

PARENTS = {"qingdao": "", "shinan": "qingdao", "laoshan": "qingdao", "finance": "shinan",
           "water": "shinan", "health": "laoshan", "loop-a": "loop-b", "loop-b": "loop-a"}


def test_a_subtree_is_the_organisation_and_everything_under_it() -> None:
    assert hierarchy.inside("finance", "shinan", PARENTS)
    assert hierarchy.inside("finance", "qingdao", PARENTS)
    assert hierarchy.inside("finance", "finance", PARENTS)
    assert not hierarchy.inside("health", "shinan", PARENTS)
    assert not hierarchy.inside("parks", "shinan", PARENTS)  # unknown to the tree: top only
    assert hierarchy.inside("parks", "", PARENTS)  # unscoped: everything
    assert not hierarchy.inside("loop-a", "shinan", PARENTS)  # a loop ends, never spins
    deps = ["finance", "water", "health", "parks"]
    assert hierarchy.reach("shinan", deps, PARENTS) == {"finance", "water"}
    assert hierarchy.reach("", deps, PARENTS) is None
    assert hierarchy.at_level("finance", 1, PARENTS) == "shinan"
    assert hierarchy.at_level("finance", 0, PARENTS) == "qingdao"
    assert hierarchy.at_level("parks", 1, PARENTS) == ""


def test_a_scoped_group_gives_its_role_in_the_persons_organisation() -> None:
    settings = DirectorySettings()
    deps = {"finance", "water"}

    def decided(groups: tuple[str, ...], org: str = "shinan") -> tuple[str | None, str]:
        d = decide(Member("x", "uid=x", "X", "", org, groups), settings, deps, {"shinan"})
        return d.role, d.subtree

    assert decided(("govcloud-org-operators",)) == ("operator", "shinan")
    assert decided(("govcloud-org-approvers", "govcloud-org-finance")) == ("finance", "shinan")
    assert decided(("govcloud-org-approvers",)) == ("approver", "shinan")
    # an unscoped oversight group outranks a scoped one; a scoped one a department role
    assert decided(("govcloud-org-auditors", "govcloud-operators")) == ("operator", "")
    assert decided(("govcloud-org-auditors", "govcloud-members"), "finance") == \
        ("auditor", "finance")
    assert decided(("govcloud-org-operators",), org="") == (None, "")  # no organisation
    # trial of #25: an organisation govcloud does not know (never synced, retired, or a
    # filter written into departmentNumber) gives no scope and no role: refused, saying why
    for org in ("*)(uid=*", "shinann"):
        d = decide(Member("x", "uid=x", "X", "", org, ("govcloud-org-operators",)), settings,
                   deps, {"shinan"})
        assert d.role is None and "is not one govcloud knows" in d.refusal, d
        assert "directory sync" in d.fix
    plain = decide(Member("x", "uid=x", "X", "", "", ("govcloud-org-operators",)), settings,
                   deps)
    assert plain.role is None and "govcloud-org-operators" in plain.fix  # the groups named


def test_a_scope_is_checked_like_a_department() -> None:
    orgs, deps = {"qingdao", "shinan"}, {"finance"}
    assert check_account("wang.fang", "operator", None, deps, "", "shinan", orgs) == []
    assert check_account("wang.fang", "approver", None, deps, "", "shinan", orgs) == []
    assert check_account("wang.fang", "auditor", None, deps, "", "finance", orgs) == []
    [member] = check_account("wang.fang", "member", None, deps, "", "shinan", orgs)
    assert "leave out --scope" in member
    [both] = check_account("wang.fang", "approver", "finance", deps, "", "shinan", orgs)
    assert "not both" in both
    [unknown] = check_account("wang.fang", "operator", None, deps, "", "shinann", orgs)
    assert "organisation 'shinann' is not known" in unknown and "qingdao" in unknown


def _users(estate: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), "users",
                           *args, "--password-stdin"], input="correct horse battery\n",
                          capture_output=True, text=True, env=_env(NOW), timeout=120)


def test_users_add_scope_names_a_synced_organisation(tmp_path: Path) -> None:
    from govcloud.core.directory import Change, Organisation
    from govcloud.estate import organisations
    from govcloud.state.store import Store

    estate = copy_estate(tmp_path / "estate")
    one_line(_users(estate, "add", "wang.fang", "--role", "operator", "--scope", "shinan"),
             "organisation 'shinan' is not known", "govcloud directory sync")
    store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    try:
        organisations.record(store, [Change("add", c, None, Organisation(c, c, p, "", c), "t")
                                     for c, p in (("qingdao", ""), ("shinan", "qingdao"))])
    finally:
        store.close()
    done = _users(estate, "add", "wang.fang", "--role", "operator", "--scope", "shinan")
    assert done.returncode == 0, done.stderr
    assert "Added wang.fang, operator of everything under shinan." in done.stdout
    one_line(_users(estate, "add", "li.na", "--role", "member", "--scope", "shinan"),
             "a member belongs to one department")
    # trial of #25: an empty --scope (a script's unset variable) made an estate-wide
    # operator; a retired organisation was taken as a scope
    empty = _users(estate, "add", "b8", "--role", "operator", "--scope", "")
    assert empty.returncode == 2 and "--scope" in empty.stderr and "is empty" in empty.stderr
    assert "Traceback" not in empty.stderr
    store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    try:
        organisations.record(store, [Change("retire", "shinan", Organisation(
            "shinan", "shinan", "qingdao", "", "shinan"), None, "t")])
    finally:
        store.close()
    one_line(_users(estate, "add", "b7", "--role", "auditor", "--scope", "shinan"),
             "organisation 'shinan' is not known")
