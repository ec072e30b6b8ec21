"""The portal's defences, over HTTP against the real app: security headers, cookie flags,
CSRF and cross-site posts, sign-in throttling, sessions that end, forged cookies, open
redirects, and the OpenAPI description matching the route table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from itsdangerous import URLSafeSerializer

from govcloud.access import users
from govcloud.audit import trail
from govcloud.portal import sessions
from govcloud.portal.app import SECURITY_HEADERS
from govcloud.portal.routes import ROUTES
from tests.portal.conftest import PASSWORD, Site, account, client, csrf_of, sign_in


def _login_page(c: Any) -> str:
    return csrf_of(c.get("/login").text)


def test_every_response_carries_the_security_headers(site: Site) -> None:
    c = sign_in(site, account("member"))
    for path in ("/login", "/", "/departments/finance", "/departments/health", "/api/me",
                 "/no/such/page", "/api/nothing", "/static/portal.css",
                 "/departments/finance/bill.csv"):
        r = c.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert r.headers.get(name) == value, (path, name)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        if path != "/static/portal.css":
            assert r.headers["cache-control"] == "no-store", path


def test_the_session_cookie_is_signed_httponly_and_samesite(site: Site) -> None:
    c = client(site)
    token = _login_page(c)
    r = c.post("/login", data={"name": account("member"), "password": PASSWORD,
                               "csrf": token, "next": "/"})
    cookie = next(h for h in r.headers.get_list("set-cookie")
                  if h.startswith(sessions.COOKIE + "="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    value = cookie.split(";")[0].split("=", 1)[1].strip('"')
    stored = site.store().query("SELECT id FROM sessions")
    assert value not in {row[0] for row in stored}  # the store keeps only a digest


def test_a_forged_or_foreign_cookie_is_no_session(site: Site) -> None:
    forged = [
        "x", "a" * 600,
        URLSafeSerializer("another-key", salt="govcloud-session").dumps("anything"),
        URLSafeSerializer("test-secret", salt="govcloud-session").dumps("not-a-session"),
        URLSafeSerializer("test-secret", salt="govcloud-login-csrf").dumps("x"),
    ]
    for value in forged:
        c = client(site)
        c.cookies.set(sessions.COOKIE, value)
        assert c.get("/api/me").status_code == 401, value
        assert c.get("/").status_code == 303


def test_posts_need_the_csrf_token_and_this_origin(site: Site) -> None:
    c = sign_in(site, account("operator"))
    page = c.get("/").text
    token = csrf_of(page)
    refused = [
        ({}, {}),  # no token
        ({"csrf": "wrong"}, {}),
        ({"csrf": token}, {"origin": "https://evil.example"}),
        ({"csrf": token}, {"origin": "null"}),
        ({"csrf": token}, {"sec-fetch-site": "cross-site"}),
        ({"csrf": token}, {"sec-fetch-site": "same-site"}),
        ({"csrf": token}, {"referer": "https://evil.example/form"}),
    ]
    for data, headers in refused:
        r = c.post("/logout", data=data, headers=headers)
        # the error page says so in the page's language (已拒绝: zh, the portal's first)
        assert r.status_code == 403 and "已拒绝：" in r.text, (data, headers)
        assert c.get("/api/me").status_code == 200  # still signed in
    r = c.post("/logout", data={"csrf": "x" * 70_000})
    assert r.status_code == 403  # larger than a form may be
    r = c.post("/logout", data={"csrf": token}, headers={"origin": "http://testserver"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/api/me").status_code == 401


def test_sign_in_needs_the_login_forms_token(site: Site) -> None:
    c = client(site)
    r = c.post("/login", data={"name": account("member"), "password": PASSWORD})
    assert r.status_code == 403
    other = client(site)  # a token from another browser's form
    token = _login_page(other)
    r = c.post("/login", data={"name": account("member"), "password": PASSWORD,
                               "csrf": token})
    assert r.status_code == 403


def test_a_signed_out_or_disabled_session_is_over(site: Site) -> None:
    c = sign_in(site, account("finance"))
    kept = dict(c.cookies)
    csrf = csrf_of(c.get("/").text)
    assert c.post("/logout", data={"csrf": csrf}).status_code == 303
    replay = client(site)
    for k, v in kept.items():
        replay.cookies.set(k, v)
    assert replay.get("/api/me").status_code == 401  # the old cookie is dead
    store = site.store()
    users.add(store, {"finance"}, "temp.user", "auditor", None, PASSWORD, "test")
    d = sign_in(site, "temp.user")
    assert d.get("/api/me").json()["role"] == "auditor"
    users.disable(store, "temp.user", "test", "left")
    assert d.get("/api/me").status_code == 401


def test_sign_in_is_throttled_and_recorded(site: Site) -> None:
    store = site.store()
    users.add(store, {"finance"}, "throttled", "finance", None, PASSWORD, "test")
    from starlette.testclient import TestClient

    # a client address of its own: refusals are sampled per client (10 a minute)
    c: Any = TestClient(site.app, base_url="http://testserver", follow_redirects=False,
                        client=("10.21.4.4", 50000))
    for _ in range(users.FAILURES_PER_NAME):
        r = c.post("/login", data={"name": "throttled", "password": "wrong password!",
                                   "csrf": _login_page(c)})
        assert r.status_code == 401
    r = c.post("/login", data={"name": "throttled", "password": PASSWORD,
                               "csrf": _login_page(c)})
    assert r.status_code == 429 and "登录失败次数过多" in r.text  # the page's language
    c.cookies.set("lang", "en")
    r = c.post("/login", data={"name": "throttled", "password": PASSWORD,
                               "csrf": _login_page(c)})
    assert r.status_code == 429 and "too many failed sign-ins — try again in 15" in r.text
    failed = [e for e in trail.latest(store, 50, "sign-in failed") if e.subject == "throttled"]
    assert len(failed) == users.FAILURES_PER_NAME
    # a sign-in refused while locked is recorded too (trial of #21: it left no record)
    locked = [e for e in trail.latest(store, 50, "refused")
              if "too many failed sign-ins of 'throttled'" in str(e.after)]
    assert len(locked) == 2 and json.loads(locked[0].after)["status"] == 429
    assert all(e.source == "10.21.4.4" for e in failed)
    assert trail.verify(store).whole


def test_next_never_leaves_the_site(site: Site) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example",
                   "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1"):
        c = client(site)
        r = c.post("/login", data={"name": account("auditor"), "password": PASSWORD,
                                   "csrf": _login_page(c), "next": target})
        assert r.status_code == 303 and r.headers["location"] == "/", target
    c = client(site)
    r = c.post("/login", data={"name": account("auditor"), "password": PASSWORD,
                               "csrf": _login_page(c), "next": "/audit"})
    assert r.headers["location"] == "/audit"


def test_pages_escape_what_they_show(site: Site) -> None:
    c = client(site)
    r = c.post("/login", data={"name": "<script>alert(1)</script>", "password": "x",
                               "csrf": _login_page(c)})
    assert r.status_code == 401 and "<script>alert" not in r.text
    assert "&lt;script&gt;" in r.text


def test_openapi_describes_every_api_route(site: Site) -> None:
    doc = client(site).get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    api = {(r.method.lower(), r.path) for r in ROUTES if r.kind in ("api", "download")}
    described = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert described == api
    scoped = doc["paths"]["/api/departments/{department}"]["get"]
    assert scoped["x-govcloud-department-scoped"] is True
    assert scoped["parameters"][0]["name"] == "department"


def test_pages_are_chinese_first_and_english_on_request(site: Site) -> None:
    c = sign_in(site, account("member"))
    zh = c.get("/departments/finance").text
    assert '<html lang="zh-CN">' in zh and "本月费用" in zh and "青岛市财政局" in zh
    en = c.get("/departments/finance?lang=en").text
    assert '<html lang="en">' in en and "This month&#39;s bill" in en
    assert '<html lang="en">' in c.get("/").text  # the choice is kept


def test_a_request_number_that_is_not_ascii_digits_is_not_found(site: Site) -> None:
    """'²' and '①' pass str.isdigit() but not int(): they were a 500 and a crash log."""
    c = sign_in(site, account("operator"))
    for number in ("²", "①", "٣", "1²"):
        for path in (f"/departments/finance/requests/{number}",
                     f"/api/departments/finance/requests/{number}"):
            r = c.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert "Internal error" not in r.text and "/.state/" not in r.text


def _attempt(c: Any, name: str, password: str, forwarded: str) -> int:
    xff = {"x-forwarded-for": forwarded}
    form = c.get("/login", headers=xff)
    return int(c.post("/login", headers=xff, data={"name": name, "password": password,
                                                   "csrf": csrf_of(form.text)}).status_code)


def test_behind_a_proxy_each_client_is_counted_apart(site: Site) -> None:
    """#21 case 3: behind the TLS proxy every user shared the proxy's address (uvicorn ran
    with proxy_headers=False), so one client's failures locked out everyone. With the proxy
    trusted (``forwarded_allow_ips``), X-Forwarded-For names the client: a name locked for
    one client signs in from another; from a peer that is not a trusted proxy the header
    is ignored (a forged one changes nothing)."""
    from starlette.testclient import TestClient

    from govcloud.portal.app import create_app

    store = site.store()
    try:
        users.add(store, {"finance"}, "proxied", "finance", None, PASSWORD, "test")
    finally:
        store.close()
    app = create_app(site.estate, secret="test-secret", forwarded_allow_ips="10.9.9.0/24")
    proxy = TestClient(app, client=("10.9.9.9", 40000), follow_redirects=False)
    for _ in range(users.FAILURES_PER_NAME):
        assert _attempt(proxy, "proxied", "wrong password!", "203.0.113.5") == 401
    assert _attempt(proxy, "proxied", PASSWORD, "203.0.113.5") == 429
    assert _attempt(proxy, "proxied", PASSWORD, "203.0.113.6") == 303
    store = site.store()
    try:
        failed = [e for e in trail.latest(store, 50, "sign-in failed")
                  if e.subject == "proxied"]
        assert {e.source for e in failed} == {"203.0.113.5"}
        stranger = TestClient(app, client=("198.51.100.1", 40000), follow_redirects=False)
        assert _attempt(stranger, "proxied", "wrong password!", "203.0.113.99") == 401
        assert trail.latest(store, 1, "sign-in failed")[0].source == "198.51.100.1"
    finally:
        store.close()


def test_serve_trusts_only_the_proxies_it_is_given_and_sends_secure_cookies(
        site: Site, tmp_path: Path) -> None:
    """``govcloud serve --forwarded-allow-ips``: checked (a bad one is a usage error naming
    it), then X-Forwarded-For from that proxy is the client the trail records; with a
    proxy the cookies are Secure by default, on loopback without one they are not."""
    import os
    import subprocess
    import sys
    import urllib.request

    from tests.support.portal import serving

    bad = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(site.estate), "serve",
                          "--forwarded-allow-ips", "10.0.0.5,proxy.example"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'proxy.example' is no IP address" in bad.stderr
    assert "Traceback" not in bad.stderr

    def login_cookie(base: str) -> str:
        req = urllib.request.Request(f"{base}/login",
                                     headers={"X-Forwarded-For": "192.0.2.44"})
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            return str(r.headers.get("set-cookie", ""))

    env = {**os.environ, "GOVCLOUD_PORTAL_SECRET": "test-secret"}
    with serving(site.estate, env, tmp_path / "proxied.log",
                 args=("--forwarded-allow-ips", "127.0.0.1")) as base:
        cookie = login_cookie(base)
    assert "secure" in cookie.lower(), cookie
    with serving(site.estate, env, tmp_path / "plain.log") as base:
        cookie = login_cookie(base)
    assert cookie and "secure" not in cookie.lower(), cookie
