"""govcloud API tokens (govcloud.access.tokens, ``govcloud tokens``): shown once, kept only
as a hash, scoped to a role and department on /api/* with a Bearer header, refused on pages,
and revocable at once; through the CLI and the portal (Starlette TestClient)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from govcloud.access import tokens
from govcloud.audit import trail
from govcloud.errors import GovcloudError
from tests.portal.conftest import OTHER, OWN, Site, client
from tests.support.cli import govcloud


def _bearer(text: str) -> dict[str, str]:
    return {"authorization": f"Bearer {text}"}


def test_a_member_token_reads_and_files_for_its_department_only(site: Site) -> None:
    store = site.store()
    try:
        token, text = tokens.add(store, {OWN, OTHER}, "member", OWN, "dashboard", "test")
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
        _, text = tokens.add(store, {OWN, OTHER}, "auditor", None, "", "test")
        for role, department, words in (("member", None, "belongs to one department"),
                                         ("member", "parks", "not in the estate"),
                                         ("auditor", OWN, "an auditor sees every department"),
                                         ("approver", None, "an approver belongs to one"),
                                         ("root", None, "unknown")):
            with pytest.raises(GovcloudError, match=words):
                tokens.add(store, {OWN, OTHER}, role, department, "", "test")
        for label, words in (("x" * 201, "the label is 201 characters long"),
                             ("ERP\nexport", "has a line break")):
            with pytest.raises(GovcloudError, match=words):  # refused, never cut or kept
                tokens.add(store, {OWN, OTHER}, "finance", None, label, "test")
        assert tokens.add(store, {OWN, OTHER}, "finance", None, "y" * 200,
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
    made = govcloud("tokens", "add", "--role", "finance", "--label", "ERP export",
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
