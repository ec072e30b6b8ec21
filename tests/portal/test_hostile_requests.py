"""Malformed and malicious requests (generated: every field of every kind × values of the
wrong type, range or characters, and well-formed requests the estate refuses) are refused with
field-level errors, and none reaches a plan file; posts without the session's CSRF token or
from another site are refused; two approvals racing each other and an apply never corrupt a
plan file or lose a request."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.requests import decisions, records
from govcloud.state.store import Store
from tests.portal.conftest import csrf_of
from tests.support.cli import _env
from tests.support.estate import copy_estate

PASSWORD = "correct horse battery"
BASE: dict[str, dict[str, Any]] = {
    "website": {"website": {"domain": "czj-new.qingdao.gov.cn", "kind": "php",
                            "storage_gb": 2, "public": False}},
    "servers": {"server": {"name": "fin-report", "flavor": "m1.large",
                           "image": "kylin-v10-sp3", "count": 2, "volume_gb": 10}},
    "replicas": {"server": "fin-budget-app", "count": 4},
    "resize": {"server": "fin-budget-app", "flavor": "m1.xlarge"},
    "quota": {"quota": {"cores": 60, "ram_gb": 256}},
    "remove": {"server": "fin-budget-app"},
    "backup": {"backup": {"enabled": True, "schedule": "0 1 * * *"}},
    "antivirus": {"antivirus": {"enabled": True, "schedule": "0 4 * * *"}},
}
TEXT = [None, "", "x;rm -rf /", "../../etc/passwd", "<script>alert(1)</script>", "a" * 300,
        "web\x00", "${jndi:ldap://x}", "ＡＢＣ", "Web-01", 5, [], {"a": 1}, True]
NUMBER = [-1, 10**12, 1.5, "3", "", None, True, [], "1e3", "NaN", {"n": 1}]
BOOLEAN = ["yes", 1, None, "", [], {"b": True}]
REASON = ["", None, "a" * 501, "x;y", "<b>bold</b>", "$(id)", "`id`", "line\nbreak", 5, []]
CRON = ["every day", "* * * *", "; rm -rf /", "", 5, None, "0 1 * * * *"]


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, value


def _set(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    node = out
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return out


def _payloads() -> list[Any]:
    cases: list[Any] = []
    for kind, fields in BASE.items():
        base = {"kind": kind, "department": "finance", "reason": "test", **fields}
        for path, value in _leaves(fields):
            bad = (BOOLEAN if isinstance(value, bool) else NUMBER if isinstance(value, int)
                   else CRON if path[-1] == "schedule" else TEXT)
            for v in bad:
                cases.append(pytest.param(_set(base, path, v), ".".join(path),
                                          id=f"{kind}:{'.'.join(path)}={v!r:.20}"))
        for v in REASON:
            cases.append(pytest.param({**base, "reason": v}, "reason",
                                      id=f"{kind}:reason={v!r:.20}"))
        cases.append(pytest.param({**base, "extra": "x"}, "extra", id=f"{kind}:extra-key"))
        cases.append(pytest.param({k: v for k, v in base.items() if k != "reason"}, "reason",
                                  id=f"{kind}:no-reason"))
        if kind not in ("remove",):
            key = next(iter(fields))
            cases.append(pytest.param({k: v for k, v in base.items() if k != key}, key,
                                      id=f"{kind}:no-{key}"))
        cases.append(pytest.param({**base, "department": "health"}, "department",
                                  id=f"{kind}:another-department"))
    good = {"department": "finance", "reason": "test"}
    # Well formed, refused by the estate: each names the field or the plan's key at fault.
    cases += [
        pytest.param({**good, "kind": "servers", "server": {
            "name": "fin-x", "flavor": "z9.huge", "image": "kylin-v10-sp3"}}, "servers",
            id="unknown-flavor"),
        pytest.param({**good, "kind": "servers", "server": {
            "name": "fin-budget-db", "flavor": "m1.large", "image": "kylin-v10-sp3"}},
            "server.name", id="server-name-taken"),
        pytest.param({**good, "kind": "servers", "server": {
            "name": "wj-booking-web", "flavor": "m1.large", "image": "kylin-v10-sp3"}},
            "servers", id="server-name-of-another-department"),
        pytest.param({**good, "kind": "replicas", "server": "fin-budget-app", "count": 100},
                     "quota", id="replicas-beyond-quota"),
        pytest.param({**good, "kind": "replicas", "server": "no-such", "count": 2}, "server",
                     id="replicas-of-nothing"),
        pytest.param({**good, "kind": "quota", "quota": {"cores": 1}}, "quota",
                     id="quota-below-use"),
        pytest.param({**good, "kind": "website", "website": {"domain": "evil.example.com"}},
                     "websites", id="website-suffix-not-allowed"),
        pytest.param({**good, "kind": "website", "website": {
            "domain": "czj-pub.qingdao.gov.cn", "public": True}}, "websites",
            id="public-website-on-the-intranet"),
        pytest.param({**good, "kind": "website", "website": {
            "domain": "czj-intra.qingdao.gov.cn"}}, "website.domain", id="website-taken"),
        pytest.param({**good, "kind": "remove", "server": "fin-treasury-gw"}, "server",
                     id="remove-protected-server"),
        pytest.param({**good, "kind": "remove", "website": "nope.qingdao.gov.cn"}, "website",
                     id="remove-nothing"),
        pytest.param({**good, "kind": "remove", "server": "fin-budget-app",
                      "website": "czj-intra.qingdao.gov.cn"}, "server", id="remove-two"),
        pytest.param({**good, "kind": "resize", "server": "fin-budget-app",
                      "flavor": "no-such"}, "servers", id="resize-to-nothing"),
        pytest.param({**good, "kind": "backup", "backup": {"enabled": False}}, "services",
                     id="backup-off-without-exemption"),
    ]
    cases += [pytest.param(p, "", id=f"not-a-request-{i}") for i, p in enumerate(
        [None, [], "x", 1, True, {"kind": "no-such"}, {}, {"kind": None},
         {"kind": ["website"]}, {"kind": "website" * 1000}])]
    return cases


CASES = _payloads()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    estate = copy_estate(tmp_path_factory.mktemp("hostile") / "estate")
    with engine.records(estate) as (est, store):
        users.add(store, set(est.plans), "li", "member", "finance", PASSWORD, "test")
        users.add(store, set(est.plans), "op1", "operator", None, PASSWORD, "test")
        users.add(store, set(est.plans), "op2", "operator", None, PASSWORD, "test")
    return estate


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((root / "plans").glob("*")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_there_are_at_least_200_cases() -> None:
    assert len(CASES) >= 200, len(CASES)


@pytest.mark.parametrize(("payload", "field"), CASES)
def test_refused_with_field_level_errors(payload: Any, field: str, root: Path) -> None:
    before = _digest(root)
    with engine.records(root) as (est, store):
        li = users.find(store, "li")
        with pytest.raises(decisions.RequestRefused) as err:
            decisions.submit(est, store, li, payload, "test")
        assert store.query("SELECT COUNT(*) FROM requests")[0][0] == 0
    verdict = err.value.verdict
    if field in ("", "department"):  # not a request at all, or another department's
        assert "cannot be filed" in err.value.render() or "files requests for" in \
            err.value.render()
        if verdict is not None:
            assert {e["path"] for e in verdict.errors} <= {"", "kind"}
    else:
        assert verdict is not None and not verdict.ok
        paths = [e["path"] for e in verdict.errors]
        assert paths and all(e["message"] for e in verdict.errors)
        assert any(field.split(".")[0] in p or p.startswith(field) for p in paths), (
            field, verdict.errors)
        shown = json.dumps(verdict.as_dict(), ensure_ascii=False)
        assert "a" * 300 not in shown  # a refused value is named, never echoed at length
    assert _digest(root) == before


def test_hostile_posts_over_http_write_nothing(root: Path) -> None:
    from starlette.testclient import TestClient

    from govcloud.portal.app import create_app

    before = _digest(root)
    c = TestClient(create_app(root, secret="k"), base_url="http://testserver",
                   follow_redirects=False)
    token = csrf_of(c.get("/login").text)
    assert c.post("/login", data={"name": "li", "password": PASSWORD,
                                  "csrf": token}).status_code == 303
    csrf = csrf_of(c.get("/").text)
    api = "/api/departments/finance/requests"
    for payload in [p.values[0] for p in CASES[::5]]:
        r = c.post(api, json=payload, headers={"x-csrf-token": csrf})
        assert r.status_code in (400, 409, 415, 422), (payload, r.status_code, r.text[:200])
        r = c.post(api + "/dry-run", json=payload, headers={"x-csrf-token": csrf})
        assert r.status_code in (200, 400, 409, 422) and (r.status_code != 200 or
                                                     r.json()["ok"] is False)
    valid = {"kind": "quota", "reason": "x", "quota": {"cores": 60}}
    refused = [
        ({}, "json"),  # no CSRF token
        ({"x-csrf-token": "forged"}, "json"),
        ({"x-csrf-token": csrf, "origin": "https://evil.example"}, "json"),
        ({"x-csrf-token": csrf, "sec-fetch-site": "cross-site"}, "json"),
    ]
    for headers, _ in refused:
        assert c.post(api, json=valid, headers=headers).status_code == 403, headers
    form = "/departments/finance/requests"
    data = {"kind": "quota", "quota.cores": "60", "reason": "x"}
    assert c.post(form, data=data).status_code == 403
    assert c.post(form, data={**data, "csrf": "forged"}).status_code == 403
    assert c.post(form, data={**data, "csrf": csrf},
                  headers={"origin": "https://evil.example"}).status_code == 403
    assert c.post(form, content=b"{}", headers={"x-csrf-token": csrf,
                                               "content-type": "text/plain"}).status_code == 400
    assert c.post(api, content=b"{not json", headers={
        "x-csrf-token": csrf, "content-type": "application/json"}).status_code == 400
    assert c.post(api, content=b"[" * 70_000, headers={
        "x-csrf-token": csrf, "content-type": "application/json"}).status_code == 403
    assert _digest(root) == before
    with engine.records(root) as (_, store):
        assert store.query("SELECT COUNT(*) FROM requests")[0][0] == 0


def _cli(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env({"GOVCLOUD_SIM_DELAY": "0.05"}))


def test_racing_approvals_and_an_apply_lose_nothing(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate")
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("op1", "operator", None),
                                ("op2", "operator", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
        li = users.find(store, "li")
        a = decisions.submit(est, store, li, {"kind": "quota", "department": "finance",
                                              "reason": "a", "quota": {"cores": 60}})
        b = decisions.submit(est, store, li, {"kind": "remove", "department": "finance",
                                              "reason": "b", "server": "fin-budget-app"})
        c = decisions.submit(est, store, li, {"kind": "quota", "department": "finance",
                                              "reason": "c", "quota": {"ram_gb": 300}})
    assert {a.waiting_for(), b.waiting_for(), c.waiting_for()} == {"operator"}
    started = time.monotonic()
    procs = [_cli(root, "apply", "--yes", "--lock-timeout", "300", "--no-services"),
             _cli(root, "request", "approve", str(a.id), "--as", "op1"),
             _cli(root, "request", "approve", str(b.id), "--as", "op2"),
             _cli(root, "request", "approve", str(c.id), "--as", "op1"),
             _cli(root, "request", "approve", str(c.id), "--as", "op2")]  # the same, twice
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in procs
               if p.stdout and p.stderr]
    assert time.monotonic() - started < 600
    assert results[0][0] == 0, results[0][2][-2000:]
    assert results[1][0] == 0 and results[2][0] == 0, results[1:3]
    twice = sorted(r[0] for r in results[3:])
    assert twice == [0, 1], results[3:]  # one approves it, the other is told it is approved
    assert any(f"request {c.id} is approved" in r[2] for r in results[3:])
    text = (root / "plans" / "finance.yaml").read_text()
    assert "cores: 60" in text and "ram_gb: 300" in text and "fin-budget-app" not in text
    assert "# treasury payment gateway" in text
    assert engine.validate(root).errors == []  # the plan file is whole and valid
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root)
    states = {r.id: r.state for r in records.listing(store)}
    assert states == {a.id: "approved", b.id: "approved", c.id: "approved"}
    approvals = [e.subject for e in decisions.trail.latest(store, 50, "request approve")]
    assert sorted(approvals) == sorted(f"request {n}" for n in (a.id, b.id, c.id))
    assert decisions.trail.latest(store, 5, "apply")  # the apply is in the trail too
    assert decisions.trail.verify(store).whole  # appended by five processes, still a chain
