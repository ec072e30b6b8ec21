"""What a department may ask for, as data: the kinds of request, the shape of each (checked
field by field with the plan schema's own rules), and the edit each one makes to the
department's plan (pure: the plan file is edited at the edge, ``estate/planedit.py``, keeping
its comments and order).

A request never carries a whole plan: it names one change (a website, servers, more replicas,
a resize, quota, removing something, backup or antivirus settings), so a member cannot slip
another change into the file, and every field is checked before the plan is touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from govcloud.core.documents import Document
from govcloud.core.patterns import DNS, IDENT, NAME, TEXT
from govcloud.core.schema import PLAN_SCHEMA, check, int_of, obj_of, str_of
from govcloud.errors import Diagnostic

_PLAN = PLAN_SCHEMA["properties"]
_SERVER = _PLAN["servers"]["items"]
_WEBSITE = _PLAN["websites"]["items"]
_SERVICES = _PLAN["services"]["properties"]
MAX_REASON = 500
MAX_NUMBER = 10**11  # the largest request number a request may name (after)


def _without(schema: dict[str, Any], *keys: str) -> dict[str, Any]:
    props = {k: v for k, v in schema["properties"].items() if k not in keys}
    return {**schema, "properties": props,
            "required": [r for r in schema.get("required", []) if r not in keys]}


def _common(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return obj_of("A request.", {
        "kind": {"type": "string", "enum": list(KIND_NAMES), "description": "What is asked."},
        "department": str_of("The department's id.", IDENT),
        "reason": str_of("Why it is needed (shown to the approvers).", TEXT, minLength=1,
                         maxLength=MAX_REASON),
        "after": int_of("The quota request filed first to cover this one (its number).", 1,
                        MAX_NUMBER),
        **fields}, ["kind", "department", "reason", *required])


KIND_NAMES = ("website", "servers", "replicas", "resize", "quota", "remove", "backup",
              "antivirus")
# Protected is an operator's decision, never a department's request.
SCHEMAS: dict[str, dict[str, Any]] = {
    "website": _common({"website": _without(_WEBSITE, "protected")}, ["website"]),
    "servers": _common({"server": _without(_SERVER, "protected")}, ["server"]),
    "replicas": _common({"server": str_of("The server's name.", NAME),
                         "count": int_of("How many replicas in all.", 1, 100)},
                        ["server", "count"]),
    "resize": _common({"server": str_of("The server's name.", NAME),
                       "flavor": str_of("The new flavor.", NAME)}, ["server", "flavor"]),
    "quota": _common({"quota": _PLAN["quota"],
                      "covers": str_of("The request refused over quota that this quota is "
                                       "asked for, as JSON: offered again once it is "
                                       "approved.", maxLength=8000)}, ["quota"]),
    "remove": _common({"server": str_of("A server to remove.", NAME),
                       "website": str_of("A website to remove.", DNS)}, []),
    "backup": _common({"backup": _SERVICES["backup"]}, ["backup"]),
    "antivirus": _common({"antivirus": _SERVICES["antivirus"]}, ["antivirus"]),
}
FIELD = "request"  # the "file" of a request's field diagnostics


@dataclass(frozen=True)
class Edit:
    """One change to a plan's data: ``append`` a value to the list at ``path`` (made if
    missing), ``set`` the value at ``path`` (a mapping's missing parents are made), or
    ``delete`` it."""

    op: Literal["append", "set", "delete"]
    path: tuple[str | int, ...]
    value: Any = None


def _field(path: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(FIELD, 0, path, message, hint)


def check_request(payload: Any) -> list[Diagnostic]:
    """Every problem with a request's fields (empty: well-formed), each naming its field."""
    if not isinstance(payload, dict):
        return [_field("", "a request is an object of fields",
                       'e.g. {"kind": "replicas", "department": "finance", ...}')]
    unpaired = _unpaired(payload)
    if unpaired is not None:
        return [_field(unpaired, "holds an unpaired surrogate (a \\ud800-\\udfff escape "
                       "alone), which is no character", "remove it or write the character "
                       "itself")]
    kind = payload.get("kind")
    if kind is None:
        return [_field("kind", "the kind of request is missing",
                       f"give \"kind\": one of: {', '.join(KIND_NAMES)}")]
    if not isinstance(kind, str) or kind not in SCHEMAS:
        return [_field("kind", f"unknown kind of request {str(kind)[:40]!r}",
                       f"one of: {', '.join(KIND_NAMES)}")]
    out = [Diagnostic(FIELD, 0, _missing(d.path, d.message), d.message, d.hint)
           for d in check(Document(FIELD, payload, {}), SCHEMAS[kind])]
    if not out and not payload["reason"].strip():
        out.append(_field("reason", "the reason is only white space",
                          "say why it is needed: the approvers read it"))
    if kind == "remove" and not out and ("server" in payload) == ("website" in payload):
        out.append(_field("server", "name one server or one website to remove",
                          'give "server": NAME or "website": DOMAIN'))
    if kind == "quota" and not out and not payload["quota"]:
        out.append(_field("quota", "no quota asked for",
                          "give at least one of instances, cores, ram_gb, volumes, "
                          "volume_gb, websites"))
    return out


def _unpaired(value: Any, path: str = "") -> str | None:
    """The field (dotted path) of the first text holding a lone surrogate, which JSON's
    \\u escapes can carry but no UTF-8 file, database or policy engine takes."""
    if isinstance(value, str):
        return path if _SURROGATE.search(value) else None
    pairs = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in pairs:
        here = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _SURROGATE.search(key):
            return here
        found = _unpaired(item, here)
        if found is not None:
            return found
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _missing(path: str, message: str) -> str:
    """A missing key's error belongs to that key's field (a form shows it there)."""
    found = re.match(r"missing required key '([a-z_]+)'", message)
    if found is None:
        return path
    return f"{path}.{found.group(1)}" if path else found.group(1)


def _index(items: Any, key: str, value: str) -> int | None:
    if not isinstance(items, list):
        return None
    return next((i for i, x in enumerate(items) if isinstance(x, dict)
                 and x.get(key) == value), None)


def edits(payload: dict[str, Any], plan: Any) -> tuple[list[Edit], list[Diagnostic]]:
    """The edits a well-formed request (``check_request`` found nothing) makes to the plan's
    data, or the problems that stop it (a server that is not there, a site already there)."""
    kind = payload["kind"]
    data = plan if isinstance(plan, dict) else {}
    servers, sites = data.get("servers"), data.get("websites")
    if kind == "website":
        site = payload["website"]
        if _index(sites, "domain", site["domain"]) is not None:
            return [], [_field("website.domain", f"{site['domain']} is already in the plan",
                               "choose another domain")]
        return [Edit("append", ("websites",), dict(site))], []
    if kind == "servers":
        server = payload["server"]
        if _index(servers, "name", server["name"]) is not None:
            return [], [_field("server.name", f"a server {server['name']} is already in "
                               "the plan", "choose another name, or ask for more replicas")]
        return [Edit("append", ("servers",), dict(server))], []
    if kind == "remove" and "website" in payload:
        i = _index(sites, "domain", payload["website"])
        if i is None:
            return [], [_field("website", f"no website {payload['website']} in the plan",
                               "choose one of the plan's websites")]
        return [Edit("delete", ("websites", i))], []
    if kind in ("replicas", "resize", "remove"):
        i = _index(servers, "name", payload["server"])
        if i is None:
            known = ", ".join(str(s.get("name")) for s in servers or [] if isinstance(s, dict))
            return [], [_field("server", f"no server {payload['server']} in the plan",
                               f"one of: {known}" if known else "the plan has no servers")]
        if kind == "replicas":
            return [Edit("set", ("servers", i, "count"), payload["count"])], []
        if kind == "resize":
            return [Edit("set", ("servers", i, "flavor"), payload["flavor"])], []
        return [Edit("delete", ("servers", i))], []
    if kind == "quota":
        return [Edit("set", ("quota", k), v) for k, v in payload["quota"].items()], []
    section = payload[kind]  # backup or antivirus settings
    return [Edit("set", ("services", kind, k), v) for k, v in section.items()], []
