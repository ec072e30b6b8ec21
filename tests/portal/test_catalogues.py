"""The portal's gettext catalogues (govcloud/portal/locale): what ``pybabel extract`` finds
(babel.cfg, the keywords of docs/portal.md) is in both catalogues, translated in zh_CN, and
each compiled ``.mo`` says what its ``.po`` says. Run through Babel's own extraction API, as
``pybabel extract -F babel.cfg -k t -k phrase`` runs it."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from govcloud.portal.i18n import LOCALE_DIR, LOCALES, translator

REPO = Path(__file__).resolve().parents[2]
KEYWORDS = {"t": None, "phrase": None, "gettext": None, "_": None,
            "ngettext": (1, 2)}


def extracted() -> set[str]:
    """Every message pybabel extract finds in the package, as docs/portal.md runs it."""
    with (REPO / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(REPO / "babel.cfg"))
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def po(locale: str) -> dict[str, str]:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id and not m.fuzzy}


@pytest.fixture(scope="module")
def messages() -> set[str]:
    found = extracted()
    assert len(found) > 250 and "Sign in" in found and "waiting" in found
    return found


@pytest.mark.parametrize("locale", sorted(LOCALES.values()))
def test_every_message_is_in_the_catalogue(messages: set[str], locale: str) -> None:
    have = po(locale)
    missing = sorted(messages - set(have))
    assert missing == [], (
        f"messages missing from {locale}'s catalogue: {missing} — run pybabel extract and "
        "pybabel update (docs/portal.md: translating the portal), then translate them")


def test_chinese_is_complete(messages: set[str]) -> None:
    zh = po("zh_CN")
    empty = sorted(m for m in messages if not zh.get(m))
    assert empty == [], f"give these their Chinese in zh_CN/LC_MESSAGES/messages.po: {empty}"


@pytest.mark.parametrize("locale", sorted(LOCALES.values()))
def test_compiled_catalogues_are_up_to_date(locale: str) -> None:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = sorted(k for k, v in po(locale).items() if v and compiled.gettext(k) != v)
    assert stale == [], f"run pybabel compile -d govcloud/portal/locale: {stale[:5]}"


def test_placeholders_match_their_translations() -> None:
    import string

    for locale in LOCALES.values():
        for msgid, msgstr in po(locale).items():
            ours = {f for _, f, _, _ in string.Formatter().parse(msgid) if f}
            theirs = {f for _, f, _, _ in string.Formatter().parse(msgstr) if f}
            assert theirs == ours or not msgstr, (locale, msgid, msgstr)


def test_a_message_with_values_is_translated_by_its_pattern() -> None:
    zh = translator("zh")
    assert zh("no request 999 of statistics") == zh("no request {number} of {department}") \
        .format(number="999", department="statistics")
    assert "999" in zh("no request 999 of statistics")
    assert "no request" not in zh("no request 999 of statistics")
    assert translator("en")("no request 999 of statistics") == "no request 999 of statistics"
