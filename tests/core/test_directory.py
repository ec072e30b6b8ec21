"""The LDAP directory against a real OpenLDAP server (the suite's slapd, directory/example.ldif):
govcloud directory sync of a generated tree of three levels and 100 organisations, then a
rename, a move between districts and a removal (flagged, nothing deleted); sign-in to the
portal by bind, a locked account refused, a role change followed within the re-read interval,
LDAP injection in names refused (issue #25)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.access.directory import LOCKED_MESSAGE, Directory
from govcloud.core.directory import DirectorySettings
from govcloud.portal.i18n import translator
from govcloud.state.store import Store
from tests.support.cli import govcloud
from tests.support.directory import (
    PEOPLE_PASSWORD,
    SERVICE,
    SERVICE_PASSWORD,
    SUFFIX,
    Slapd,
    admin,
    org,
    point_at,
    subtree,
)
from tests.support.estate import copy_estate

pytestmark = [pytest.mark.real, pytest.mark.slapd]
ENV = {"GOVCLOUD_DIRECTORY_PASSWORD": SERVICE_PASSWORD}


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_DIRECTORY_PASSWORD", SERVICE_PASSWORD)


def _sync(estate: Path, *args: str) -> dict[str, Any]:
    done = govcloud("directory", "sync", "-o", "json", *args, estate=estate, env=ENV)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _generated(slapd: Slapd) -> str:
    """A city, 3 districts and 32 departments in each: 100 organisations, and one entry
    whose code is no department id."""
    base = subtree(slapd)
    with admin(slapd) as conn:
        city = f"ou=城市,{base}"
        org(conn, city, "城市", "city")
        for d in range(3):
            district = f"ou=区{d},{city}"
            org(conn, district, f"区{d}", f"district-{d}")
            for n in range(32):  # "ou" holds the name the entry is named by, and another
                org(conn, f"ou=局{d}-{n},{district}", f"区{d}第{n}局", f"dept-{d}-{n}",
                    f"CC-9{d}{n:02d}")
        org(conn, f"ou=坏,{city}", "坏", "Bad_Code*)(ou=*", "CC-9999")
    return base


def _ids(estate: Path) -> set[str]:
    return {p.stem for p in (estate / "plans").glob("*.yaml")}


def test_sync_of_a_generated_tree_then_a_rename_a_move_and_a_removal(
        slapd: Slapd, tmp_path: Path) -> None:
    base = _generated(slapd)
    estate = point_at(copy_estate(tmp_path / "estate", plans=False), slapd,
                      organisations_base=base)
    shown = _sync(estate)  # a dry run: nothing written
    assert shown["organisations"] == 100 and not shown["applied"]
    assert sorted({c["action"] for c in shown["changes"]}) == ["add"]
    assert len(shown["skeletons"]) == 96 and _ids(estate) == set()
    assert [r["code"] for r in shown["rejected"]] == ["Bad_Code*)(ou=*"]
    assert "not a department id" in shown["rejected"][0]["why"]

    done = _sync(estate, "--yes")
    assert done["applied"] and len(done["written"]) == 96
    assert len(_ids(estate)) == 96 and "bad_code" not in " ".join(_ids(estate))
    plan = (estate / "plans" / "dept-1-5.yaml").read_text()
    assert 'name: "局1-5"' in plan and "cost_centre: CC-9105" in plan and "#" in plan
    assert govcloud("validate", estate=estate).returncode == 0
    assert _sync(estate)["changes"] == []  # synced: nothing more to do

    with admin(slapd) as conn:  # a rename, a move between districts, a removal
        city = f"ou=城市,{base}"
        conn.modify_dn(f"ou=局0-1,ou=区0,{city}", "ou=改名局")
        conn.modify_dn(f"ou=局0-2,ou=区0,{city}", "ou=局0-2", new_superior=f"ou=区2,{city}")
        conn.delete(f"ou=局0-3,ou=区0,{city}")
    shown = _sync(estate)
    assert {(c["action"], c["code"]) for c in shown["changes"]} == {
        ("rename", "dept-0-1"), ("move", "dept-0-2"), ("retire", "dept-0-3")}
    moved = next(c for c in shown["changes"] if c["action"] == "move")
    assert (moved["before"]["parent"], moved["after"]["parent"]) == ("district-0",
                                                                     "district-2")
    _sync(estate, "--yes")
    renamed = (estate / "plans" / "dept-0-1.yaml").read_text()
    assert 'name: "改名局"' in renamed and "id: dept-0-1" in renamed  # the id kept
    assert "# never change it" in renamed  # the comments kept
    assert (estate / "plans" / "dept-0-3.yaml").exists()  # flagged, never deleted
    store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    try:
        left = store.query("SELECT left_at FROM organisations WHERE code = 'dept-0-3'")
        assert left and left[0][0]
        parent = store.query("SELECT parent FROM organisations WHERE code = 'dept-0-2'")
        assert parent == [("district-2",)]
        actions = {r[0] for r in store.query("SELECT action FROM audit WHERE subject IN "
                                             "('dept-0-1', 'dept-0-2', 'dept-0-3')")}
        assert {"directory rename", "directory move", "directory retire"} <= actions
    finally:
        store.close()
    planned = govcloud("plan", "-o", "json", estate=estate, env=ENV)
    assert planned.returncode in (0, 2), planned.stderr
    deletes = [c for c in json.loads(planned.stdout)["changes"]
               if c["action"] == "delete" and c.get("department") == "dept-0-3"]
    assert deletes == []  # the retired department's plan is still there: nothing deleted
    assert govcloud("audit", "verify", estate=estate).returncode == 0

    # trial of #25: a directory code that is already a department here (its plan written by
    # hand, never synced) was taken over silently; an entry turned invalid was retired
    hand = (estate / "plans" / "dept-2-31.yaml").read_text().replace("dept-2-31", "handmade")
    (estate / "plans" / "handmade.yaml").write_text(
        hand.replace('name: "局2-31"', 'name: "手工局"').replace("CC-9231", "CC-7777"))
    with admin(slapd) as conn:
        city = f"ou=城市,{base}"
        org(conn, f"ou=目录局,ou=区1,{city}", "目录局", "handmade", "CC-7778")
        conn.modify(f"ou=局1-7,ou=区1,{city}",
                    {"govcloudCostCentre": [("MODIFY_REPLACE", ["CC-" + "9" * 5000])]})
    shown = _sync(estate)
    assert {(c["action"], c["code"]) for c in shown["changes"]} == {
        ("rename", "handmade"), ("move", "handmade"), ("update", "handmade")}, shown["changes"]
    assert [r["code"] for r in shown["rejected"]] == ["Bad_Code*)(ou=*", "dept-1-7"]


# ---- the portal: sign-in by bind ------------------------------------------------------------

@pytest.fixture(scope="module")
def synced(slapd: Slapd, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate with the example directory synced into it (its departments'
    plans written), people re-read every second."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_DIRECTORY_PASSWORD", SERVICE_PASSWORD)
        estate = point_at(copy_estate(tmp_path_factory.mktemp("dir") / "estate"), slapd,
                          reread=1)
        done = _sync(estate, "--yes")
    assert {"shinan-edu", "laoshan-edu", "water"} <= set(done["skeletons"])
    return estate


def _client(estate: Path) -> Any:
    from starlette.testclient import TestClient

    from govcloud.portal.app import create_app

    return TestClient(create_app(estate, secret="test-secret"), base_url="http://testserver",
                      follow_redirects=False)


def _sign_in(c: Any, name: str, password: str = PEOPLE_PASSWORD) -> Any:
    from tests.portal.conftest import csrf_of

    form = c.get("/login")
    return c.post("/login", data={"name": name, "password": password,
                                  "csrf": csrf_of(form.text), "next": "/"})


def _person(estate: Path, name: str) -> users.Person | None:
    store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    try:
        return users.find(store, name)
    finally:
        store.close()


def test_sign_in_by_bind_gives_the_role_of_the_groups(synced: Path) -> None:
    c = _client(synced)
    r = _sign_in(c, "li.wei")
    assert r.status_code == 303 and r.headers["location"] == "/", r.text[:300]
    person = _person(synced, "li.wei")
    assert person is not None and (person.role, person.department, person.origin) == (
        "approver", "shinan-edu", "directory")
    assert person.directory_dn == f"uid=li.wei,ou=people,{SUFFIX}"
    store = Store(f"sqlite:///{synced}/.state/govcloud.db", synced)
    try:  # govcloud keeps no password: the row names the entry
        held = store.query("SELECT password FROM users WHERE name = 'li.wei'")[0][0]
    finally:
        store.close()
    assert held == "!directory:" + person.directory_dn
    assert _sign_in(_client(synced), "li.wei", "wrong").status_code == 401


def test_a_locked_directory_account_is_refused_saying_so(synced: Path) -> None:
    r = _sign_in(_client(synced), "sun.li")  # pwdAccountLockedTime (ppolicy)
    assert r.status_code == 401  # said in the page's language (zh-CN here)
    zh = translator("zh")
    assert zh(LOCKED_MESSAGE[0]) != LOCKED_MESSAGE[0], "the catalogue has the message"
    assert zh(LOCKED_MESSAGE[0]) in r.text and zh(LOCKED_MESSAGE[1]) in r.text
    assert _person(synced, "sun.li") is None


@pytest.mark.parametrize("name", ["*", "wang*", "*)(uid=*", "wang.fang)(|(uid=*",
                                  "wang.fang\x00", "*)(objectClass=*))(|(uid=*"])
def test_ldap_injection_in_the_name_signs_in_nobody(synced: Path, name: str) -> None:
    # Every example person's password is the same: an unescaped "wang*" would find
    # wang.fang alone and bind as her.
    r = _sign_in(_client(synced), name)
    assert r.status_code == 401 and "location" not in r.headers
    assert _person(synced, "wang.fang") is None


def test_an_empty_password_is_no_anonymous_bind(synced: Path) -> None:
    assert _sign_in(_client(synced), "chen.jie", "").status_code in (400, 401)
    assert _person(synced, "chen.jie") is None


def test_a_role_change_takes_effect_within_the_reread_interval(synced: Path,
                                                               slapd: Slapd) -> None:
    c = _client(synced)
    assert _sign_in(c, "chen.jie").status_code == 303
    assert _person(synced, "chen.jie").role == "member"  # type: ignore[union-attr]
    members = f"cn=govcloud-members,ou=groups,{SUFFIX}"
    approvers = f"cn=govcloud-approvers,ou=groups,{SUFFIX}"
    dn = f"uid=chen.jie,ou=people,{SUFFIX}"
    with admin(slapd) as conn:
        conn.modify(approvers, {"member": [("MODIFY_ADD", [dn])]})
    try:
        time.sleep(1.1)  # reread_seconds: 1
        assert c.get("/").status_code == 200
        assert _person(synced, "chen.jie").role == "approver"  # type: ignore[union-attr]
        with admin(slapd) as conn:  # no group left: the session ends
            conn.modify(approvers, {"member": [("MODIFY_DELETE", [dn])]})
            conn.modify(members, {"member": [("MODIFY_DELETE", [dn])]})
        time.sleep(1.1)
        r = c.get("/")
        assert r.status_code in (302, 303, 401) or "/login" in r.text
    finally:
        with admin(slapd) as conn:
            conn.modify(members, {"member": [("MODIFY_ADD", [dn])]})


def test_ldaps_and_start_tls_with_the_ca(slapd: Slapd, tmp_path: Path) -> None:
    for url, start_tls in ((slapd.ldaps_url, False), (slapd.url, True)):
        found = Directory(DirectorySettings(
            url=url, start_tls=start_tls, ca_file=str(slapd.folder / "ca.pem"),
            bind_dn=SERVICE, password_env="GOVCLOUD_DIRECTORY_PASSWORD",
            people_base=f"ou=people,{SUFFIX}", groups_base=f"ou=groups,{SUFFIX}"), tmp_path)
        member = found.identify("zhao.min", PEOPLE_PASSWORD)
        assert getattr(member, "groups", None) == ("govcloud-finance",), (url, member)


def test_the_second_factor_still_applies_to_a_directory_approver(synced: Path) -> None:
    settings = synced / "govcloud.yaml"
    before = settings.read_text()
    settings.write_text(before.replace("  second_factor: []\n",
                                       "  second_factor: [approver]\n"))
    try:
        r = _sign_in(_client(synced), "li.wei")
        assert r.status_code == 303 and r.headers["location"].startswith(
            "/login/second-factor"), r.headers
    finally:
        settings.write_text(before)


def test_the_sync_shows_and_applies_a_persons_role_change(synced: Path, slapd: Slapd) -> None:
    from govcloud.estate import organisations

    assert _sign_in(_client(synced), "zhao.min").status_code == 303
    assert _person(synced, "zhao.min").role == "finance"  # type: ignore[union-attr]
    dn = f"uid=zhao.min,ou=people,{SUFFIX}"
    operators = f"cn=govcloud-operators,ou=groups,{SUFFIX}"
    with admin(slapd) as conn:  # operator outranks finance
        conn.modify(operators, {"member": [("MODIFY_ADD", [dn])]})
    try:
        found = organisations.plan(synced)
        assert [(r.before, r.after) for r in found.roles if r.name == "zhao.min"] == [
            (("finance", None), ("operator", None))]
        organisations.apply(synced, found, "test")
        assert _person(synced, "zhao.min").role == "operator"  # type: ignore[union-attr]
        assert "zhao.min" not in {r.name for r in organisations.plan(synced).roles}
    finally:
        with admin(slapd) as conn:
            conn.modify(operators, {"member": [("MODIFY_DELETE", [dn])]})
        back = [r.after for r in organisations.plan(synced).roles if r.name == "zhao.min"]
        assert back == [("finance", None)]
