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
shown as it is. Some placeholders carry words of the catalogue themselves: a
list of them (``LISTS``: comma-separated) or one message (``WHOLE``), each translated in
turn; a pattern whose ``NEEDED`` value has no translation is passed over for the next that
matches, so a text is never shown half translated."""

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
LISTS = ("fields", "bad", "choices")  # comma-separated lists of catalogue words
WHOLE = ("why", "got", "expected", "description", "role", "own", "state", "window")
# A change's reason listing what moves (core.planning): ``cores 16 → 44, ram_gb 64 → 80``
MOVE = r"[a-z_]+ [^ ,]+ → [^ ,]+"
MOVES = re.compile(f"{MOVE}(, {MOVE})*")
NEEDED = ("why", "got", "expected", "role")  # each known, or the pattern is not taken


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
def readings(text: str) -> tuple[tuple[str, dict[str, str]], ...]:
    """Each pattern ``text`` matches, with the values it carried: the most specific first
    (the one whose values are shortest, i.e. whose own words cover most of the text)."""
    out = []
    for pattern, msgid in _patterns():
        found = pattern.fullmatch(text)
        if found:
            out.append((msgid, found.groupdict()))
    return tuple(sorted(out, key=lambda m: sum(len(v) for v in m[1].values())))


def understood(text: str) -> tuple[str, dict[str, str]] | None:
    """The pattern ``text`` was made from, and the values it carried, if one was."""
    found = readings(text)
    return found[0] if found else None


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
            for msgid, carried in readings(text):
                filled = self._filled(carried)
                if filled is not None:
                    return self.catalogue.gettext(msgid).format(**filled)
            if MOVES.fullmatch(text):
                return ("，" if self.lang == "zh" else ", ").join(
                    self._moved(m) for m in text.split(", "))
        return said.format(**values) if values else said

    def _moved(self, move: str) -> str:
        """``cores 16 → 44``: the item (a quota item, a server's attribute) by its label."""
        item, _, rest = move.partition(" ")
        return f"{self(item)} {rest}"

    def _filled(self, values: dict[str, str]) -> dict[str, str] | None:
        """A pattern's values, ``LISTS`` and ``WHOLE`` translated; None when one ``NEEDED``
        has no translation."""
        if self.lang == "en":
            return values
        out = dict(values)
        for name in LISTS:
            if name in out:
                out[name] = "、".join(self(f) for f in out[name].split(", "))
        for name in WHOLE:
            if name in out:
                out[name] = self(out[name])
                if out[name] == values[name] and name in NEEDED:
                    return None
        return out

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalogue.ngettext(singular, plural, n)


@functools.cache
def translator(lang: str) -> Translator:
    return Translator(lang if lang in LANGUAGES else "zh")
