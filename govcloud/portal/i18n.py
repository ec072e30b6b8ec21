"""The portal's words in Simplified Chinese (first) and English, from gettext catalogues made
with Babel: ``locale/<locale>/LC_MESSAGES/messages.po``, compiled to ``messages.mo`` (both
kept in git; a test fails when a ``.mo`` is older than its ``.po``). Templates write the
English text, ``t("…")``; Python code too. ``docs/portal.md`` says how a translator extracts,
updates and compiles them (``pybabel``).

A message made below the portal (a policy's message, a change's reason, a refusal) reaches
the person as English text with its values filled in. ``phrases.PATTERNS`` writes the
common ones with named placeholders (``no request {number} of {department}``): the text is
matched against them and the catalogue's translation of the pattern is filled in with the
values the text carried. Text that is neither in the catalogue nor matches a pattern is
shown as it is."""

from __future__ import annotations

import functools
import gettext
import re
from pathlib import Path

from govcloud.portal.phrases import PATTERNS

LANGUAGES = ("zh", "en")
LOCALES = {"zh": "zh_CN", "en": "en"}  # a language of the portal: its catalogue's locale
BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en_GB"}  # and Babel's for dates and amounts
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
FIELD = re.compile(r"\\\{(\w+)\\\}")


@functools.cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (``LANGUAGES``)."""
    with (LOCALE_DIR / LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as fp:
        return gettext.GNUTranslations(fp)


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each pattern as a regular expression whose groups are its placeholders."""
    return tuple((re.compile(FIELD.sub(r"(?P<\1>.+?)", re.escape(p)), re.DOTALL), p)
                 for p in PATTERNS)


@functools.lru_cache(maxsize=8192)
def understood(text: str) -> tuple[str, dict[str, str]] | None:
    """The pattern ``text`` was made from, and the values it carried, if one was."""
    for pattern, msgid in _patterns():
        found = pattern.fullmatch(text)
        if found:
            return msgid, found.groupdict()
    return None


class Translator:
    """``t(text, **values)``: ``text`` in one language, its ``{placeholders}`` filled in."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.catalogue = catalogue(lang)

    def __call__(self, text: str, **values: object) -> str:
        if not text:
            return ""  # gettext("") is the catalogue's header
        said = self.catalogue.gettext(text)
        if said == text and not values and text:
            found = understood(text)
            if found is not None:
                msgid, values = found[0], dict(found[1])
                said = self.catalogue.gettext(msgid)
                if "fields" in values:
                    values["fields"] = "、".join(self(f) for f in
                                                str(values["fields"]).split(", ")) \
                        if self.lang != "en" else values["fields"]
        return said.format(**values) if values else said

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalogue.ngettext(singular, plural, n)


@functools.cache
def translator(lang: str) -> Translator:
    return Translator(lang if lang in LANGUAGES else "zh")
