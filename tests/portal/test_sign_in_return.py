"""Signing in again comes back to where the person was (trial of #23): the page with its
query (a month, a list's filters) instead of its bare path; and a form posted after the
session ended leads back to the form's page, not to the address it posts to (which gave
"statistics 没有编号为 check 的申请" after signing in)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.portal.conftest import OWN, PASSWORD, Site, account, client, csrf_of


def _next_of(location: str) -> str:
    assert location.startswith("/login?"), location
    return parse_qs(urlsplit(location).query)["next"][0]


def _signs_in_to(site: Site, location: str) -> str:
    """Where the sign-in form at ``location`` leads, filled in as a browser would."""
    c: Any = client(site)
    form = c.get(location)
    kept = re.search(r'name="next" value="([^"]*)"', form.text)
    assert kept, "the sign-in form does not carry next"
    r = c.post("/login", data={"name": account("finance"), "password": PASSWORD,
                               "csrf": csrf_of(form.text), "next": unescape(kept.group(1))})
    assert r.status_code == 303
    return str(r.headers["location"])


def test_a_page_asked_for_when_signed_out_keeps_its_query(site: Site) -> None:
    c: Any = client(site)
    for asked in ("/finance/chargeback?period=2026-10",
                  "/audit?department=statistics&sign_ins=1&page=2"):
        r = c.get(asked)
        assert r.status_code == 303
        assert _next_of(r.headers["location"]) == asked
        assert _signs_in_to(site, r.headers["location"]) == asked


def test_a_form_posted_after_the_session_ended_leads_back_to_the_form(site: Site) -> None:
    c: Any = client(site)
    c.cookies.set("govcloud_session", "ended-long-ago")
    form_page = f"/departments/{OWN}/requests/new?kind=servers"
    r = c.post(f"/departments/{OWN}/requests/check", data={"kind": "servers"},
               headers={"referer": f"http://testserver{form_page}"})
    assert r.status_code == 303
    assert _next_of(r.headers["location"]) == form_page
    # a Referer of another site is not followed
    r = c.post(f"/departments/{OWN}/requests/check", data={"kind": "servers"},
               headers={"referer": f"http://evil.example{form_page}"})
    assert _next_of(r.headers["location"]) == "/"
