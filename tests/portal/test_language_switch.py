"""#23 case 2: "English" on a page that answers a post (the verdict of a request) shows that
page in English, not "Not found · no request check of statistics". And case 3: times in the
estate's time zone (portal.time_zone: Asia/Shanghai in the example) to the minute, amounts
with thousands separators, right-aligned; the CSV downloads in the person's language.

Switching language on a list keeps its query string: the audit trail's filters and page, a
month's chargeback (?period=). On the old main the links were ``?lang=en`` alone and the page
in the other language was the list's first page, unfiltered, and this month's chargeback. The
links never lead off the site, whatever a ``next`` parameter or a Referer says."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from govcloud.audit import trail
from tests.portal.conftest import OWN, Site, account, client, csrf_of, sign_in
from tests.support.cli import NOW, govcloud

QUOTA_FORM = {"kind": "quota", "quota.cores": "8", "reason": "fewer cores than the servers use"}


def follow_language(c: Any, shown: Any, lang: str) -> Any:
    """What the link (or button) to ``lang`` of the page ``shown`` (a response) leads to, as
    a browser follows it: relative to the page's own address."""
    page, here = shown.text, str(shown.url)
    form = re.search(r'<form method="post" action="([^"]*\?lang=' + lang + r')">(.*?)</form>',
                     page, re.S)
    if form:
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                                 form.group(2)))
        return c.post(urljoin(here, unescape(form.group(1))),
                      data={k: unescape(v) for k, v in fields.items()})
    link = re.search(r'<a href="([^"]*(?:\?|&amp;)lang=' + lang + r')"', page)
    assert link, "no language link on the page"
    return c.get(urljoin(here, unescape(link.group(1))))


def test_english_on_a_verdict_shows_the_verdict_in_english(site: Site) -> None:
    c = sign_in(site, account("member"))
    form = c.get(f"/departments/{OWN}/requests/new?lang=zh")
    zh = c.post(f"/departments/{OWN}/requests/check",
                data={**QUOTA_FORM, "csrf": csrf_of(form.text)})
    assert zh.status_code == 200 and "审核结果" in zh.text
    en = follow_language(c, zh, "en")
    assert en.status_code == 200, en.text[:300]
    assert "Not found" not in en.text and '<html lang="en">' in en.text
    assert "Verdict: invalid" in en.text and "quota.cores is 8" in en.text
    back = follow_language(c, en, "zh")
    assert back.status_code == 200 and "审核结果" in back.text and "无效" in back.text
    assert c.get("/departments").text.startswith("<!doctype html>\n<html lang=\"zh-CN\">")


def test_a_valid_verdict_switches_language_and_is_filed_once(site: Site) -> None:
    c = sign_in(site, account("member"))
    form = c.get(f"/departments/{OWN}/requests/new")
    zh = c.post(f"/departments/{OWN}/requests/check",
                data={"kind": "quota", "quota.websites": "3", "reason": "one more site",
                      "csrf": csrf_of(form.text)})
    before = c.get(f"/api/departments/{OWN}/requests").json()
    en = follow_language(c, zh, "en")
    assert en.status_code == 200 and "File the request" in en.text
    assert c.get(f"/api/departments/{OWN}/requests").json() == before  # nothing filed


def test_a_refused_post_links_to_the_home_page_in_the_other_language(site: Site) -> None:
    c = sign_in(site, account("operator"))
    page = c.get("/operations/apply")
    r = c.post("/operations/apply", data={"csrf": csrf_of(page.text), "digest": "0" * 64})
    assert r.status_code == 409
    assert '<a href="/?lang=en" lang="en">English</a>' in r.text
    assert follow_language(c, r, "en").status_code == 200


def test_times_are_in_the_estate_zone_to_the_minute(site: Site) -> None:
    c = sign_in(site, account("member"))
    number = site.requests[OWN]
    zh = c.get(f"/departments/{OWN}/requests/{number}?lang=zh").text
    # filed at 2026-11-26T12:00:00Z (GOVCLOUD_NOW): 20:00 in Qingdao
    assert "2026年11月26日 20:00" in zh and "2026-11-26T12:00" not in zh
    assert "中国时间 (Asia/Shanghai)" in zh
    en = c.get(f"/departments/{OWN}/requests/{number}?lang=en").text
    assert "26 Nov 2026 20:00" in en


def test_a_closing_time_has_no_microseconds(site: Site) -> None:
    govcloud("usage", "collect", "--period", "2026-10", estate=site.estate, env=NOW,
             check=True)  # a whole month, so it can be closed
    c, month = sign_in(site, account("finance")), "2026-10"
    form = c.get(f"/finance/statements/{month}/close")
    assert c.post(f"/finance/statements/{month}/close",
                  data={"csrf": csrf_of(form.text)}).status_code == 303
    closed_at = c.get("/api/finance/statements").json()["statements"]
    stamp = next(s["closed_at"] for s in closed_at if s["period"] == month)
    page = c.get("/finance/statements?lang=zh").text
    assert stamp not in page and stamp[:16] not in page
    row = re.search(rf"<th scope=\"row\">{month}</th>.*?</tr>", page, re.S)
    assert row and re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d 操作人 finance.one",
                             row.group(0)), row and row.group(0)


def test_amounts_have_separators_and_sit_right(site: Site) -> None:
    c = sign_in(site, account("finance"))
    page = c.get("/finance/chargeback?lang=zh").text
    amounts = re.findall(r'<td class="num">(-?\d{1,3}(?:,\d{3})+\.\d\d)</td>', page)
    assert len(amounts) > 10
    assert not re.search(r"<td>-?\d{4,}\.\d\d</td>", page)  # no amount left bare
    bill = sign_in(site, account("member")).get(f"/departments/{OWN}?lang=zh").text
    assert re.search(r'<td class="num total">\d{1,3}(,\d{3})*\.\d\d</td>', bill)


def test_downloads_speak_the_language(site: Site) -> None:
    member = sign_in(site, account("member"))
    zh = member.get(f"/departments/{OWN}/bill.csv?lang=zh").content.decode("utf-8-sig")
    assert zh.splitlines()[0] == "资源池,金额（元）" and "\n合计," in zh and "\n宿主机," in zh
    en = member.get(f"/departments/{OWN}/bill.csv?lang=en").content.decode("utf-8-sig")
    assert en.splitlines()[0] == "pool,yuan" and "\ntotal," in en
    finance = sign_in(site, account("finance"))
    sheet = finance.get("/finance/chargeback.csv?lang=zh").content.decode("utf-8-sig")
    assert sheet.splitlines()[0].startswith("部门,名称,宿主机,")
    assert "（闲置）,闲置容量（不分摊到部门）," in sheet and "\nfinance,青岛市财政局," in sheet


def _asked(response: Any) -> list[tuple[str, str]]:
    """The query string a page was loaded with, as (name, value) pairs, without ``lang``."""
    return [(k, v) for k, v in parse_qsl(urlsplit(str(response.url)).query) if k != "lang"]


def test_english_on_a_filtered_audit_page_keeps_its_filters_and_page(site: Site) -> None:
    store = site.store()
    try:  # enough sign-ins for a second page of them
        for i in range(60):
            trail.append(store, account("member"), "sign-in", account("member"), OWN, None,
                         {"n": i}, "", "portal")
    finally:
        store.close()
    c = sign_in(site, account("auditor"))
    asked = [("action", "sign-in"), ("department", OWN), ("sign_ins", "1"), ("page", "2")]
    zh = c.get("/audit?" + "&".join(f"{k}={v}" for k, v in asked) + "&lang=zh")
    shown = re.search(r"共 (\d+) 条，第 2 页，共 (\d+) 页。", zh.text)
    assert zh.status_code == 200 and shown and int(shown.group(2)) >= 2, zh.text[-3000:]
    en = follow_language(c, zh, "en")
    assert en.status_code == 200 and '<html lang="en">' in en.text
    assert _asked(en) == asked  # the same filters, search and page, in the same order
    assert f"{shown.group(1)} found; page 2 of {shown.group(2)}." in en.text
    assert '<option value="sign-in" selected>' in en.text
    assert f'<input id="department" name="department" value="{OWN}">' in en.text
    back = follow_language(c, en, "zh")
    assert _asked(back) == asked and '<html lang="zh-CN">' in back.text


def test_english_on_a_months_chargeback_keeps_the_month(site: Site) -> None:
    c = sign_in(site, account("finance"))
    zh = c.get("/finance/chargeback?period=2026-09&lang=zh")
    assert zh.status_code == 200
    en = follow_language(c, zh, "en")
    assert _asked(en) == [("period", "2026-09")]
    assert 'href="/finance/chargeback?period=2026-08">Previous month' in en.text
    assert 'href="/finance/chargeback?period=2026-10">Next month' in en.text


def test_the_kept_query_is_escaped_and_never_leads_off_the_site(site: Site) -> None:
    c = sign_in(site, account("auditor"))
    hostile = {"Referer": "https://evil.example/audit"}
    zh = c.get('/audit?q=%3Cscript%3E%22x&next=https%3A%2F%2Fevil.example%2F&lang=zh',
               headers=hostile)
    assert zh.status_code == 200 and "<script>" not in zh.text
    links = re.findall(r'<a href="([^"]*lang=(?:zh|en))"', zh.text)
    assert len(links) == 2 and all(h.startswith("?") for h in links), links
    assert all(urlsplit(urljoin(str(zh.url), unescape(h))).netloc == "testserver"
               for h in links)
    en = follow_language(c, zh, "en")
    assert _asked(en) == [("q", '<script>"x'), ("next", "https://evil.example/")]
    assert en.status_code == 200 and "<script>" not in en.text
    # a path that looks like another host (//evil.example) stays a path of this site
    lost = c.get("//evil.example/x?lang=zh", headers=hostile)
    assert lost.status_code == 404
    assert all(h.startswith("?") for h in re.findall(r'<a href="([^"]*lang=en)"', lost.text))
    # the sign-in form's next survives the switch, and a hostile one is still refused
    out = client(site)
    form = out.get("/login?next=%2Faudit%3Fpage%3D2&lang=zh")
    assert 'name="next" value="/audit?page=2"' in follow_language(out, form, "en").text
    form = out.get("/login?next=https%3A%2F%2Fevil.example%2F&lang=zh", headers=hostile)
    en_form = follow_language(out, form, "en")
    assert 'name="next" value="/"' in en_form.text and "evil.example" not in \
        en_form.text.split('name="next"')[1][:40]
