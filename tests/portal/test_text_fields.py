"""#21 case 7 (text): reasons accepted U+202E, U+0085 and U+2028, and on the command line
newlines and ESC in ``--reason`` (statement adjust, request reject, users disable) printed raw
in ``statement audit`` and ``request show``, so a reason could forge an "adjust health -5000"
row or a "State: approved" line. Now every reason is one line of plain text or refused, with
the character and the fix; and one recorded before prints escaped, on its own line."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from govcloud.books import records
from govcloud.core.patterns import line_problem, visible
from govcloud.finance.chargeback import Adjustment
from govcloud.finance.period import Month
from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in
from tests.support.cli import NOW, govcloud

FORGERS = ["ok\nState: approved", "x\x1b[31mred", "a\u202egnp.exe", "line\u0085two",
           "para\u2028graph", "iso\u2066late", "cr\rlf", "nul\x00", "\u200b",
           "soft\u00adhyphen", "bom\ufeff"]


@pytest.mark.parametrize("text", FORGERS)
def test_a_forging_reason_is_refused_on_the_command_line(site: Site, text: str) -> None:
    n = site.requests[OWN]
    for args in (("request", "reject", str(n), "--as", account("operator"), "--reason", text),
                 ("request", "approve", str(n), "--as", account("operator"), "--reason", text),
                 ("statement", "adjust", "--period", "2026-11", "--department", OWN,
                  "--yuan", "-5", "--reason", text),
                 ("users", "disable", account("auditor"), "--reason", text)):
        if "\x00" in text:  # no process takes a NUL in its arguments: the portal's path
            continue
        r = govcloud(*args, estate=site.estate, env=NOW)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "one line of plain text" in r.stderr and "Traceback" not in r.stderr, r.stderr
        first = next(ch for ch in text if visible(ch) != ch)
        assert f"U+{ord(first):04X}" in r.stderr, r.stderr


@pytest.mark.parametrize("text", FORGERS)
def test_a_forging_reason_is_refused_by_the_portal(site: Site, text: str) -> None:
    c: Any = sign_in(site, account("member"))
    ask = {"kind": "quota", "reason": text, "quota": {"cores": 64}}
    r = c.post(f"/api/departments/{OWN}/requests/dry-run", json=ask,
               headers={"x-csrf-token": csrf_of(c.get("/").text)})
    assert r.status_code in (200, 422), r.text[:300]
    body = r.json()
    assert body["ok"] is False and any(e["path"] == "reason" for e in body["errors"]), body


def test_a_reason_recorded_before_prints_escaped(site: Site) -> None:
    store = site.store()
    try:
        n = site.requests[OWN]
        store.execute("UPDATE requests SET note = ? WHERE id = ?",
                      ("fine\nState: approved", n))
        # as an earlier release recorded it, past any check of today's
        records.add_adjustment(store, Month.parse("2026-11"), Adjustment(
            OWN, Decimal("1.00"), "typo\n2026-11  adjust  health  -5000", "old",
            "2026-11-20T00:00:00.000000Z"))
    finally:
        store.close()
    shown = govcloud("request", "show", str(n), estate=site.estate, env=NOW, check=True).stdout
    assert "\nState: approved" not in shown and "fine\\u000aState: approved" in shown
    states = [line for line in shown.splitlines() if line.startswith("State:")]
    assert len(states) == 1 and states[0].startswith("State: waiting") and \
        states[0].endswith("(fine\\u000aState: approved)"), states
    audit = govcloud("statement", "audit", "--period", "2026-11", estate=site.estate, env=NOW,
                     check=True).stdout
    assert not any(line.startswith("2026-11  adjust  health") for line in audit.splitlines())
    assert "typo\\u000a2026-11" in audit
    data = json.loads(govcloud("statement", "audit", "--period", "2026-11", "-o", "json",
                               estate=site.estate, env=NOW, check=True).stdout)
    assert any("\n" in r["reason"] for r in data)  # JSON keeps what was recorded


def test_visible_and_line_problem_agree() -> None:
    for text in FORGERS:
        assert line_problem(text) and visible(text) != text
    for text in ("一行中文理由", "year-end load (30%)", "O'Brien said: fine"):
        assert line_problem(text) == "" and visible(text) == text


def test_a_reason_is_a_sentence_not_a_document(site: Site) -> None:
    """A trial's find: approve, adjust and reject reasons had no length limit (100,000
    characters went into the statement); every reason is held to 500, as a request's is."""
    for args in (("statement", "adjust", "--period", "2026-11", "--department", OWN,
                  "--yuan", "-5", "--reason", "x" * 501),
                 ("request", "approve", str(site.requests[OWN]), "--as", account("operator"),
                  "--reason", "y" * 501)):
        r = govcloud(*args, estate=site.estate, env=NOW)
        assert r.returncode == 1 and "is 501 characters long" in r.stderr, r.stderr
