"""The department's records and the finance statements in the portal: the last twelve
months' bills, backup drills and antivirus findings (only one's own department's), the
statements with their downloads, closing a month from the portal, and ``govcloud history``
naming who asked for and who approved what an apply applied. Figures are checked against
the CLI's JSON for the same month."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from govcloud.portal.formats import amount
from tests.portal.conftest import OTHER, OWN, Site, account, csrf_of, sign_in
from tests.support.cli import NOW, govcloud


def _cli_json(site: Site, *args: str) -> Any:
    done = govcloud(*args, "-o", "json", estate=site.estate, env=NOW, check=True)
    return json.loads(done.stdout)


def _charge(site: Site, period: str, department: str) -> str:
    rows = _cli_json(site, "report", "chargeback", "--period", period)["departments"]
    return next(d["total"] for d in rows if d["department"] == department)


@pytest.fixture(scope="module")
def october(site: Site) -> str:
    """October's usage, collected (a whole month, so it can be closed)."""
    govcloud("usage", "collect", "--period", "2026-10", estate=site.estate, env=NOW,
             check=True)
    return "2026-10"


def test_the_last_twelve_months_bills_are_the_clis(site: Site, october: str) -> None:
    c = sign_in(site, account("member"))
    bills = c.get(f"/api/departments/{OWN}").json()["bills"]
    assert [b["period"] for b in bills] == [f"2026-{m:02d}" for m in range(11, 0, -1)] + [
        "2025-12"]
    by = {b["period"]: b for b in bills}
    assert by["2026-11"]["state"] == "month-to-date"
    assert by["2026-10"]["state"] == "open"
    assert by["2026-09"] == {"period": "2026-09", "state": "no usage", "total": None}
    for period in ("2026-11", october):
        assert by[period]["total"] == _charge(site, period, OWN)
    page = c.get(f"/departments/{OWN}?lang=en").text
    assert "Bills of the last twelve months" in page and \
        f'<td class="num">{amount(by["2026-10"]["total"], "en")}</td>' in page
    assert f'href="/departments/{OWN}/statements/2026-10.html"' in page


def test_the_twelve_bills_are_a_chart(site: Site, october: str) -> None:
    """#23: a department's last twelve months as an inline SVG chart (no script): twelve
    months named, oldest first, a bar for each month with a bill, its title the month and
    the amount, the highest bill the tallest bar (the page had only the table)."""
    import re

    c = sign_in(site, account("member"))
    bills = {b["period"]: b["total"] for b in c.get(f"/api/departments/{OWN}").json()["bills"]}
    page = c.get(f"/departments/{OWN}?lang=zh").text
    chart = re.search(r'<svg class="bills".*?</svg>', page, re.S)
    assert chart and 'aria-label="近十二个月账单"' in chart.group(), page[-3000:]
    labels = re.findall(r"<text [^>]*>([^<]+)</text>", chart.group())
    assert labels == [p[2:] for p in sorted(bills)], labels
    bars = {t: float(h) for t, h in re.findall(
        r"<title>([^<]+)</title><rect [^>]*height=\"([\d.]+)\"", chart.group())}
    billed = {p: v for p, v in bills.items() if v is not None}
    assert set(bars) == {f"{p}: {amount(v, 'zh')}" for p, v in billed.items()}, bars
    top = max(billed, key=lambda p: float(billed[p]))
    assert bars[f"{top}: {amount(billed[top], 'zh')}"] == max(bars.values()) == 140.0


def test_a_department_statement_downloads_for_its_own_only(site: Site, october: str) -> None:
    c = sign_in(site, account("member"))
    r = c.get(f"/departments/{OWN}/statements/{october}.html")
    assert r.status_code == 200 and "inline" in r.headers["content-disposition"]
    assert _charge(site, october, OWN).replace(".", "") in r.text.replace(",", "").replace(
        ".", "")
    assert c.get(f"/departments/{OTHER}/statements/{october}.html").status_code == 403
    assert c.get(f"/departments/{OWN}/statements/2026-13.html").status_code == 404


def _state_folder(site: Site) -> Path:
    return site.estate / ".state" / "services"


def _seed_records(site: Site) -> None:
    """What govcloud report backup and report security leave in the state folder: a status
    per department and site, and scan logs per host and department."""
    folder = _state_folder(site)
    folder.mkdir(parents=True, exist_ok=True)
    statuses = []
    for dep, ok in ((OWN, True), (OTHER, False)):
        for site_name in ("primary", "dr"):
            statuses.append({
                "department": dep, "site": site_name, "host": f"bk-{site_name}",
                "checked_at": "2026-11-26T11:00:00Z",
                "last_snapshot": "2026-11-26T10:00:00Z", "snapshots": 12,
                "size_bytes": 1000, "drill_at": f"2026-11-2{4 if site_name == 'dr' else 5}"
                                                "T03:00:00Z",
                "drill_status": "ok" if ok else "failed: checksum mismatch-" + dep,
                "drill_restore_seconds": 12.5, "error": ""})
    (folder / "backup-status.json").write_text(json.dumps(statuses))
    for dep in (OWN, OTHER):
        logs = folder / "fetched" / "security" / "web-1" / dep
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "20261120T010000Z.log").write_text(f"/srv/{dep}/old.php: Old.Sig FOUND\n")
        (logs / "20261126T010000Z.log").write_text(
            f"/srv/{dep}/shell.php: Php.Webshell-{dep} FOUND\n")


def test_drills_and_findings_of_ones_own_department_only(site: Site) -> None:
    _seed_records(site)
    c = sign_in(site, account("member"))
    data = c.get(f"/api/departments/{OWN}").json()
    assert {(d["site"], d["drill_ok"], d["drill_at"]) for d in data["drills"]} == {
        ("primary", True, "2026-11-25T03:00:00Z"), ("dr", True, "2026-11-24T03:00:00Z")}
    assert data["security"]["last_scan"] == "2026-11-26T01:00:00Z"
    assert [(f["path"], f["signature"]) for f in data["security"]["findings"]] == [
        (f"/srv/{OWN}/shell.php", f"Php.Webshell-{OWN}")]  # the latest scan only
    page = c.get(f"/departments/{OWN}").text
    # the drill of 2026-11-25T03:00:00Z, in the estate's zone (Asia/Shanghai)
    assert f"Php.Webshell-{OWN}" in page and "2026年11月25日 11:00" in page
    for leak in (f"Php.Webshell-{OTHER}", f"mismatch-{OTHER}", f"/srv/{OTHER}/"):
        assert leak not in page and leak not in json.dumps(data, ensure_ascii=False)
    assert c.get(f"/departments/{OTHER}").status_code == 403
    assert c.get(f"/api/departments/{OTHER}").status_code == 403
    other = sign_in(site, account("operator")).get(f"/api/departments/{OTHER}").json()
    assert {d["drill_ok"] for d in other["drills"]} == {False}
    assert other["security"]["findings"][0]["signature"] == f"Php.Webshell-{OTHER}"


def test_finance_closes_a_month_once_and_it_shows_closed(site: Site, october: str) -> None:
    c = sign_in(site, account("finance"))
    listed = {s["period"]: s for s in c.get("/api/finance/statements").json()["statements"]}
    assert listed[october]["state"] == "open" and listed["2026-11"]["state"] == "month-to-date"
    cli = _cli_json(site, "report", "chargeback", "--period", october)
    assert listed[october]["platform_cost"] == cli["platform_cost"]
    assert listed[october]["idle"] == cli["idle"]
    csv = c.get(f"/finance/statements/{october}/chargeback.csv?lang=en")
    cli_csv = govcloud("report", "chargeback", "--period", october, "-o", "csv",
                       estate=site.estate, env=NOW, check=True).stdout
    assert csv.content.decode("utf-8-sig").splitlines() == cli_csv.lstrip(
        "\ufeff").splitlines()

    form = c.get(f"/finance/statements/{october}/close")
    assert form.status_code == 200 and 'name="csrf"' in form.text
    assert c.get("/finance/statements/2026-11/close?lang=en").text.count(
        "not over yet") == 1  # no form for a month still running
    r = c.post(f"/finance/statements/{october}/close", data={"csrf": csrf_of(form.text)})
    assert r.status_code == 303 and r.headers["location"] == f"/finance/statements?closed={october}"

    listed = {s["period"]: s for s in c.get("/api/finance/statements").json()["statements"]}
    assert listed[october]["state"] == "closed"
    assert listed[october]["closed_by"] == account("finance")
    assert listed[october]["closed_at"].startswith("2026-11-26T12:00:00")
    member = sign_in(site, account("member"))
    bills = {b["period"]: b for b in member.get(f"/api/departments/{OWN}").json()["bills"]}
    assert bills[october]["state"] == "closed"
    assert bills[october]["total"] == _charge(site, october, OWN)
    assert "已结账" in member.get(f"/departments/{OWN}").text

    again = c.post(f"/finance/statements/{october}/close", data={"csrf": csrf_of(form.text)})
    assert again.status_code == 409 and f"{october} is already closed" in again.text
    assert "Traceback" not in again.text
    api = c.post(f"/api/finance/statements/{october}/close", json={},
                 headers={"x-csrf-token": csrf_of(form.text)})
    assert api.status_code == 409 and "already closed" in api.json()["error"]
    assert "already closed" in c.get(f"/finance/statements/{october}/close?lang=en").text

    trail = sign_in(site, account("auditor")).get("/api/audit").json()["entries"]
    closes = [e for e in trail if e["action"] == "statement close"]
    assert [(e["actor"], e["subject"], e["source"]) for e in closes] == [
        (account("finance"), f"statement {october}", "portal")]
    finance_trail = _cli_json(site, "statement", "audit", "--period", october)
    assert [(r["action"], r["who"]) for r in finance_trail] == [("close", account("finance"))]


def test_operators_cannot_close_a_month(site: Site, october: str) -> None:
    c = sign_in(site, account("operator"))
    page = c.get("/finance/statements").text
    assert "/close" not in page
    r = c.post(f"/finance/statements/{october}/close",
               data={"csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 403


def test_history_names_who_asked_and_who_approved(site: Site) -> None:
    number = site.requests[OWN]  # a quota raise for OWN filed by the member, waiting
    c = sign_in(site, account("operator"))
    page = c.get(f"/departments/{OWN}/requests/{number}")
    r = c.post(f"/departments/{OWN}/requests/{number}/approve",
               data={"csrf": csrf_of(page.text), "reason": "ok"})
    assert r.status_code == 303
    govcloud("apply", "--yes", estate=site.estate, env=NOW, check=True)
    applies = _cli_json(site, "history")
    newest, first = applies[0], applies[-1]
    assert [(q["id"], q["requester"], q["approvers"]) for q in newest["requests"]] == [
        (number, account("member"), [f"{account('operator')} (operator)"])]
    assert first["requests"] == []  # the estate's first apply applied no request
    ops = c.get("/operations?lang=en").text
    assert f'requests/{number}">request {number}</a> asked by {account("member")}' in ops
    text = govcloud("history", estate=site.estate, env=NOW, check=True).stdout
    assert (f"request {number} ({OWN}, quota) asked by {account('member')}, approved by "
            f"{account('operator')} (operator)") in text


def _approved(n: int, at: str, by: tuple[str, ...] = ("op.one",)) -> Any:
    from govcloud.requests.records import Request

    return Request(n, OWN, "quota", "member.one", "approved", {}, "", {},
                   [{"role": "operator", "by": b, "at": at} for b in by], "t0", at, "")


def test_the_rule_that_credits_an_approved_request_to_an_apply() -> None:
    """After the previous apply that finished ok started, up to this apply's start."""
    from govcloud.applying.engine import applied_requests

    approved = [_approved(1, "2026-11-01T10:00:00Z"), _approved(2, "2026-11-02T10:00:00Z"),
                _approved(3, "2026-11-03T10:00:00Z", ()), _approved(4, "2026-11-05T10:00:00Z")]
    got = applied_requests(approved, "2026-11-01T12:00:00Z", "2026-11-04T00:00:00Z")
    assert [q["id"] for q in got] == [2, 3]  # 1 before the last ok apply, 4 after this one
    assert got[0]["approvers"] == ["op.one (operator)"] and got[1]["approvers"] == []
    assert got[1]["approved_at"] == "2026-11-03T10:00:00Z"  # approved at once: changed_at
    assert [q["id"] for q in applied_requests(approved, "", "2026-11-01T10:00:00Z")] == [1]


def test_a_department_page_reads_its_own_scan_logs_and_the_statuses_once_per_change(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """#23 speed: one department's page reads that department's scan logs, not every
    department's (2,000 departments' logs on every page load), and the saved backup
    statuses of every department once per change of their file, not once per page."""
    _seed_records(site)
    c = sign_in(site, account("member"))
    c.get(f"/departments/{OWN}")  # what an earlier page left read is not counted
    read: list[Path] = []
    real = Path.read_text

    def counted(path: Path, *args: Any, **kwargs: Any) -> str:
        read.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    for _ in range(3):
        assert f"Php.Webshell-{OWN}" in c.get(f"/departments/{OWN}").text
    logs = [p for p in read if "fetched" in p.parts]
    assert logs and {p.parent.name for p in logs} == {OWN}, logs
    assert not [p for p in read if p.name == "backup-status.json"]  # kept from before
    statuses = _state_folder(site) / "backup-status.json"
    saved = json.loads(statuses.read_text())
    for s in saved:
        s["drill_status"] = "failed: restored nothing" if s["department"] == OWN else \
            s["drill_status"]
    statuses.write_text(json.dumps(saved))  # what the next report backup leaves
    page = c.get(f"/departments/{OWN}?lang=en").text
    assert "restored nothing" in page and "Php.Webshell" in page
