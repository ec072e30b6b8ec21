"""Whether a value is valid at all: a schema compiled, once, into a fast check.

``schema.check`` answers the common case (a valid file) with it, without the diagnostic walk;
a file that fails it is walked (``core.diagnosis``) to name every problem. A validator must
never pass a value the walk would find fault with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from govcloud.core.patterns import compiled, fault

# The Python types of each JSON Schema type (a boolean is never a number).
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}

Validator = Callable[[Any], bool]
_VALIDATORS: dict[int, tuple[dict[str, Any], Validator]] = {}


def validator(schema: dict[str, Any]) -> Validator:
    """Whether a value is valid against ``schema``: compiled once per schema (kept with the
    schema, so its id is never reused by another object)."""
    found = _VALIDATORS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    expected = schema.get("type")
    types = TYPES[expected] if expected else None
    numeric = expected in ("integer", "number")
    has_enum, enum = "enum" in schema, schema.get("enum", ())
    inner: Validator | None = None
    if expected == "object":
        inner = _object_validator(schema)
    elif expected == "array":
        inner = _array_validator(schema)
    elif expected == "string":
        inner = _string_validator(schema)
    elif numeric:
        inner = _number_validator(schema)

    def valid(value: Any) -> bool:
        if types is not None and (not isinstance(value, types)
                                  or (numeric and isinstance(value, bool))):
            return False
        if has_enum and value not in enum:
            return False
        return inner is None or inner(value)
    _VALIDATORS[id(schema)] = (schema, valid)
    return valid


def _object_validator(schema: dict[str, Any]) -> Validator:
    props: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    subs = {key: validator(sub) for key, sub in props.items()}
    more = validator(extra) if isinstance(extra, dict) else None
    closed = extra is False

    def valid(value: dict[str, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            sub = subs.get(key)
            if sub is not None:
                if not sub(item):
                    return False
            elif more is not None:
                if not more(item):
                    return False
            elif closed:
                return False
        return True
    return valid


def _array_validator(schema: dict[str, Any]) -> Validator:
    most = schema.get("maxItems")
    least = schema.get("minItems")
    unique = schema.get("uniqueItems", False)
    item = validator(schema["items"])

    def valid(value: list[Any]) -> bool:
        if most is not None and len(value) > most or least is not None and len(value) < least:
            return False
        if unique and repeated(value) is not None:
            return False
        return all(item(v) for v in value)
    return valid


def repeated(value: list[Any]) -> Any:
    """The first item of ``value`` equal to an earlier one (JSON Schema's ``uniqueItems``:
    true is not 1), or None."""
    seen: set[str] = set()
    for v in value:
        key = json.dumps([type(v) is bool, v], sort_keys=True, default=str)
        if key in seen:
            return v
        seen.add(key)
    return None


def _string_validator(schema: dict[str, Any]) -> Validator:
    shortest = schema.get("minLength")
    longest = schema.get("maxLength")
    pattern: str | None = schema.get("pattern")
    regex = compiled(pattern) if pattern else None

    def valid(value: str) -> bool:
        if shortest is not None and len(value) < shortest:
            return False
        if longest is not None and len(value) > longest:
            return False
        if regex is None or pattern is None:
            return True
        return regex.fullmatch(value) is not None and fault(pattern, value) is None
    return valid


def _number_validator(schema: dict[str, Any]) -> Validator:
    low = schema.get("minimum")
    high = schema.get("maximum")

    def valid(value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return (low is None or value >= low) and (high is None or value <= high)
    return valid
