"""Every page kind of the route table, seen in Chinese by a role that may see it, shows no
untranslated English word and no raw ISO timestamp (#23, case 1); the pages answering a
post (a verdict, an error page) too. What is allowed through: ids, names, domains and
numbers of the estate (``estate_words``) and the people of its audit trail, words with
digits or '.', '-', '_', '@' (flavors, hosts, accounts, versions), a few product words
(``PRODUCT``), code (``<pre>``, ``<code>``: a plan file's diff, a digest) and the govcloud
commands a message names."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.portal.routes import ROUTES, Route
from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in

PRODUCT = {"CSV", "XLSX", "vCPU", "vCPUs", "GB", "GiB", "Keystone", "ID", "RPO", "TOTP",
           "API", "CPU", "RAM", "cron", "otpauth", "URI", "govcloud", "Excel", "UTC",
           "English", "MLPS", "DR", "PHP",
           "pid", "testclient"}  # an apply's holder: user@host pid N; TestClient's address
COMMAND = re.compile(r"govcloud(\s+--?[a-z][a-z-]*|\s+[a-z][a-z-]*|\s+[A-Z]+\b)+")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.@:/+'-]*")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# Who looks at each page kind: the first of these roles the route allows.
LOOKERS = ("member", "approver", "finance", "operator", "auditor")
PERIOD = "2026-11"


class Visible(HTMLParser):
    """The text a person sees or hears: text outside scripts and styles, and the labels
    read out (aria-label, title, placeholder, alt)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "pre", "code"):
            self._hidden += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "placeholder", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "pre", "code"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = Visible()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def estate_words(estate: Path) -> set[str]:
    """The estate's own names: departments, servers, sites, flavors, images, hosts, pools."""
    with engine.records(estate) as (est, store):
        words = set(est.plans)
        for plan in est.plans.values():
            words |= {s.name for s in plan.servers} | {w.domain for w in plan.websites}
            words.add(plan.department.name_en or "")
        words |= set(est.settings.catalogue.flavors) | set(est.settings.catalogue.images)
        words |= {e.actor for e in trail.latest(store, 1000)}
    return {w for w in words if w}


def english(text: str, allowed: set[str]) -> list[str]:
    """The words of ``text`` that are English and not allowed through."""
    out = []
    for word in WORD.findall(COMMAND.sub(" ", text)):
        bare = word.strip(".:'/")
        if not bare or bare in allowed or bare in PRODUCT:
            continue
        if re.search(r"[0-9_.@/-]", bare) or any(bare in a.split() for a in allowed):
            continue
        out.append(bare)
    return out


def path_of(route: Route, site: Site) -> str:
    return route.path.format(department=OWN, number=site.requests[OWN], period=PERIOD,
                             handle="x")


def pages() -> list[Any]:
    out = []
    for route in ROUTES:
        if route.kind != "page" or route.public or route.name == "second_factor_form":
            continue
        role = next(r for r in LOOKERS if r in route.roles)
        out.append(pytest.param(route, role, id=f"{route.name}:{role}"))
    return out


@pytest.fixture(scope="module")
def allowed(site: Site) -> set[str]:
    return estate_words(site.estate)


@pytest.fixture(scope="module")
def clients(site: Site) -> dict[str, Any]:
    return {role: sign_in(site, account(role)) for role in LOOKERS}


def assert_chinese(html: str, allowed: set[str], where: str) -> None:
    text = visible(html)
    assert '<html lang="zh-CN">' in html, where
    words = english(text, allowed)
    assert words == [], f"{where}: English on the Chinese page: {sorted(set(words))}\n{text}"
    stamps = ISO.findall(text)
    assert stamps == [], f"{where}: raw ISO timestamps {stamps}"


@pytest.mark.parametrize(("route", "role"), pages())
def test_every_page_kind_is_all_chinese(site: Site, clients: dict[str, Any],
                                        allowed: set[str], route: Route, role: str) -> None:
    path = path_of(route, site)
    r = clients[role].get(path + "?lang=zh")
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    assert_chinese(r.text, allowed, f"{path} as {role}")


def test_the_sign_in_page_is_all_chinese(site: Site, allowed: set[str]) -> None:
    from tests.portal.conftest import client

    assert_chinese(client(site).get("/login?lang=zh").text, allowed, "/login")


@pytest.mark.parametrize("payload", [
    {"kind": "quota", "quota.cores": "8", "reason": "核数少于服务器所需"},
    {"kind": "website", "website.domain": "survey.tj.qingdao.gov.cn", "website.kind": "php",
     "website.public": "on", "booleans": "website.public", "reason": "对外公开的网站"},
    {"kind": "servers", "server.name": "tj-extra", "server.flavor": "c1.small",
     "server.image": "ubuntu-22.04", "server.count": "1", "reason": "再加一台服务器"},
], ids=["over-quota", "public-site", "new-server"])
def test_a_verdict_is_all_chinese(site: Site, clients: dict[str, Any], allowed: set[str],
                                  payload: dict[str, str]) -> None:
    c = clients["member"]
    form = c.get(f"/departments/{OWN}/requests/new?lang=zh")
    r = c.post(f"/departments/{OWN}/requests/check?lang=zh",
               data={**payload, "csrf": csrf_of(form.text)})
    assert r.status_code in (200, 422), r.text[:300]
    assert_chinese(r.text, allowed, f"the verdict of {payload['kind']}")


@pytest.mark.parametrize("path", ["/departments/{own}/requests/999",
                                  "/finance/statements/2020-13/close", "/no/such/page"])
def test_error_pages_are_all_chinese(site: Site, clients: dict[str, Any], allowed: set[str],
                                     path: str) -> None:
    role = "finance" if "statements" in path else "member"
    r = clients[role].get(path.format(own=OWN) + "?lang=zh")
    assert r.status_code == 404, r.text[:300]
    assert_chinese(r.text, allowed, path)


def test_a_request_sent_back_with_its_form_and_its_verdict_is_all_chinese(
        site: Site, clients: dict[str, Any], allowed: set[str]) -> None:
    """The request page of a request sent back shows its own form to edit it (#23), and
    the verdict of the edit names the request it files again: all in Chinese."""
    from govcloud.access import users
    from govcloud.requests import decisions

    with engine.records(site.estate) as (est, store):
        r = decisions.submit(est, store, users.find(store, account("member")), {
            "kind": "quota", "department": OWN, "reason": "再加八核",
            "quota": {"cores": est.plans[OWN].quota.cores + 8}}, "test")
        decisions.close(store, users.find(store, account("operator")), r.id, "returned",
                        "先说明用途", "test", est)
    c = clients["member"]
    page = c.get(f"/departments/{OWN}/requests/{r.id}?lang=zh").text
    assert f'name="again" value="{r.id}"' in page
    assert_chinese(page, allowed, "a request sent back, to its requester")
    assert 'id="q-cores" name="quota.cores"' in page  # the quota form, not JSON
    checked = c.post(f"/departments/{OWN}/requests/check?lang=zh", data={
        "csrf": csrf_of(page), "kind": "quota", "again": str(r.id), "reason": "再加八核，用于报表",
        "quota.cores": str(est.plans[OWN].quota.cores + 8)})
    assert checked.status_code == 200 and "重新提交" in checked.text
    assert_chinese(checked.text, allowed, "the verdict of a request filed again")


@pytest.mark.parametrize("text", ["statement 2026-10", "judged again: the plan file had changed",
                                  "volumes 3 → 6", "request withdraw", "request resubmit",
                                  "request comment", "li.wei (portal, root@vm pid 8)"])
def test_what_the_journeys_found_in_english_is_chinese(text: str) -> None:
    """What the selenium journeys (test_journey.py) found left in English on Chinese pages:
    a month's close in the audit trail (its subject), the note on a request approved after
    its plan file changed, a quota change's reason on the apply review page, a request's
    withdrawal, resubmission and comment in the audit trail, and who holds an apply started
    from the portal."""
    from govcloud.portal.i18n import translator

    said = translator("zh")(text)
    assert english(said, set()) == [], said

