"""#22 case 15, the money and months: ``--yuan 9999999999999999999999999.99`` was taken (the
total then rounded at 28 digits) and ``--period 1970-01`` was taken or answered "run usage
collect --period 1970-01 first" (which fails: nothing ran then). A month before the estate's
dated record began, or a range reaching further ahead than a forecast can, is refused with
one line naming the months there are.

The golden estate was applied on 2026-01-01 (its record begins in 2026-01); it is now
2026-11-26 (tests/reports/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import BUILT, NOW, govcloud, one_line
from tests.support.estate import golden_estate

RANGE = "is before the estate's record began (2026-01): nothing of it ran then — give a " \
        "month from 2026-01 to 2026-11"


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden estate applied and October collected, once: every test here is refused."""
    root = golden_estate(tmp_path_factory.mktemp("range"))
    govcloud("apply", "--yes", "-o", "json", estate=root, check=True, env=BUILT)
    govcloud("usage", "collect", "--period", "2026-10", estate=root, check=True, env=NOW)
    return root


@pytest.mark.parametrize(("args", "said"), [
    (["statement", "adjust", "--period", "2026-10", "--department", "alpha", "--yuan",
      "9999999999999999999999999.99", "--reason", "typo"],
     "--yuan 9999999999999999999999999.99 is beyond what one adjustment may be"),
    (["statement", "adjust", "--period", "1970-01", "--department", "alpha", "--yuan", "5",
      "--reason", "typo"], f"1970-01 {RANGE}"),
    (["report", "chargeback", "--period", "1970-01"], f"1970-01 {RANGE}"),
    (["report", "statement", "--period", "2025-12", "--department", "alpha"],
     f"2025-12 {RANGE}"),
    (["usage", "collect", "--period", "1970-01"], f"1970-01 {RANGE}"),
    (["report", "chargeback", "--from", "1970-01"], "--from 1970-01 --to 2026-11 is further "
     "than a report reaches: at most 120 months"),
    (["report", "chargeback", "--from", "2026-10", "--to", "9998-12"],
     "--from 2026-10 --to 9998-12 is further than a report reaches: at most 120 months, "
     "forecast up to 60 months ahead — give --to 2031-11 at the latest"),
    (["statement", "adjust", "--period", "2099-01", "--department", "alpha", "--yuan", "5",
      "--reason", "typo"], "2099-01 has not begun (it is 2026-11-26 now) — give a month up "
     "to 2026-11"),
], ids=lambda v: " ".join(a for a in v if a[:2] != "--" or a in ("--from", "--to"))[:60]
    if isinstance(v, list) else "")
def test_a_month_or_amount_out_of_range_is_refused_with_the_range(
        golden: Path, args: list[str], said: str) -> None:
    one_line(govcloud(*args, estate=golden), said)
    assert "1970" not in govcloud("statement", "audit", estate=golden).stdout


def test_the_furthest_forecast_is_taken(golden: Path) -> None:
    got = govcloud("report", "chargeback", "--from", "2026-10", "--to", "2031-11", "-o",
                   "csv", estate=golden, check=True).stdout
    assert "2031-11 (forecast)" in got.splitlines()[0]
