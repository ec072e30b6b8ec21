"""govcloud API tokens (govcloud.access.tokens, ``govcloud tokens``): shown once, kept only
as a hash, scoped to a role and department on /api/* with a Bearer header, refused on pages,
and revocable at once; through the CLI and the portal (Starlette TestClient)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import tokens, users
from govcloud.audit import trail
from govcloud.errors import GovcloudError
from tests.portal.conftest import (
    OTHER,
    OWN,
    PASSWORD,
    Site,
    account,
    client,
    csrf_of,
    sign_in,
)
from tests.support.cli import govcloud, one_line


def _bearer(text: str) -> dict[str, str]:
    return {"authorization": f"Bearer {text}"}


def test_a_member_token_reads_and_files_for_its_department_only(site: Site) -> None:
    store = site.store()
    try:
        token, text = tokens.add(store, {OWN, OTHER}, account("member"), "dashboard", "test",
                                  scope="write")
        kept = store.query("SELECT digest FROM tokens WHERE id = ?", (token.id,))[0][0]
        assert kept == hashlib.sha256(text.encode()).hexdigest()
        assert text not in json.dumps(store.query("SELECT * FROM tokens")) + \
            json.dumps([e.as_dict() for e in trail.entries(store)])
        assert trail.latest(store, 1)[0].action == "token add"
    finally:
        store.close()
    c: Any = client(site)
    me = c.get("/api/me", headers=_bearer(text)).json()
    assert (me["name"], me["role"], me["department"]) == (f"token:{token.id}", "member", OWN)
    assert c.get(f"/api/departments/{OWN}", headers=_bearer(text)).json()["id"] == OWN
    for path in (f"/api/departments/{OTHER}", "/api/estate", "/api/users", "/api/audit"):
        assert c.get(path, headers=_bearer(text)).status_code == 403, path
    # no CSRF token with a Bearer token: it is not a cookie a browser sends by itself
    ask = {"kind": "quota", "reason": "token test", "quota": {"cores": 60}}
    r = c.post(f"/api/departments/{OWN}/requests/dry-run", json=ask, headers=_bearer(text))
    assert r.status_code == 200 and r.json()["department"] == OWN, r.text[:500]
    r = c.post(f"/api/departments/{OTHER}/requests/dry-run", json=ask, headers=_bearer(text))
    assert r.status_code == 403
    # pages are for people: a Bearer header there is no sign-in
    r = c.get(f"/departments/{OWN}", headers=_bearer(text))
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for wrong in (text[:-1] + ("A" if text[-1] != "A" else "B"), "gct_x_y", text.upper(),
                  "x" * 5000):
        r = c.get("/api/me", headers=_bearer(wrong))
        assert r.status_code == 401 and "unknown, revoked" in r.json()["error"], wrong
    assert c.get("/api/me", headers=_bearer("")).status_code == 401
    # an X-Auth-Token header beside it (a Keystone token: this driver has none) changes
    # nothing: the Bearer token is the credential (it was a 500 from the driver)
    r = c.get("/api/me", headers=_bearer(text) | {"x-auth-token": "gAAAA-not-keystone"})
    assert r.status_code == 200 and r.json()["name"] == f"token:{token.id}", r.text[:500]
    store = site.store()
    try:
        tokens.revoke(store, token.id, "test", "no longer needed")
        with pytest.raises(GovcloudError, match="already revoked"):
            tokens.revoke(store, token.id, "test", "again")
    finally:
        store.close()
    assert c.get("/api/me", headers=_bearer(text)).status_code == 401


def test_an_operator_token_and_the_checks_of_a_new_one(site: Site) -> None:
    store = site.store()
    try:
        _, text = tokens.add(store, {OWN, OTHER}, account("auditor"), "", "test",
                             scope="write")
        for owner, kw, words in (
                ("nobody", {}, "'nobody' is no account of the portal"),
                (account("member"), {"role": "operator"},
                 "member.one is member, so their token cannot act as operator"),
                (account("member"), {"department": OTHER},
                 f"belongs to {OWN}, not {OTHER}"),
                (account("auditor"), {"department": OWN}, "belongs to no department"),
                (account("finance"), {"scope": "admin"}, "scope 'admin' is unknown"),
                (account("finance"), {"days": 366}, "a token lasts 1 to 365 days, not 366"),
                (account("finance"), {"days": 40, "max_days": 30},
                 "1 to 30 days, not 40"),
                (account("finance"), {"days": 0}, "not 0")):
            with pytest.raises(GovcloudError, match=words):
                tokens.add(store, {OWN, OTHER}, owner, "", "test", **kw)
        for label, words in (("x" * 201, "the label is 201 characters long"),
                             ("ERP\nexport", "has a line break")):
            with pytest.raises(GovcloudError, match=words):  # refused, never cut or kept
                tokens.add(store, {OWN, OTHER}, account("finance"), label, "test")
        assert tokens.add(store, {OWN, OTHER}, account("finance"), "y" * 200,
                          "test")[0].label == "y" * 200
        with pytest.raises(GovcloudError, match="needs a reason"):
            tokens.revoke(store, "nope", "test", " ")
        with pytest.raises(GovcloudError, match="no token"):
            tokens.revoke(store, "nope", "test", "typo")
    finally:
        store.close()
    c: Any = client(site)
    assert c.get("/api/audit", headers=_bearer(text)).status_code == 200
    assert c.get(f"/api/departments/{OTHER}", headers=_bearer(text)).status_code == 200
    ask = {"kind": "quota", "reason": "x", "quota": {"cores": 60}}
    r = c.post(f"/api/departments/{OWN}/requests", json=ask, headers=_bearer(text))
    assert r.status_code == 403  # an auditor files nothing, with a token as without


def test_tokens_through_the_cli(site: Site) -> None:
    made = govcloud("tokens", "add", "--owner", account("finance"), "--label", "ERP export",
                    estate=site.estate, check=True)
    text = made.stdout.strip()
    assert text.startswith("gct_") and "shown only now" in made.stderr
    listed = govcloud("tokens", "list", estate=site.estate, check=True).stdout
    assert "ERP export" in listed and "finance" in listed and text not in listed
    found = json.loads(govcloud("tokens", "list", "-o", "json", estate=site.estate,
                                check=True).stdout)
    mine = next(t for t in found if t["label"] == "ERP export")
    assert mine["revoked_at"] is None and text not in json.dumps(found)
    c: Any = client(site)
    assert c.get("/api/finance/chargeback", headers=_bearer(text)).status_code == 200
    govcloud("tokens", "revoke", mine["id"], "--reason", "ERP replaced", estate=site.estate,
             check=True)
    assert c.get("/api/finance/chargeback", headers=_bearer(text)).status_code == 401
    assert "revoked" in govcloud("tokens", "list", estate=site.estate, check=True).stdout


def test_a_token_is_its_owner_for_separation_of_duties(site: Site) -> None:
    """#21 case 4: op1 filed a request, then approved it with an operator token: 200. The
    token is op1's, so it is refused like op1 (409), and so is op1's session on a request
    op1 filed with a token; another operator's token approves (the route works)."""
    n = site.requests[OTHER]  # filed by operator.one, waiting for an operator
    store = site.store()
    try:
        _, mine = tokens.add(store, {OWN, OTHER}, account("operator"), "bot", "test",
                             scope="write")
        users.add(store, {OWN, OTHER}, "operator.two", "operator", None, PASSWORD, "test")
        _, theirs = tokens.add(store, {OWN, OTHER}, "operator.two", "bot", "test",
                               scope="write")
    finally:
        store.close()
    c: Any = client(site)
    r = c.post(f"/api/departments/{OTHER}/requests/{n}/approve", json={},
               headers=_bearer(mine))
    assert r.status_code == 409 and "separation of duties" in r.json()["error"], r.text[:300]
    # filed with the token, decided in a session of its owner: refused the same way
    ask = {"kind": "quota", "reason": "filed by a bot", "quota": {"volumes": 9}}
    r = c.post(f"/api/departments/{OTHER}/requests", json=ask, headers=_bearer(mine))
    assert r.status_code in (200, 201), r.text[:300]
    filed = r.json()["id"]
    assert r.json()["state"] == "waiting", r.text[:300]
    signed: Any = sign_in(site, account("operator"))
    r = signed.post(f"/api/departments/{OTHER}/requests/{filed}/approve", json={},
                    headers={"x-csrf-token": csrf_of(signed.get("/").text)})
    assert r.status_code == 409 and "separation of duties" in r.json()["error"], r.text[:300]
    r = c.post(f"/api/departments/{OTHER}/requests/{n}/approve", json={},
               headers=_bearer(theirs))
    assert r.status_code == 200, r.text[:300]


def test_a_read_token_reads_only_and_every_token_ends(site: Site,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A token carries a scope (read: GET only) and an expiry (90 days unless made for
    fewer); it stops when its owner's account is disabled; one made before tokens had
    owners acts for its maker and expires 90 days after it was made."""
    store = site.store()
    try:
        made, reader = tokens.add(store, {OWN, OTHER}, account("member"), "read", "test")
        _, short = tokens.add(store, {OWN, OTHER}, account("finance"), "short", "test",
                              days=2)
        users.add(store, {OWN, OTHER}, "member.two", "member", OWN, PASSWORD, "test")
        _, leaver = tokens.add(store, {OWN, OTHER}, "member.two", "leaver", "test")
        old = {}
        for tid, at in (("0ld00001", "2026-08-01T00:00:00.000000Z"),
                        ("0ld00002", tokens.now())):
            text = f"gct_{tid}_legacy-secret"
            store.execute("INSERT INTO tokens (id, digest, role, department, label, "
                          "created_by, created_at, revoked_at) VALUES (?,?,?,?,?,?,?,NULL)",
                          (tid, hashlib.sha256(text.encode()).hexdigest(), "finance", None,
                           "legacy", "root@ops", at))
            old[tid] = text
    finally:
        store.close()
    assert (made.owner, made.scope) == (account("member"), "read")
    c: Any = client(site)
    assert c.get(f"/api/departments/{OWN}", headers=_bearer(reader)).status_code == 200
    ask = {"kind": "quota", "reason": "read only", "quota": {"cores": 60}}
    r = c.post(f"/api/departments/{OWN}/requests/dry-run", json=ask, headers=_bearer(reader))
    assert r.status_code == 403 and "scope read" in r.json()["error"], r.text[:300]
    assert c.get("/api/me", headers=_bearer(leaver)).status_code == 200
    store = site.store()
    try:
        users.disable(store, "member.two", "test", "left the department")
        assert tokens.principal(store, "token:0ld00002") == "root@ops"
    finally:
        store.close()
    assert c.get("/api/me", headers=_bearer(leaver)).status_code == 401
    assert c.get("/api/me", headers=_bearer(old["0ld00001"])).status_code == 401  # 90 days
    assert c.get("/api/me", headers=_bearer(old["0ld00002"])).json()["name"] == \
        "token:0ld00002"
    assert c.get("/api/me", headers=_bearer(short)).status_code == 200
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    monkeypatch.setenv("GOVCLOUD_NOW", later)
    r = c.get("/api/me", headers=_bearer(short))
    assert r.status_code == 401 and "expired" in r.json()["error"]
    assert c.get("/api/me", headers=_bearer(reader)).status_code == 200
    listed = govcloud("tokens", "list", estate=site.estate, env={"GOVCLOUD_NOW": later},
                      check=True).stdout
    assert "expired" in listed and "active until" in listed


@pytest.mark.parametrize("days", ["0", "-1", "100000", "ten"])
def test_days_out_of_range_is_exit_1_with_the_range(days: str, tmp_path: Path) -> None:
    """As docs/operators.md says of every number out of its range (as serve --port does)."""
    said = "'ten' is not a whole number" if days == "ten" else f"{int(days)} is out of range"
    one_line(govcloud("tokens", "add", "--owner", "fin.wang", "--days", days,
                      estate=tmp_path), f"--days {said}",
             "give a number of days from 1 to 3,650, and at most portal.token_max_days")
