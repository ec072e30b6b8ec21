"""The API's OpenAPI 3.1 description (``/api/openapi.json``), made from the route table: every
API and download route with its roles, whether it is department-scoped, its path parameters
and, for a post, its JSON body and refusals."""

from __future__ import annotations

from typing import Any

from govcloud import __version__
from govcloud.core.requests import SCHEMAS
from govcloud.portal import sessions
from govcloud.portal.routes import ROUTES, Route

DESCRIPTION = ("The govcloud portal's HTTP API: the same figures as the govcloud command line. "
               "Sign in with POST /login (a form) and send the session cookie; posts need the "
               "session's CSRF token in X-CSRF-Token. Or send a govcloud API token "
               "(Authorization: Bearer) or, with the openstack driver, a Keystone token "
               "(X-Auth-Token).")
SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": sessions.COOKIE},
    "token": {"type": "http", "scheme": "bearer",
              "description": "a govcloud API token (govcloud tokens add); "
                             "no CSRF token is needed with it"},
    "keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token",
                 "description": "a Keystone token (the openstack driver's "
                                "estates); no CSRF token is needed with it"}}


def openapi() -> dict[str, Any]:
    """The API's OpenAPI 3.1 description, from the route table."""
    paths: dict[str, Any] = {}
    for r in ROUTES:
        if r.kind in ("api", "download"):
            paths.setdefault(r.path, {})[r.method.lower()] = _operation(r)
    return {"openapi": "3.1.0",
            "info": {"title": "govcloud", "version": __version__, "description": DESCRIPTION},
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "paths": paths}


def _operation(r: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{r.name}_{r.kind}", "summary": r.summary,
        "x-govcloud-roles": sorted(r.roles) or ["public"],
        "x-govcloud-department-scoped": r.scoped,
        "responses": {"200": {"description": "OK", "content": {_media(r): {}}}}}
    if not r.public and r.takes_tokens:
        op["security"] = [{"session": []}, {"token": []}, {"keystone": []}]
        op["responses"] |= {"401": {"description": "not signed in"},
                            "403": {"description": "the caller's role or department "
                                                   "does not allow it"}}
    elif not r.public:  # a download: for a person in a browser, signed in
        op["security"] = [{"session": []}]
        op["responses"] |= {"303": {"description": "not signed in: to the sign-in form"},
                            "403": {"description": "the caller's role or department "
                                                   "does not allow it"}}
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in ("department", "number", "period", "handle") if "{" + n + "}" in r.path]
    params += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in r.query]
    if params:
        op["parameters"] = params
        op["responses"]["404"] = {"description": "no such department, request or month"}
    if r.method == "POST":
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _body(r)}}}
        op.setdefault("parameters", []).append(
            {"name": "X-CSRF-Token", "in": "header", "required": False,
             "schema": {"type": "string"},
             "description": "the session's CSRF token (the csrf field of any page); "
                            "not with an API token"})
        op["responses"] |= {"201": {"description": "filed"},
                            "400": {"description": "a body that cannot be read as JSON"},
                            "413": {"description": "a body too large"},
                            "415": {"description": "a body that is not JSON"},
                            "409": {"description": "refused (e.g. not this person's to "
                                                   "decide)"},
                            "422": {"description": "invalid: the verdict with every "
                                                   "field's error"}}
    return op


MEDIA = {".csv": "text/csv", ".html": "text/html",
         ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _media(r: Route) -> str:
    if r.kind != "download":
        return "application/json"
    return next((m for end, m in MEDIA.items() if r.path.endswith(end)), "text/csv")


def _body(r: Route) -> dict[str, Any]:
    """A post's JSON body: for filing, a request of one of the kinds (its department is the
    path's); else an object (the dry run takes any, and its verdict says what is wrong)."""
    if r.name != "request_file":
        return {"type": "object"}
    return {"oneOf": [{**k, "required": [f for f in k["required"] if f != "department"]}
                      for k in SCHEMAS.values()]}
