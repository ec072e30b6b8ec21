"""finance.rerate: what changed between a month as last rated and as rated now, and why."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from govcloud.finance.chargeback import chargeback
from govcloud.finance.closing import cited_lines
from govcloud.finance.period import Month
from govcloud.finance.rerate import Rating, diff
from tests.finance.small import PRICES, USAGE, book, platform

SEPTEMBER = Month(2026, 9)


def rating(prices: str = PRICES, how: str = "rerate") -> Rating:
    s = chargeback(book(prices), SEPTEMBER, USAGE, platform())
    cites = [x.source for p in s.pools for x in p.lines] + [c for _, c in s.rates.values()]
    return Rating(s, f"sha256:{len(prices)}", cited_lines(cites, {"prices.yaml": prices}),
                  "2026-10-01T00:00:00Z", "finance", how)


def test_a_month_never_rated_shows_every_figure_new() -> None:
    r = diff(None, rating())
    assert r.baseline == "never rated before" and r.changed
    assert [(d.department, d.old, d.new) for d in r.departments] == [
        ("a", 0, Decimal("2511.87")), ("b", 0, Decimal("1269.75"))]


def test_the_same_rating_again_changes_nothing() -> None:
    r = diff(rating(), rating())
    assert not r.changed and r.departments == () and r.period == SEPTEMBER


def test_a_dearer_pool_moves_each_share_and_says_which_price_line() -> None:
    old = rating()
    new = rating(PRICES.replace("yuan: 900}", "yuan: 1100}"))
    r = diff(old, new)
    # the network pool 900 → 1,100 split evenly: each department + 100
    assert [(d.department, d.delta) for d in r.departments] == [("a", 100), ("b", 100)]
    a = r.departments[0]
    assert [(c.what, c.old, c.new) for c in a.lines] == [("network", 450, 550)]
    assert [(c.what, c.old, c.new) for c in r.price_lines] == [
        ("pools.network.yuan_per_month from 2026-01",
         "yuan_per_month: [{from: 2026-01, yuan: 900}]",
         "yuan_per_month: [{from: 2026-01, yuan: 1100}]")]
    assert (r.platform.old, r.platform.new) == (Decimal("7147.50"), Decimal("7347.50"))
    assert r.rates == ()  # the rate card did not move
    assert r.book.old != r.book.new


def test_the_baseline_says_what_the_month_is_compared_with() -> None:
    closed = rating(how="closed")
    assert diff(closed, rating()).baseline == "as closed at 2026-10-01T00:00:00Z by finance"
    assert diff(rating(), rating()).baseline == \
        "as re-rated at 2026-10-01T00:00:00Z by finance"


def test_a_rating_reads_back_what_it_wrote_and_has_a_stable_digest() -> None:
    r = rating()
    assert Rating.from_dict(r.as_dict()) == r
    assert r.digest() == Rating.from_dict(r.as_dict()).digest()
    assert r.digest().startswith("sha256:")


def test_a_price_line_is_known_by_what_it_prices_and_its_month_not_its_line_number() -> None:
    """#20 case 7: one line inserted in prices.yaml listed every line below it as changed
    ("prices.yaml:31 … 0.85 → —"); a price line is its key path and valid-from."""
    old = rating()
    moved = rating("# a comment line added at the top\n" + PRICES)
    assert moved.price_lines != old.price_lines  # the line numbers did move
    r = diff(old, moved)
    assert r.price_lines == () and not r.changed
    assert "units.vcpu from 2026-07" in old.cited()  # the vCPU rate in force in September
    dearer = rating(PRICES.replace("{from: 2026-07, yuan: 8}", "{from: 2026-07, yuan: 9}"))
    assert [(c.what, c.old, c.new) for c in diff(old, dearer).price_lines] == [
        ("units.vcpu from 2026-07", "- {from: 2026-07, yuan: 8}", "- {from: 2026-07, yuan: 9}")]


def test_the_closed_baseline_names_who_closed_and_the_reopen_beside_it() -> None:
    closed = replace(rating(how="closed"), reopened={
        "at": "2026-10-03T09:00:00Z", "by": "auditor", "reason": "tariff wrong"})
    assert diff(closed, rating()).baseline == (
        "as closed at 2026-10-01T00:00:00Z by finance (reopened at 2026-10-03T09:00:00Z by "
        "auditor: tariff wrong)")
    assert Rating.from_dict(closed.as_dict()) == closed
