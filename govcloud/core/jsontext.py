"""JSON text for large values: orjson's encoder, what the standard library writes with
``ensure_ascii=False``, ``default=str`` and compact separators (only very large or small
floats are spelt otherwise: ``1e20`` for ``1e+20``; both read back the same), five times
faster on a 2,000-department plan. :func:`dumps_parts` writes the same text in parts, the
long lists of a value made a chunk at a time.

Anything orjson refuses (an integer beyond 64 bits, a key that is not text) goes through the
standard library instead, so the text never depends on which encoder wrote it; dates and
times pass to ``default`` as the standard library passes them (``str(value)``).

:func:`loads` reads JSON a person wrote (a request) and refuses a key given twice in one
object, which the standard library would settle silently by keeping the last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

_PASS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any, sort_keys: bool = False, indent: bool = False) -> bytes:
    """UTF-8 JSON of ``value``: compact, or indented by two spaces for a person."""
    option = _PASS | (orjson.OPT_SORT_KEYS if sort_keys else 0) \
        | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return orjson.dumps(value, default=str, option=option)
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=sort_keys,
                          indent=2 if indent else None,
                          separators=(",", ": ") if indent else (",", ":"))
        return text.encode()


@dataclass(frozen=True)
class Lazy:
    """A long list in a value for :func:`dumps_parts`: ``convert`` of each of ``items``, made
    a chunk at a time as the text is written, never all at once."""

    items: Sequence[Any]
    convert: Callable[[Any], Any]

    def whole(self) -> list[Any]:
        return [self.convert(x) for x in self.items]


def whole(value: Any) -> Any:
    """``value`` (a mapping whose values may be :class:`Lazy`) with every list made."""
    if not isinstance(value, dict):
        return value
    return {k: v.whole() if isinstance(v, Lazy) else v for k, v in value.items()}


def dumps_parts(value: Any, chunk: int = 2000) -> list[bytes]:
    """``dumps(whole(value))`` in parts whose joining is the same text, the :class:`Lazy`
    lists of ``value`` converted ``chunk`` items at a time: a plan of 10,000 departments
    never holds all its changes' dicts (a third of its peak memory) at once."""
    try:
        return list(_parts(value, chunk))
    except (orjson.JSONEncodeError, TypeError):  # as dumps does, for the whole value
        return [dumps(whole(value))]


def _parts(value: Any, chunk: int) -> Iterator[bytes]:
    if not isinstance(value, dict):
        yield orjson.dumps(value, default=str, option=_PASS)
        return
    yield b"{"
    for n, (key, item) in enumerate(value.items()):
        if not isinstance(key, str):
            raise TypeError("a key that is not text")  # orjson refuses it too
        yield (b"," if n else b"") + orjson.dumps(key) + b":"
        if not isinstance(item, Lazy):
            yield orjson.dumps(item, default=str, option=_PASS)
            continue
        yield b"["
        for i in range(0, len(item.items), chunk):
            text = orjson.dumps([item.convert(x) for x in item.items[i:i + chunk]],
                                default=str, option=_PASS)
            yield (b"," if i else b"") + text[1:-1]
        yield b"]"
    yield b"}"


class DuplicateKey(ValueError):
    """A JSON object names ``key`` twice; the second time on ``line``."""

    def __init__(self, key: str, line: int) -> None:
        super().__init__(f"line {line}: the key {key!r} is given twice in one object")
        self.key, self.line = key, line


class _Twice(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Twice(key)
        out[key] = value
    return out


def loads(text: str) -> Any:
    """JSON text's value, refusing a key given twice in one object (DuplicateKey, naming the
    key and the line of its second use); other faults as ``json.loads`` raises them."""
    try:
        return json.loads(text, object_pairs_hook=_unique)
    except _Twice as twice:
        raise DuplicateKey(twice.key, _line_of_second(text, twice.key)) from None


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:]')


def _line_of_second(text: str, key: str) -> int:
    """The line where ``key`` is first used again in the object that already has it (only
    asked once the parse has found such a key, so the text is JSON up to there)."""
    seen: list[set[str] | None] = []  # per open bracket: an object's keys, or None (array)
    last: tuple[str, int] | None = None
    for token in _TOKEN.finditer(text):
        t = token.group()
        if t in "{[":
            seen.append(set() if t == "{" else None)
        elif t in "}]":
            seen.pop()
        elif t == ":" and last is not None and seen and seen[-1] is not None:
            name, at = last
            if name in seen[-1] and name == key:
                return text.count("\n", 0, at) + 1
            seen[-1].add(name)
        last = (json.loads(t), token.start()) if t.startswith('"') else None
    return 1
