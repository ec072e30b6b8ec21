"""What a post carries. Its body is read once (``posted``): a form's fields, or a JSON body
as ``{"_json": value}``; the CSRF check and the endpoint both use that one reading.

A request's HTML form fields are turned into the request's JSON payload (``payload_of``):
``website.domain`` becomes ``{"website": {"domain": …}}``, and each value takes the type the
request's schema gives its field, when it can (digits an integer, a checkbox a boolean);
whatever cannot is left as the text typed, for the request's own checks to name the field and
the fix. Nothing here decides validity."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from govcloud.core import jsontext
from govcloud.core.requests import SCHEMAS

MAX_FORM_BYTES = 64 * 1024
BODY = "govcloud.body"  # where the scope keeps the body read
NUMBER = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?")
RESERVED = {"csrf", "booleans", "payload", "again"}
MAX_FIELDS = 40


async def posted(request: Request) -> dict[str, Any] | None:
    """The post's body, read once per request (kept in the scope): see ``_read``."""
    if BODY not in request.scope:
        request.scope[BODY] = await _read(request)
    body: dict[str, Any] | None = request.scope[BODY]
    return body


async def _read(request: Request) -> dict[str, Any] | None:
    """A posted form's fields, or a JSON body as {"_json": value}; None when the body
    has no length or is too large, {"_bad": why} when it cannot be read."""
    size = request.headers.get("content-length")
    if size is None or not (size.isascii() and size.isdigit()) or int(size) > MAX_FORM_BYTES:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind == "application/json":
        raw = await request.body()
        if len(raw) > MAX_FORM_BYTES:
            return None
        try:
            return {"_json": jsontext.loads(raw.decode("utf-8"))}
        except jsontext.DuplicateKey as exc:  # the last would win, unseen
            return {"_bad": f"the body's JSON is ambiguous: {exc} — give it once"}
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError too
            return {"_bad": f"the body is not JSON ({type(exc).__name__})"}
    if kind != "application/x-www-form-urlencoded":
        return {"_bad": "send a form (application/x-www-form-urlencoded) or JSON"}
    form = await request.form(max_files=0, max_fields=60)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def from_api(body: dict[str, Any]) -> bool:
    """Whether the body was JSON (an API call), whatever its value: an empty object or
    ``null`` is still an API call, answered with JSON and never a redirect."""
    return "_json" in body


def fields_of(body: dict[str, Any]) -> dict[str, Any]:
    """The posted fields: a JSON object's (an API call) or the form's."""
    if from_api(body):
        sent = body["_json"]
        return sent if isinstance(sent, dict) else {}
    return body


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
