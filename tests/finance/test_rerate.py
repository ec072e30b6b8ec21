"""finance.rerate: what changed between a month as last rated and as rated now, and why."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from govcloud.finance.chargeback import chargeback
from govcloud.finance.period import Month
from govcloud.finance.rerate import Rating, diff
from tests.finance.small import PRICES, USAGE, book, platform

SEPTEMBER = Month(2026, 9)


def rating(prices: str = PRICES, how: str = "rerate") -> Rating:
    s = chargeback(book(prices), SEPTEMBER, USAGE, platform())
    return Rating(s, f"sha256:{len(prices)}", {"prices.yaml:41": "network 900"},
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
    new = replace(rating(PRICES.replace("yuan: 900}", "yuan: 1100}")),
                  price_lines={"prices.yaml:41": "network 1100"})
    r = diff(old, new)
    # the network pool 900 → 1,100 split evenly: each department + 100
    assert [(d.department, d.delta) for d in r.departments] == [("a", 100), ("b", 100)]
    a = r.departments[0]
    assert [(c.what, c.old, c.new) for c in a.lines] == [("network", 450, 550)]
    assert [(c.what, c.old, c.new) for c in r.price_lines] == [
        ("prices.yaml:41", "network 900", "network 1100")]
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
