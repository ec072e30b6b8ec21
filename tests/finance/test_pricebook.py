"""finance.pricebook: effective-dated prices read from YAML into exact values, every problem
at once, every figure with the line it came from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from govcloud.core.documents import parse
from govcloud.finance.period import Month
from govcloud.finance.pricebook import D, NoPrice, parse_book
from tests.finance.small import PRICES, book

BOOK = book()


def line(n: int) -> str:
    return PRICES.splitlines()[n - 1]


def test_a_price_applies_from_its_month_until_the_next() -> None:
    # vcpu: 10 from 2026-01, 8 from 2026-07
    assert BOOK.unit("vcpu", Month(2026, 6)).yuan == 10
    assert BOOK.unit("vcpu", Month(2026, 7)).yuan == 8
    assert BOOK.unit("vcpu", Month(2027, 3)).yuan == 8  # the last one stays in force


def test_every_price_keeps_the_line_it_came_from() -> None:
    p = BOOK.unit("vcpu", Month(2026, 7))
    assert p.source.file == "prices.yaml" and p.source.path == "units.vcpu[1]"
    assert "from: 2026-07, yuan: 8" in line(p.source.line)


def test_no_price_before_the_first_one_says_which_entry_to_add() -> None:
    with pytest.raises(NoPrice) as exc:
        BOOK.unit("vcpu", Month(2025, 12))
    d = exc.value.diagnostics[0]
    assert d.message == "no price in force for 2025-12 (the first one applies from 2026-01)"
    assert d.hint == "add an entry with 'from: 2025-12' or earlier"


def test_money_is_exact_decimal_yuan() -> None:
    assert BOOK.unit("disk_gb", Month(2026, 1)).yuan == Decimal("0.1")  # not 0.1000000000000000055…
    assert D(0.85) == Decimal("0.85")
    # 3 × 0.1 is 0.3 exactly in Decimal (0.30000000000000004 in float)
    assert BOOK.unit("disk_gb", Month(2026, 1)).yuan * 3 == Decimal("0.3")


def test_the_tariff_and_pue_change_from_their_months_on() -> None:
    assert BOOK.tariff_for(Month(2026, 9)).yuan == Decimal("1.0")
    assert BOOK.tariff_for(Month(2026, 10)).yuan == Decimal("0.5")
    assert BOOK.pue_for(Month(2026, 11)).yuan == Decimal("1.5")
    assert BOOK.pue_for(Month(2026, 12)).yuan == Decimal("1.25")
    # the change names pue only: the legacy PUE stays, with its own line
    legacy = BOOK.pue_for(Month(2026, 12), legacy=True)
    assert legacy.yuan == 2 and legacy.source.path == "power.legacy_pue"
    assert BOOK.pue_for(Month(2026, 12)).source.path == "power.changes[0]"


def test_a_host_class_costs_what_its_change_says_from_its_month_on() -> None:
    before, after = BOOK.host_class("std", Month(2026, 12)), BOOK.host_class("std", Month(2027, 1))
    assert before.purchase_yuan == 120000 and after.purchase_yuan == 60000
    assert after.power_w == 500  # what the change does not name stays
    # write-off a month: 120,000 / 5 years / 12 = 2,000; after the change 60,000 / 5 / 12
    assert before.amortisation_per_year() / 12 == 2000
    assert after.amortisation_per_year() / 12 == 1000
    assert after.source.path == "host_classes.std.changes[0]"


def test_power_of_a_machine_a_year() -> None:
    old = BOOK.legacy_class("old", Month(2026, 1))
    # 200 W × 8,760 h × PUE 2 / 1000 = 3,504 kWh a year
    assert old.power_kwh_per_year(Decimal(2)) == 3504


def test_staff_costs() -> None:
    assert BOOK.staff_for(Month(2026, 1)).yuan == 120000
    assert BOOK.staff_for(Month(2026, 1), "legacy_website_yuan_per_year").yuan == 2400


def test_a_fixed_pool_costs_its_price_in_force() -> None:
    network = next(p for p in BOOK.pools if p.name == "network")
    assert BOOK.pool_cost(network, Month(2026, 3)).yuan == 900


def test_rates_are_the_whole_rate_card() -> None:
    rates = BOOK.rates(Month(2026, 9))
    assert {k: v.yuan for k, v in rates.items()} == {
        "vcpu": 8, "ram_gb": 2, "disk_gb": Decimal("0.1"), "volume_gb": Decimal("0.5"),
        "website": 100, "backup_gb": Decimal("0.2"), "antivirus_seat": 5}


def test_a_price_from_before_1970_still_loads_and_applies() -> None:
    text = PRICES.replace("vcpu:\n    - {from: 2026-01, yuan: 10}",
                          "vcpu:\n    - {from: 1960-01, yuan: 10}")
    assert book(text).unit("vcpu", Month(1970, 1)).yuan == 10


def test_every_problem_is_reported_at_once_with_its_line() -> None:
    text = PRICES.replace("    - {from: 2026-07, yuan: 8}",
                          "    - {from: 2026-01, yuan: 8}")  # two vCPU prices from 2026-01
    text = text.replace("  - name: network\n    yuan_per_month: [{from: 2026-01, yuan: 900}]\n",
                        "  - name: network\n")  # a fixed pool with no price
    doc, _ = parse(text, "prices.yaml")
    assert doc is not None
    got, problems = parse_book(doc, host_classes={"std", "big"})
    assert [(p.path, p.message) for p in problems] == [
        ("units.vcpu[1].from", "two prices from 2026-01 (also entry 0)"),
        ("pools[1]", "a fixed pool needs yuan_per_month"),
        ("host_classes", "no price for host_class 'big' used by the estate"),
    ]
    assert "{from: 2026-01, yuan: 8}" in text.splitlines()[problems[0].line - 1]
    assert got is not None  # the book is built; the problems refuse it (estate.loader)


def test_a_schema_error_returns_no_book() -> None:
    doc, _ = parse(PRICES.replace("yuan: 10}", "yuan: -10}"), "prices.yaml")
    assert doc is not None
    got, problems = parse_book(doc)
    assert got is None and problems and problems[0].path == "units.vcpu[0].yuan"
