"""A request's HTML form fields turned into the request's JSON payload: ``website.domain``
becomes ``{"website": {"domain": …}}``, and each value takes the type the request's schema
gives its field, when it can (digits an integer, a checkbox a boolean); whatever cannot is left
as the text typed, for the request's own checks to name the field and the fix. Nothing here
decides validity."""

from __future__ import annotations

import re
from typing import Any

from govcloud.core.requests import SCHEMAS

NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")
RESERVED = {"csrf", "booleans", "payload"}
MAX_FIELDS = 40


def _schema_at(schema: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    for key in path:
        schema = schema.get("properties", {}).get(key)
        if schema is None:
            return None
    return schema


def _typed(text: str, schema: dict[str, Any] | None) -> Any:
    kind = (schema or {}).get("type")
    if kind == "integer" and re.fullmatch(r"-?[0-9]{1,15}", text.strip()):
        return int(text.strip())
    if kind == "number" and NUMBER.fullmatch(text.strip()):
        return float(text.strip())
    if kind == "boolean" and text in ("on", "true", "1"):
        return True
    if kind == "boolean" and text in ("off", "false", "0"):
        return False
    if kind == "array":
        return [part.strip() for part in re.split(r"[\n,]", text) if part.strip()]
    return text


def payload_of(form: dict[str, str], department: str) -> dict[str, Any]:
    """The request a submitted form describes (for ``department``: the path's, never a
    field's)."""
    kind = form.get("kind", "")
    schema = SCHEMAS.get(kind, {})
    out: dict[str, Any] = {"kind": kind, "department": department,
                           "reason": form.get("reason", "").strip()}
    booleans = [b for b in form.get("booleans", "").split() if b][:MAX_FIELDS]
    for name in booleans:  # a checkbox left unticked is not sent: it is false
        form = {**form, name: form.get(name, "off")}
    for name, value in list(form.items())[:MAX_FIELDS + len(RESERVED) + 3]:
        if name in RESERVED or name in ("kind", "department", "reason"):
            continue
        path = name.split(".")
        if len(path) > 3 or any(not p for p in path) or value == "":
            continue
        node = out
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = _typed(value, _schema_at(schema, path))
    return out
