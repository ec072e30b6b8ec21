"""Values that used to get past validation and crash or corrupt later commands: non-finite
numbers, address pools that are not networks or overlap (issue #11, items 4 and 6). The
validation outcomes themselves are data cases (cases/nan-and-infinity, cases/pool-*); these
are the commands after it: nothing reaches a report, the store or the cloud."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import govcloud
from tests.support.estate import edit, line_of


def _edit(path: Path, old: str, new: str) -> None:
    edit(path, old, new, count=None)


def _clean(proc: object) -> None:
    out = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in out and "Internal error" not in out
    assert "InvalidOperation" not in out and "NaN" not in proc.stdout  # type: ignore[attr-defined]


def test_non_finite_numbers_reach_no_report_and_no_store(estate: Path) -> None:
    finance = estate / "plans" / "finance.yaml"
    _edit(finance, "antivirus_yuan_per_year: 18000", "antivirus_yuan_per_year: .inf")
    _edit(finance, "admin_staff: 2", "admin_staff: .nan")
    _edit(finance, "load: {cpu: 0.45, ram: 0.8}", "load: {cpu: .NaN, ram: 0.8}")
    for command in (["report", "savings", "--period", "2026-10"], ["apply", "--yes"]):
        proc = govcloud(*command, estate=estate)
        assert proc.returncode == 1, command
        _clean(proc)
        assert ("plans/finance.yaml:60: legacy.antivirus_yuan_per_year: .inf is not a finite "
                "number (NaN and infinity are not amounts) — write a number such as 0.5"
                ) in proc.stderr
        assert "plans/finance.yaml:59: legacy.admin_staff: .nan is not a finite" in proc.stderr
        assert "servers[0].load.cpu: .NaN is not a finite number" in proc.stderr
    assert not (estate / ".state").exists() or _applied_nothing(estate, finance)


def _applied_nothing(estate: Path, finance: Path) -> bool:
    _edit(finance, "antivirus_yuan_per_year: .inf", "antivirus_yuan_per_year: 18000")
    _edit(finance, "admin_staff: .nan", "admin_staff: 2")
    _edit(finance, "load: {cpu: .NaN, ram: 0.8}", "load: {cpu: 0.45, ram: 0.8}")
    plan = json.loads(govcloud("plan", "-o", "json", estate=estate, check=True).stdout)
    return bool(plan["changes"]) and {c["action"] for c in plan["changes"]} == {"create"}


def test_bad_or_overlapping_pools_apply_nothing(estate: Path) -> None:
    settings = estate / "govcloud.yaml"
    original = settings.read_text()
    intranet = line_of(settings, "intranet: 10.20.0.0/16")
    extranet = line_of(settings, "extranet: 10.40.0.0/16")
    bad = {"intranet: 10.20.0.0/33": f"govcloud.yaml:{intranet}: networks.intranet: "
                                     "'10.20.0.0/33' is not an IPv4 network",
           "extranet: 10.20.0.0/16": f"govcloud.yaml:{extranet}: networks.extranet: "
                                     "10.20.0.0/16 overlaps networks.intranet (10.20.0.0/16)"}
    for change, message in bad.items():
        zone = change.split(":")[0]
        settings.write_text(original)
        edit(settings, f"{zone}: 10.{20 if zone == 'intranet' else 40}.0.0/16", change)
        proc = govcloud("apply", "--yes", estate=estate)
        assert proc.returncode == 1
        _clean(proc)
        assert message in proc.stderr
        assert "the estate does not validate; nothing was done" in proc.stderr
    settings.write_text(original)
    plan = json.loads(govcloud("plan", "-o", "json", estate=estate, check=True).stdout)
    assert plan["changes"] and {c["action"] for c in plan["changes"]} == {"create"}


def test_non_finite_prices_are_refused_at_their_line(tmp_path: Path) -> None:
    from govcloud.errors import ValidationFailed
    from govcloud.estate.loader import load_book
    from tests.support.estate import REPO

    text = (REPO / "prices.yaml").read_text()
    book = tmp_path / "prices.yaml"
    first = next(line for line in text.splitlines() if "yuan:" in line)
    book.write_text(text)
    edit(book, first, first.split("yuan:")[0] + "yuan: .inf}", count=None)
    line = text.splitlines().index(first) + 1
    try:
        load_book(book, "prices.yaml")
    except ValidationFailed as exc:
        rendered = exc.render()
    else:
        raise AssertionError("a price of infinity was accepted")
    assert rendered.startswith(f"prices.yaml:{line}: ")
    assert ".inf is not a finite number (NaN and infinity are not amounts)" in rendered
