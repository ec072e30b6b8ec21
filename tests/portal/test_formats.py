"""The portal's formatting of moments and amounts (govcloud.portal.formats): Babel's, in the
page's locale and the estate's time zone; the values themselves untouched."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_decimal

from govcloud.portal.formats import amount, quantity, when, zone_name
from govcloud.portal.i18n import BABEL_LOCALES


@pytest.mark.parametrize("value", ["1234567.80", "-103024.16", "0", "0.50", "12", "999.99",
                                   "1000", "284130.04"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_amount_is_babels_to_the_fen(value: str, lang: str) -> None:
    assert amount(Decimal(value), lang) == format_decimal(Decimal(value), "#,##0.00",
                                                          locale=BABEL_LOCALES[lang])


def test_amounts_of_any_form_and_what_is_no_amount() -> None:
    assert amount("284130.04", "zh") == "284,130.04" and amount(301.05, "en") == "301.05"
    assert amount(None, "zh") == "" and amount("-", "zh") == "-"
    assert amount(Decimal("NaN"), "zh") == "NaN"


def test_a_moment_is_shown_in_the_zone_to_the_minute() -> None:
    # the closing time: 10:20:01.329516 UTC is 18:20 in Qingdao
    assert when("2026-12-06T10:20:01.329516Z", "zh", "Asia/Shanghai") == "2026年12月6日 18:20"
    assert when("2026-12-06T10:15", "en", "Asia/Shanghai") == "6 Dec 2026 18:15"  # naive: UTC
    assert when("2026-12-06T10:15:00+00:00", "en", "UTC") == "6 Dec 2026 10:15"
    assert when("", "zh", "UTC") == "" and when(None, "zh", "UTC") == ""
    assert when("never", "zh", "UTC") == "never"


def test_the_zone_is_named() -> None:
    assert zone_name("Asia/Shanghai", "zh") == "中国时间 (Asia/Shanghai)"
    assert zone_name("UTC", "en") == "UTC"


def test_a_quantity_keeps_every_decimal_it_has_with_the_locales_separators() -> None:
    """Units billed and a yuan-per-unit figure (the unit costs page) must multiply back to
    their cost to the fen: written with all their decimals, not rounded to two."""
    assert quantity(Decimal("116365.5"), "en") == "116,365.5"
    assert quantity(0.40803481, "zh") == "0.40803481"
    assert quantity(None, "en") == "" and quantity("n/a", "en") == "n/a"
