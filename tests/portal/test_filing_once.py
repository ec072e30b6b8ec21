"""A verdict page's "file the request" posted twice (a double click, a retry after a slow
answer) files one request (trial of #23: two clicks filed #4 and #5, both servers tj-dup).
The page's form carries a one-time token; the request it filed is kept with it, in the
filing's own transaction."""

from __future__ import annotations

import re
import threading
from html import unescape
from typing import Any

from govcloud.requests import records
from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in

QUOTA = {"kind": "quota", "quota.cores": "96", "reason": "posted twice"}


def _verdict_form(c: Any) -> dict[str, str]:
    form = c.get(f"/departments/{OWN}/requests/new?kind=quota")
    page = c.post(f"/departments/{OWN}/requests/check",
                  data={**QUOTA, "csrf": csrf_of(form.text)}).text
    filing = rf'<form method="post" action="/departments/{OWN}/requests"[^>]*>(.*?)</form>'
    found = re.search(filing, page, re.S)
    assert found, "no filing form on the verdict page"
    return {k: unescape(v) for k, v in re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)">', found.group(1))}


def _count(site: Site) -> int:
    store = site.store()
    try:
        return len([r for r in records.listing(store, OWN, limit=10_000)
                    if r.payload.get("reason") == "posted twice"])
    finally:
        store.close()


def test_the_same_form_posted_twice_files_one_request(site: Site) -> None:
    c: Any = sign_in(site, account("member"))
    fields = _verdict_form(c)
    assert len(fields.get("once", "")) >= 16
    before = _count(site)
    first = c.post(f"/departments/{OWN}/requests", data=fields)
    again = c.post(f"/departments/{OWN}/requests", data=fields)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert _count(site) == before + 1
    other = c.post(f"/departments/{OWN}/requests", data=_verdict_form(c))  # a new form
    assert other.headers["location"] != first.headers["location"]
    assert _count(site) == before + 2


def test_two_posts_of_one_form_at_once_file_one_request(site: Site) -> None:
    clients = [sign_in(site, account("member")) for _ in range(2)]
    fields = _verdict_form(clients[0])
    fields_b = {**fields, "csrf": _verdict_form(clients[1])["csrf"]}
    before, answers = _count(site), []
    start = threading.Barrier(2)

    def post(c: Any, data: dict[str, str]) -> None:
        start.wait()
        answers.append(c.post(f"/departments/{OWN}/requests", data=data))

    threads = [threading.Thread(target=post, args=(c, d))
               for c, d in zip(clients, (fields, fields_b), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    assert _count(site) == before + 1


def test_a_token_never_leads_to_another_persons_request(site: Site) -> None:
    member = sign_in(site, account("member"))
    fields = _verdict_form(member)
    first = member.post(f"/departments/{OWN}/requests", data=fields)
    approver: Any = sign_in(site, account("approver"))  # same department, another person
    stolen = {**fields, "csrf": _verdict_form(approver)["csrf"]}
    theirs = approver.post(f"/departments/{OWN}/requests", data=stolen)
    assert theirs.status_code in (303, 400, 409)
    assert theirs.headers.get("location") != first.headers["location"]
