"""finance.closing: a closed month's figures frozen with the text of the price lines they
cite and the digest of what was frozen."""

from __future__ import annotations

from govcloud.finance.chargeback import chargeback
from govcloud.finance.closing import Closing, cited_lines, digest
from govcloud.finance.period import Month
from govcloud.finance.savings import ledger
from govcloud.finance.utilization import Utilization
from tests.finance.small import USAGE, book, legacy, plan, platform

SEPTEMBER = Month(2026, 9)


def test_the_digest_is_sha256_of_the_bytes() -> None:
    # SHA-256("abc"), the FIPS 180-2 example
    assert digest(b"abc") == ("sha256:ba7816bf8f01cfea414140de5dae2223"
                              "b00361a396177a9cb410ff61f20015ad")


def test_every_cited_line_is_kept_with_its_text() -> None:
    files = {"prices.yaml": "units:\n  vcpu:\n    - {from: 2026-01, yuan: 10}   \n"}
    texts = ["prices.yaml:3 units.vcpu[0]; prices.yaml:1 units",
             "prices.yaml:9 past the end", "other.yaml:1 not given", "no citation"]
    assert cited_lines(texts, files) == {"prices.yaml:1": "units:",
                                         "prices.yaml:3": "- {from: 2026-01, yuan: 10}"}


def closing() -> Closing:
    s = chargeback(book(), SEPTEMBER, USAGE, platform())
    util = Utilization(SEPTEMBER, "2026-09", (), {}, {})
    return Closing(SEPTEMBER, s, ledger({"a": plan("a", legacy())}, book(), s), util,
                   {"a": ("甲", "A")}, "estate", "sha256:0", {}, "2026-10-01T00:00:00Z", "fin")


def test_a_closed_month_reads_back_what_it_froze() -> None:
    c = closing()
    again = Closing.from_dict(c.as_dict())
    assert again == c and again.month == SEPTEMBER
    assert again.body_digest() == c.body_digest()


def test_the_digest_changes_with_any_frozen_figure() -> None:
    c = closing()
    other = Closing.from_dict({**c.as_dict(), "closed_by": "someone else"})
    assert other.body_digest() != c.body_digest()
