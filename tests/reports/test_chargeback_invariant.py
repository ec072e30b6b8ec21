"""Chargeback on generated estates: charges + idle = platform cost, to the fen, for every
split rule; a past month's charge does not move when a later price is added."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govcloud.estate.loader import load_book
from govcloud.finance.chargeback import (
    Adjustment,
    MonthCharges,
    Platform,
    chargeback,
    check_invariant,
    month_charges,
    split,
)
from govcloud.finance.period import Month
from govcloud.finance.pricebook import Dated, PriceBook, Source
from tests.support.estate import REPO
from tests.support.pyramid import sized

BOOK = load_book(REPO / "prices.yaml")
RULES = ("even", "usage", "weight")


def platform(hosts: int = 20) -> Platform:
    from govcloud.finance.chargeback import HostClassSize

    return Platform(owned={"intranet": {"x86-2s-std": hosts, "x86-2s-mem": hosts // 4},
                           "extranet": {"x86-2s-std": hosts // 2}},
                    in_use={"intranet": {"x86-2s-std": hosts // 2}},
                    classes={"x86-2s-std": HostClassSize("x86-2s-std", 48, 384, 7680),
                             "x86-2s-mem": HostClassSize("x86-2s-mem", 48, 768, 7680)})


def generated_usage(rng: random.Random, departments: int) -> dict[str, dict[str, float]]:
    out = {}
    for i in range(departments):
        servers = rng.randint(0, 12)
        out[f"dep-{i:04d}"] = {
            "vcpu": float(servers * rng.choice([1, 2, 4, 8])),
            "ram_gb": float(servers * rng.choice([2, 4, 8, 16, 32])),
            "disk_gb": float(servers * rng.choice([20, 40, 80])),
            "volume_gb": float(rng.choice([0, 50, 100, 1000, 3333])),
            "website": float(rng.randint(0, 4)),
            "backup_gb": float(rng.choice([0, 7, 150, 999.5])),
            "antivirus_seat": float(servers),
            "servers": float(servers), "volumes": 1.0,
        }
    return out


def book_with_rule(rule: str) -> PriceBook:
    """The example price book with every pool split by one rule."""
    pools = []
    for p in BOOK.pools:
        items = p.items or ("vcpu", "ram_gb")
        weights = {"dep-0001": Decimal("2.5"), "dep-0003": Decimal(0)} if rule == "weight" \
            else {}
        pools.append(replace(p, rule=rule, items=items, weights=weights))
    return replace(BOOK, pools=tuple(pools))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", range(5))
def test_invariant_for_every_rule(rule: str, seed: int) -> None:
    rng = random.Random(seed)
    usage = generated_usage(rng, rng.randint(1, 300))
    s = chargeback(book_with_rule(rule), Month(2026, 10), usage, platform(rng.randint(1, 40)))
    check_invariant(s)
    total = sum((d.total for d in s.departments), Decimal(0)) + s.idle
    assert total == s.platform_cost
    assert all(d.total == d.total.quantize(Decimal("0.01")) for d in s.departments)
    if rule != "usage":
        assert s.idle == 0
    else:
        assert s.idle > 0  # the example pool is far from full


def test_mixed_rules_as_in_the_example_book() -> None:
    usage = generated_usage(random.Random(7), 2000)
    s = chargeback(BOOK, Month(2026, 10), usage, platform(200))
    check_invariant(s)
    assert {p.rule for p in s.pools} == set(RULES)


@settings(max_examples=sized(ci=200, dev=100), deadline=None)
@given(total=st.integers(0, 10**12),
       weights=st.lists(st.decimals(0, 10**6, places=3), min_size=1, max_size=30))
def test_split_adds_up_to_the_fen(total: int, weights: list[Decimal]) -> None:
    """200 generated splits under CI=true, 100 elsewhere (tests/support/pyramid.py)."""
    named = {f"d{i:02d}": w for i, w in enumerate(weights)}
    if sum(weights) <= 0:
        with pytest.raises(ValueError):
            split(total, named)
        return
    parts = split(total, named)
    assert sum(parts.values()) == total
    for n, w in named.items():  # no share is off by more than one fen from exact
        exact = Decimal(total) * w / sum(weights)
        assert abs(parts[n] - exact) < 1


def test_past_period_keeps_its_price_when_a_later_one_is_added() -> None:
    usage = generated_usage(random.Random(3), 50)
    before = chargeback(BOOK, Month(2026, 10), usage, platform())
    src = Source("prices.yaml", 999, "added")
    later = replace(BOOK, units={**BOOK.units, "vcpu": (*BOOK.units["vcpu"],
                                                        Dated(Month(2026, 11), Decimal(99), src))},
                    pools=tuple(replace(p, yuan_per_month=(*p.yuan_per_month,
                                                           Dated(Month(2026, 11), Decimal(1), src)))
                                if p.cost == "fixed" else p for p in BOOK.pools),
                    tariff=(*BOOK.tariff, Dated(Month(2026, 11), Decimal(3), src)))
    after = chargeback(later, Month(2026, 10), usage, platform())
    assert after.as_dict() == before.as_dict()
    moved = chargeback(later, Month(2026, 11), usage, platform())
    assert moved.platform_cost != before.platform_cost
    check_invariant(moved)


def test_effective_dates_pick_the_last_price_not_after_the_period() -> None:
    assert BOOK.unit("vcpu", Month(2026, 6)).yuan == 35
    assert BOOK.unit("vcpu", Month(2026, 7)).yuan == 32
    assert BOOK.unit("vcpu", Month(2027, 3)).yuan == 32
    assert BOOK.unit("vcpu", Month(2026, 7)).source.line > 0


def _textbook_split(total: int, weights: dict[str, Decimal]) -> dict[str, int]:
    """Largest remainder with exact fractions: floor every share, the leftover fen one each
    to the largest remainders, ties to the name that sorts first."""
    whole = sum(Fraction(w) for w in weights.values())
    exact = {n: Fraction(total) * Fraction(w) / whole for n, w in weights.items()}
    out = {n: int(v) for n, v in exact.items()}
    order = sorted(exact, key=lambda n: (-(exact[n] - out[n]), n))
    for n in order[:total - sum(out.values())]:
        out[n] += 1
    return out


@settings(max_examples=sized(ci=300, dev=100), deadline=None)
@given(total=st.integers(0, 10**6),
       weights=st.lists(st.sampled_from([Decimal("0"), Decimal("1"), Decimal("2.5"),
                                          Decimal("0.125"), Decimal("7")]),
                        min_size=1, max_size=40),
       order=st.randoms(use_true_random=False))
def test_split_gives_leftover_fen_by_largest_remainder_then_name(
        total: int, weights: list[Decimal], order: Any) -> None:
    """Many equal weights (ties) and names in no particular order: the same fen as the
    textbook method."""
    names = [f"d{i:02d}" for i in range(len(weights))]
    order.shuffle(names)
    named = dict(zip(names, weights, strict=True))
    if sum(weights) <= 0:
        return
    assert split(total, named) == _textbook_split(total, named)


@pytest.mark.parametrize("seed", range(4))
def test_month_charges_equal_the_statements_totals(seed: int) -> None:
    """The span's lean path: every department's total (adjusted, and one with only an
    adjustment), idle and platform cost as the full statement has them, month to date too."""
    rng = random.Random(seed)
    usage = generated_usage(rng, rng.randint(1, 60))
    for row in usage.values():  # prorated: part of a month
        row["vcpu"] = round(row["vcpu"] * rng.random(), 6)
    adjustments = (Adjustment("dep-0000", Decimal("-12.5"), "credit", "a", "t"),
                   Adjustment("nobody", Decimal("40"), "debit", "a", "t"))
    hours = (rng.randint(1, 743), 744) if seed % 2 else None
    full = chargeback(BOOK, Month(2026, 10), usage, platform(60), hours, adjustments)
    lean = month_charges(BOOK, Month(2026, 10), usage, platform(60), hours, adjustments)
    assert lean == MonthCharges.of(full)
    assert {str(v) for v in lean.charges.values()} == \
        {str(d.total) for d in full.departments}


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("seed", range(3))
def test_unit_costs_reconcile_to_the_fen(rule: str, seed: int) -> None:
    """Every pool's cost is carried by the items to the fen, unit cost × units gives each
    item's cost back, and what departments paid adds up to the charges (idle left out)."""
    from govcloud.finance.unitcost import UNSPREAD, check_reconciled, unit_costs

    rng = random.Random(seed)
    usage = generated_usage(rng, rng.randint(1, 40))
    hours = (rng.randint(1, 743), 744) if seed else None
    s = chargeback(book_with_rule(rule), Month(2026, 10), usage, platform(40), hours)
    costs = unit_costs(s)
    check_reconciled(s, costs)
    assert UNSPREAD not in {c.item for c in costs}
    assert sum((c.cost for c in costs), Decimal(0)) == s.platform_cost
    # nobody used anything: the fixed costs have no unit to go to, and say so
    idle = chargeback(BOOK, Month(2026, 10), {"a": {}}, platform(40))
    costs = unit_costs(idle)
    check_reconciled(idle, costs)
    assert costs[-1].item == UNSPREAD and costs[-1].cost == idle.platform_cost
