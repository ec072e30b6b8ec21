"""The diagnostic walk: every way a value breaks a schema, each a diagnostic with its line,
its key path and a hint in plain words (the value quoted back only when it is safe to show).
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
from typing import Any

from govcloud.core.documents import Document, Path_, dotted
from govcloud.core.patterns import (
    CRON,
    DNS,
    HINTS,
    STATE_SCHEMES,
    STATE_URL,
    compiled,
    dangerous_hint,
    fault,
    shown,
)
from govcloud.core.validity import TYPES, repeated
from govcloud.errors import Diagnostic

_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number",
               "boolean": "true or false", "object": "a mapping of keys", "array": "a list"}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        # YAML 1.1 (PyYAML) reads yes/no/on/off as booleans too: "got true" after one typed
        # "yes" needs saying why.
        return f"{str(value).lower()} (a boolean; YAML reads yes/no/on/off as true/false)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{shown(value)!r} (text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()} (YAML reads an unquoted date as a date)"
    return f"{value!r}"


def yaml_literal(value: Any) -> str:
    """``value`` as it is written in a plan, so a hint can be copied as it stands."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def walk(doc: Document, value: Any, schema: dict[str, Any], path: Path_,
         out: list[Diagnostic]) -> None:
    """Add to ``out`` every way ``value`` (at ``path`` in ``doc``) breaks ``schema``."""
    expected = schema.get("type")
    if expected and (not isinstance(value, TYPES[expected]) or
                     (expected in ("integer", "number") and isinstance(value, bool))):
        out.append(_wrong_type(doc, value, schema, path))
        return
    if "enum" in schema and value not in schema["enum"]:
        out.append(_not_allowed(doc, value, schema["enum"], path))
        return
    if expected == "object":
        _walk_object(doc, value, schema, path, out)
    elif expected == "array":
        _walk_array(doc, value, schema, path, out)
    elif expected == "string":
        _walk_string(doc, value, schema, path, out)
    elif expected in ("integer", "number"):
        _walk_number(doc, value, schema, path, out)


def _wrong_type(doc: Document, value: Any, schema: dict[str, Any], path: Path_) -> Diagnostic:
    expected = schema["type"]
    example = schema.get("default")
    hint = f"write {_TYPE_WORDS[expected]}"
    if example not in (None, {}, []):
        hint += f", e.g. {yaml_literal(example)}"
    if expected == "string" and isinstance(value, int | float):
        hint += " (quote it)"
    if expected == "string" and isinstance(value, datetime.date):
        month = "(0[1-9]|1[0-2])$" in schema.get("pattern", "")
        hint = (f"write the month in quotes: \"{value:%Y-%m}\"" if month
                else f"put it in quotes: \"{value.isoformat()}\"")
    # The whole file of the wrong kind (not YAML data at all, say KEY=VALUE lines)
    # is never quoted back: it may be anything, secrets included.
    got = _kind(value) if path or not isinstance(value, str) else \
        "text (the whole file is one plain value: is it a YAML file of this kind?)"
    return doc.diag(path, f"expected {_TYPE_WORDS[expected]}, got {got}", hint)


def _not_allowed(doc: Document, value: Any, enum: list[Any], path: Path_) -> Diagnostic:
    choices = ", ".join(str(c) for c in enum)
    close = difflib.get_close_matches(str(value), [str(c) for c in enum], 1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return doc.diag(path, f"{_short(value)} is not allowed", f"{hint}use one of: {choices}")


def _short(value: Any) -> str:
    quoted = repr(value)
    return quoted if len(quoted) <= 60 else quoted[:56] + "...'"


def _walk_array(doc: Document, value: list[Any], schema: dict[str, Any], path: Path_,
                out: list[Diagnostic]) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.append(doc.diag(path, f"{len(value)} items, more than the "
                            f"{schema['maxItems']} allowed", "split or shorten the list"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(doc.diag(path, f"needs at least {schema['minItems']} item(s)",
                            "add one"))
    twice = repeated(value) if schema.get("uniqueItems") else None
    if twice is not None:
        out.append(doc.diag(path, f"{_short(twice)} is listed twice",
                            "list each item once"))
    for i, item in enumerate(value):
        walk(doc, item, schema["items"], (*path, i), out)


def _walk_number(doc: Document, value: float, schema: dict[str, Any], path: Path_,
                 out: list[Diagnostic]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        out.append(doc.diag(path, f"{value} is not a finite number",
                            "write a number such as 0.5"))
        return
    if "minimum" in schema and value < schema["minimum"]:
        out.append(doc.diag(path, f"{value} is below the minimum {schema['minimum']}",
                            f"use a value of at least {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        out.append(doc.diag(path, f"{value} is above the maximum {schema['maximum']}",
                            f"use a value of at most {schema['maximum']}"))


def _walk_object(doc: Document, value: dict[str, Any], schema: dict[str, Any], path: Path_,
                 out: list[Diagnostic]) -> None:
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name in schema.get("required", []):
        if name not in value:
            desc = props.get(name, {}).get("description", "")
            out.append(doc.diag(path, f"missing required key '{name}'",
                                f"add '{name}:' ({desc.rstrip('.')})" if desc else
                                f"add '{name}:'"))
    for key, item in value.items():
        sub = props.get(key)
        if sub is not None:
            walk(doc, item, sub, (*path, key), out)
        elif isinstance(extra, dict):
            walk(doc, item, extra, (*path, key), out)
        elif extra is False:
            close = difflib.get_close_matches(key, list(props), 1, 0.6)
            hint = f"did you mean '{close[0]}'?" if close else \
                f"allowed keys here: {', '.join(props)}"
            if _PLAIN_KEY.fullmatch(key):
                out.append(doc.diag((*path, key), f"unknown key '{key}'", hint))
            else:  # not a name anyone would give a key: a line of some other file, not shown
                out.append(Diagnostic(doc.file, doc.line((*path, key)), dotted(path),
                                      "unknown key that is not a plain name (not shown)", hint))


def _walk_string(doc: Document, value: str, schema: dict[str, Any], path: Path_,
                 out: list[Diagnostic]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(doc.diag(path, "is empty", "write a value"))
    too_long = "maxLength" in schema and len(value) > schema["maxLength"]
    if too_long:
        out.append(doc.diag(path, f"is {len(value)} characters, over {schema['maxLength']}",
                            "shorten it"))
    pattern = schema.get("pattern")
    if pattern == STATE_URL and not compiled(pattern).fullmatch(value):
        out.append(doc.diag(path, _state_url_problem(value), HINTS[STATE_URL]))
    elif pattern and not compiled(pattern).fullmatch(value):
        bad = dangerous_hint(value, pattern)
        quoted = shown(value)
        if bad:
            message = (f"{quoted!r} contains {bad}, which could break a generated config or "
                       "shell command")
        else:
            message = f"{quoted!r} is not valid here"
        out.append(doc.diag(path, message, HINTS.get(pattern, f"match {pattern}")))
    elif pattern and not too_long and (why := fault(pattern, value)):
        out.append(doc.diag(path, *_unfit(value, pattern, why)))


def _unfit(value: str, pattern: str, why: str) -> tuple[str, str]:
    """The message and fix of a value its pattern's regex matched but patterns.fault
    refused."""
    if pattern == CRON:
        return f"{shown(value)!r} is not a schedule cron accepts: {why}", HINTS[CRON]
    if pattern == DNS and ".." not in value:
        return why, ("write the name's ASCII form as an IDNA tool gives it (e.g. 'idn2 "
                     "部门.qingdao.gov.cn'), or a plain name")
    return why, f"remove the '..'; {HINTS[pattern]}" if pattern in HINTS else "remove the '..'"


def _state_url_problem(value: str) -> str:
    """What is wrong with a state store URL, without quoting it (it may hold a password)."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if not scheme:
        return "is not a URL: it has no scheme such as sqlite:/// or postgresql://"
    if scheme.lower() not in STATE_SCHEMES:
        return f"the state store scheme {shown(scheme, 20)!r} is not supported"
    if scheme.lower() == "sqlite":
        return "a sqlite URL is sqlite:/// (three slashes) followed by a path"
    return "a postgresql URL has no spaces and names at least a host"
