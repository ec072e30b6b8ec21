"""Dates, times and amounts as a person reads them, formatted by Babel in the page's locale
and the estate's time zone (``portal.time_zone``): the template filters ``when`` (a moment),
``day`` (a date) and ``amount`` (yuan, to the fen, with thousands separators). The values
stay what they are (an ISO text in UTC, a ``Decimal``): only their text is made here."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_time, get_timezone, get_timezone_name
from babel.numbers import get_decimal_symbol, get_group_symbol

from govcloud.portal.i18n import BABEL_LOCALES


@functools.cache
def zone(name: str) -> tzinfo:
    return get_timezone(name)


def moment(value: Any) -> datetime | None:
    """An ISO text (``2026-12-06T10:20:01.329516Z``) or a datetime as an aware datetime (a
    naive one is UTC, as the state store writes them); None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(value: Any, lang: str, zone_name: str) -> str:
    """A moment in the zone, to the minute: 2026年12月6日 18:20 / 6 Dec 2026 18:20. Empty for
    none; a text that is no moment as it is."""
    if value in (None, ""):
        return ""
    at = moment(value)
    if at is None:
        return str(value)
    local = at.astimezone(zone(zone_name))
    locale = BABEL_LOCALES[lang]
    return f"{format_date(local, 'medium', locale=locale)} " \
           f"{format_time(local, 'HH:mm', locale=locale)}"


def day(value: Any, lang: str) -> str:
    """A date (2026-12-06, or the date of a moment) in the page's locale."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if not isinstance(value, date):
        return "" if value is None else str(value)
    return format_date(value, "medium", locale=BABEL_LOCALES[lang])


def amount(value: Any, lang: str) -> str:
    """Yuan to the fen with the locale's separators: 1,234,567.80. Empty for none; a text
    that is no number as it is."""
    # Python's own grouping with the locale's symbols: the same text as Babel's
    # format_decimal(number, MONEY), 100 times faster (a chargeback of 2,000 departments
    # has 18,000 amounts)
    return _grouped(value, lang, ",.2f")


def quantity(value: Any, lang: str) -> str:
    """A number with every decimal it has (units billed, a yuan-per-unit figure that must
    multiply back to its total to the fen) and the locale's separators: 116,365.5, 0.40803481.
    Empty for none; a text that is no number as it is."""
    return _grouped(value, lang, ",f")


def _grouped(value: Any, lang: str, spec: str) -> str:
    """``value`` as a number written with ``spec`` and the locale's separators; empty for
    none, a text that is no finite number as it is."""
    if value is None or value == "":
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    group, point = symbols(lang)
    return format(number, spec).translate({ord(","): group, ord("."): point})


@functools.cache
def symbols(lang: str) -> tuple[str, str]:
    """The locale's thousands separator and decimal point (Babel's CLDR data)."""
    locale = BABEL_LOCALES[lang]
    return get_group_symbol(locale), get_decimal_symbol(locale)


def zone_name(name: str, lang: str) -> str:
    """The zone as the page names it: 中国时间 (Asia/Shanghai)."""
    if name in ("UTC", "Etc/UTC"):
        return "UTC"
    return f"{get_timezone_name(zone(name), locale=BABEL_LOCALES[lang])} ({name})"
