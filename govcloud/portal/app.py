"""The Starlette application, built from the route table (``routes.ROUTES``).

Every request goes through one gate, ``_endpoint``: who is signed in (the session cookie),
whether the route allows their role and department (``routes.allowed``), and for a form post
whether it comes from this site with the session's CSRF token. Only then is the route's view
called; a page renders its data with a template, an API route returns the same data as JSON.
Every response carries the security headers (``SECURITY_HEADERS``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govcloud import __version__
from govcloud.access import tokens, users
from govcloud.drivers.base import Ability
from govcloud.errors import DriverError, GovcloudError
from govcloud.portal import sessions
from govcloud.portal.context import Portal
from govcloud.portal.i18n import LANGUAGES, translator
from govcloud.portal.routes import ROUTES, Route, allowed
from govcloud.portal.views import VIEWS
from govcloud.portal.views.results import Created, Download, NotFound, Redirect
from govcloud.requests import decisions
from govcloud.state import crashlog

HERE = Path(__file__).parent
# Parts of a page that are the same for every person and language (no translated text) and
# large: rendered once per change of the figures (``Portal.figures``), not per request. The
# estate overview's 2,000 rows took 40-130 ms to render.
FRAGMENTS = {"estate": ("rows", "estate_rows.html")}  # page: (its variable, the template)
MAX_FORM_BYTES = 64 * 1024
# How often a Keystone person's role assignments are read again while they are signed in
# (a role removed in Keystone ends their session within this many seconds).
FOLLOW_SECONDS = 60.0
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with
    # the portal's own form posts, which the cross-site check must refuse.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS (and no-store, except for the style sheet) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers[k] = v
                if scope["path"] != "/static/portal.css":
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _json(data: Any, status: int = 200) -> Response:
    def default(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else repr(v)

    return Response(json.dumps(data, ensure_ascii=False, default=default), status,
                    media_type="application/json")


def openapi() -> dict[str, Any]:
    """The API's OpenAPI 3.1 description, from the route table."""
    paths: dict[str, Any] = {}
    for r in ROUTES:
        if r.kind not in ("api", "download"):
            continue
        op: dict[str, Any] = {
            "operationId": f"{r.name}_{r.kind}", "summary": r.summary,
            "x-govcloud-roles": sorted(r.roles) or ["public"],
            "x-govcloud-department-scoped": r.scoped,
            "responses": {"200": {"description": "OK", "content": {
                "text/csv" if r.kind == "download" else "application/json": {}}}}}
        if not r.public:
            op["security"] = [{"session": []}, {"token": []}, {"keystone": []}]
            op["responses"] |= {"401": {"description": "not signed in"},
                                "403": {"description": "the caller's role or department "
                                                       "does not allow it"}}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in ("department", "number", "period") if "{" + n + "}" in r.path]
        if params:
            op["parameters"] = params
            op["responses"]["404"] = {"description": "no such department, request or month"}
        if r.method == "POST":
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"type": "object"}}}}
            op.setdefault("parameters", []).append(
                {"name": "X-CSRF-Token", "in": "header", "required": False,
                 "schema": {"type": "string"},
                 "description": "the session's CSRF token (the csrf field of any page); "
                                "not with an API token"})
            op["responses"] |= {"201": {"description": "filed"},
                                "409": {"description": "refused (e.g. not this person's to "
                                                       "decide)"},
                                "422": {"description": "invalid: the verdict with every "
                                                       "field's error"}}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {"openapi": "3.1.0",
            "info": {"title": "govcloud", "version": __version__,
                     "description": "The govcloud portal's HTTP API: the same figures as the "
                                    "govcloud command line. Sign in with POST /login (a form) "
                                    "and send the session cookie; posts need the session's "
                                    "CSRF token in X-CSRF-Token. Or send a govcloud API "
                                    "token (Authorization: Bearer) or, with the openstack "
                                    "driver, a Keystone token (X-Auth-Token)."},
            "components": {"securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": sessions.COOKIE},
                "token": {"type": "http", "scheme": "bearer",
                          "description": "a govcloud API token (govcloud tokens add); "
                                         "no CSRF token is needed with it"},
                "keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token",
                             "description": "a Keystone token (the openstack driver's "
                                            "estates); no CSRF token is needed with it"}}},
            "paths": paths}


def create_app(root: Path, secret: str | None = None, secure_cookies: bool = False) -> Starlette:
    """The portal of the estate at ``root``. ``secret`` signs the cookies (default: the
    GOVCLOUD_PORTAL_SECRET environment variable, else a key kept in the state store);
    ``secure_cookies`` marks them HTTPS-only (set it whenever the portal is reached over
    HTTPS, e.g. behind a TLS proxy)."""
    portal = Portal(root)
    signer = sessions.Signer(sessions.secret(portal.store,
                                             secret or os.environ.get("GOVCLOUD_PORTAL_SECRET")))
    pages = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                               autoescape=True, undefined=jinja2.StrictUndefined)
    log_root = portal.root

    def language(request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            return str(asked)
        kept = request.cookies.get("lang")
        return kept if kept in LANGUAGES else "zh"

    def render(request: Request, template: str, who: sessions.Session | None, status: int = 200,
               **context: Any) -> HTMLResponse:
        lang = language(request)
        html = pages.get_template(template).render(t=translator(lang), lang=lang, who=who,
                                                   **context)
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict",
                                httponly=True, secure=secure_cookies)
        return response

    def refuse(request: Request, route: Route, who: sessions.Session | None, status: int,
               heading: str, message: str) -> Response:
        if route.kind == "api":
            return _json({"error": message}, status)
        return render(request, "error.html", who, status, heading=heading, message=message)

    keystone = portal.driver.can(Ability.SIGN_IN)  # people sign in with the cloud's accounts
    followed: dict[str, float] = {}  # session token -> when its Keystone roles were read

    def current(request: Request) -> sessions.Session | None:
        session = sessions.find(portal.store,
                                signer.token(request.cookies.get(sessions.COOKIE)))
        if session is None or not session.person.keystone_id or not keystone:
            return session
        last = followed.get(session.token)
        if last is not None and time.monotonic() - last < FOLLOW_SECONDS:
            return session
        estate = portal.estate
        try:
            held = portal.driver.grants_of(session.person.keystone_id,
                                           estate.settings.keystone)
        except DriverError:
            return session  # Keystone does not answer: read again on the next request
        person = users.follow_keystone(portal.store, session.person, held,
                                        estate.settings.keystone, set(estate.plans))
        if person is None:
            sessions.end(portal.store, session.token)
            followed.pop(session.token, None)
            return None
        if len(followed) > 10_000:
            followed.clear()
        followed[session.token] = time.monotonic()
        return sessions.Session(person, session.csrf, session.token)

    callers: dict[str, tuple[float, users.Person | None]] = {}  # Keystone token digests

    def bearer(request: Request) -> sessions.Session | None:
        """The caller of an API route with ``Authorization: Bearer <govcloud API token>``
        or, with the openstack driver, ``X-Auth-Token: <Keystone token>``. When both are
        sent, the Bearer token is the credential (the other may be a client's leftover)."""
        authorization = request.headers.get("authorization", "")
        if keystone and "x-auth-token" in request.headers and \
                authorization[:7].lower() != "bearer ":
            return keystone_caller(request.headers["x-auth-token"])
        token = tokens.find(portal.store, authorization[7:].strip())
        return sessions.Session(token.person(), "", "") if token else None

    def keystone_caller(token: str) -> sessions.Session | None:
        """A Keystone token's person, checked with Keystone at most every FOLLOW_SECONDS."""
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        seen = callers.get(key)
        if seen is None or time.monotonic() - seen[0] >= FOLLOW_SECONDS:
            estate = portal.estate
            try:
                identity = portal.driver.token_identity(token, estate.settings.keystone)
            except DriverError:
                return None
            person = users.keystone_caller(portal.store, identity, estate.settings.keystone,
                                            set(estate.plans)) if identity else None
            if len(callers) > 10_000:
                callers.clear()
            seen = callers[key] = (time.monotonic(), person)
        person = seen[1] and users.find(portal.store, seen[1].name)  # disabled since?
        return sessions.Session(person, "", "") if person and not person.disabled else None

    def check_password(name: str, password: str, client: str) -> users.Person:
        if not keystone:
            return users.sign_in(portal.store, name, password, client)
        estate = portal.estate
        settings = estate.settings.keystone
        return users.sign_in_keystone(
            portal.store, name, password, client,
            lambda n, p: portal.driver.identify(n, p, settings), settings, set(estate.plans))

    def cross_site(request: Request) -> str:
        """Why a post does not come from this site's own pages ("" when it does)."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "a cross-site post"
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin is not None and origin != own:
            return f"a post from another origin ({origin[:80]})"
        referer = request.headers.get("referer")
        if origin is None and referer is not None and not (
                referer == own or referer.startswith(own + "/")):
            return "a post from another site"
        return ""

    def safe_next(target: str) -> str:
        ok = target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and len(target) < 512 and all(32 < ord(c) < 127 for c in target)
        return target if ok else "/"

    async def login_form(request: Request, who: sessions.Session | None,
                         message: str = "", name: str = "", status: int = 200) -> Response:
        token, cookie = signer.login_cookie()
        response = render(request, "login_form.html", None, status, csrf=token,
                          keystone=keystone,
                          next=safe_next(request.query_params.get("next", "/")),
                          message=message, name=name)
        response.set_cookie(sessions.LOGIN_COOKIE, cookie, httponly=True, samesite="strict",
                            secure=secure_cookies, path="/login")
        return response

    async def login(request: Request, form: dict[str, str]) -> Response:
        # Never cut the name short: a name cut to its first characters is another person's.
        name, password = form.get("name", ""), form.get("password", "")
        client = request.client.host if request.client else "unknown"
        try:
            person = await run_in_threadpool(check_password, name, password, client)
        except users.SignInRefused as exc:
            throttled = "too many" in str(exc)
            return await login_form(request, None, exc.render(), name if not throttled
                                    and len(name) <= users.MAX_NAME else "",
                                    429 if throttled else 401)
        session = await run_in_threadpool(sessions.start, portal.store, person)
        if person.keystone_id:
            followed[session.token] = time.monotonic()  # its roles were read just now
        target = safe_next(form.get("next", "/"))
        response = RedirectResponse(target, 303)
        response.set_cookie(sessions.COOKIE, signer.cookie(session.token),
                            max_age=int(sessions.LIFETIME.total_seconds()), httponly=True,
                            samesite="strict", secure=secure_cookies, path="/")
        response.delete_cookie(sessions.LOGIN_COOKIE, path="/login")
        return response

    async def read_form(request: Request) -> dict[str, Any] | None:
        """A posted form's fields, or a JSON body as {"_json": value}; None when the body
        has no length or is too large, {"_bad": why} when it cannot be read."""
        size = request.headers.get("content-length")
        if size is None or not size.isdigit() or int(size) > MAX_FORM_BYTES:
            return None
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        if kind == "application/json":
            raw = await request.body()
            if len(raw) > MAX_FORM_BYTES:
                return None
            try:
                return {"_json": json.loads(raw)}
            except (ValueError, RecursionError) as exc:
                return {"_bad": f"the body is not JSON ({type(exc).__name__})"}
        if kind != "application/x-www-form-urlencoded":
            return {"_bad": "send a form (application/x-www-form-urlencoded) or JSON"}
        form = await request.form(max_files=0, max_fields=60)
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def endpoint(route: Route) -> Callable[[Request], Awaitable[Response]]:
        async def gate(request: Request) -> Response:
            # An API route may be called with a govcloud API token instead of a session: no
            # cookie is involved then, so neither is the CSRF check.
            by_token = route.kind == "api" and not route.public and (
                request.headers.get("authorization", "")[:7].lower() == "bearer "
                or (keystone and "x-auth-token" in request.headers))
            who = await run_in_threadpool(bearer if by_token else current, request)
            if not route.public:
                if who is None:
                    if by_token:
                        return _json({"error": "the API token is unknown, revoked or "
                                                 "expired, or gives no role here"}, 401)
                    if route.kind == "api":
                        return _json({"error": "not signed in"}, 401)
                    return RedirectResponse(f"/login?next={request.url.path}", 303)
                department = request.path_params.get("department")
                if not allowed(route, who.person.role, who.person.department, department):
                    t = translator(language(request))
                    return refuse(request, route, who, 403, "Not allowed",
                                  t("Your role does not allow this page."))
            form: dict[str, Any] = {}
            if route.method == "POST" and by_token:
                parsed = await read_form(request)
                if parsed is None:
                    return refuse(request, route, who, 403, "Refused",
                                  "Refused: a body without a length, or larger than 64 KB.")
                form = parsed
            elif route.method == "POST":
                why = cross_site(request)
                parsed = await read_form(request)
                if parsed is None:
                    why = why or "a form without a length, or larger than 64 KB"
                form = parsed or {}
                token = form.get("csrf") if isinstance(form.get("csrf"), str) else None
                token = token or request.headers.get("x-csrf-token")
                expected = (signer.login_token(request.cookies.get(sessions.LOGIN_COOKIE))
                            if route.name == "login" else who.csrf if who else None)
                if not why and not sessions.same(token, expected):
                    why = "a form without this session's CSRF token (reload the page)"
                if why:
                    return refuse(request, route, who, 403, "Refused", f"Refused: {why}.")
            if route.name == "login_form":
                return await login_form(request, who)
            if route.name == "login":
                return await login(request, form)
            if route.name == "logout":
                assert who is not None
                await run_in_threadpool(sessions.end, portal.store, who.token)
                response = RedirectResponse("/login", 303)
                response.delete_cookie(sessions.COOKIE, path="/")
                return response
            if route.name == "stylesheet":
                return Response((HERE / "static" / "portal.css").read_bytes(),
                                media_type="text/css",
                                headers={"cache-control": "public, max-age=3600"})
            if route.name == "openapi":
                return _json(openapi())
            assert who is not None
            if "_bad" in form:
                return refuse(request, route, who, 400, "Refused", str(form["_bad"]))
            if route.kind == "api" and route.method == "POST" and "_json" not in form:
                return refuse(request, route, who, 415, "Refused",
                              "send the request as application/json")
            extra = {"body": form} if route.method == "POST" else {}
            try:
                view: Callable[..., Any] = VIEWS[route.name]
                result = await run_in_threadpool(view, portal, who,
                                                 **request.path_params, **extra)
            except NotFound as exc:
                return refuse(request, route, who, 404, "Not found", exc.render())
            except decisions.RequestRefused as exc:
                if exc.verdict is None:
                    return refuse(request, route, who, 409, "Refused", exc.render())
                verdict = exc.verdict.as_dict()
                if route.kind == "api":
                    return _json({"error": exc.render(), "verdict": verdict}, 422)
                payload = form.get("payload") or json.dumps(
                    {k: v for k, v in form.items() if k != "csrf"}, ensure_ascii=False)
                return render(request, "request_check.html", who, 422, data={
                    "department": verdict["department"], "verdict": verdict,
                    "payload": {}, "payload_json": payload})
            except GovcloudError as exc:
                return refuse(request, route, who, 409, "Something went wrong", exc.render())
            if isinstance(result, Download):
                return Response(result.body, media_type=result.media_type, headers={
                    "content-disposition": f'attachment; filename="{result.filename}"'})
            if isinstance(result, Redirect):
                return RedirectResponse(result.url, result.status)
            if isinstance(result, Created):
                return _json(result.data, 201)
            if route.kind == "api":
                return _json(result)
            parts: dict[str, Any] = {}
            if route.name in FRAGMENTS:
                def fragment(name: str = route.name, person: Any = who) -> Markup:
                    # The view again, inside: its figures are at least as new as the mark
                    # the fragment is kept under.
                    data = VIEWS[name](portal, person)
                    return Markup(pages.get_template(FRAGMENTS[name][1]).render(data=data))

                parts[FRAGMENTS[route.name][0]] = await run_in_threadpool(
                    portal.figures, ("fragment", route.name), fragment)
            return render(request, f"{route.name}.html", who, data=result, **parts)

        gate.__name__ = f"{route.name}_{route.kind}"
        return gate

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return _json({"error": "no such endpoint"}, 404)
        return render(request, "error.html", None, 404, heading="Not found",
                      message=request.url.path[:200])

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _json({"error": "method not allowed"}, 405) if \
            request.url.path.startswith("/api/") else Response("method not allowed", 405)

    async def internal(request: Request, exc: Exception) -> Response:
        log = crashlog.write(exc, log_root)
        where = f" The details are in {log}." if log else ""
        return Response(f"Internal error: this is a bug in govcloud.{where}", 500,
                        media_type="text/plain; charset=utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        portal.close()

    app = Starlette(
        routes=[StarletteRoute(r.path, endpoint(r), methods=[r.method],
                               name=f"{r.name}_{r.kind}_{r.method}") for r in ROUTES],
        exception_handlers={404: not_found, 405: not_allowed, Exception: internal},
        lifespan=lifespan)
    app.add_middleware(SecurityHeaders)
    app.state.portal = portal
    return app


def from_environment() -> Starlette:
    """The app of the estate in GOVCLOUD_ESTATE (for ``uvicorn --factory`` and workers)."""
    return create_app(Path(os.environ.get("GOVCLOUD_ESTATE", ".")),
                      secure_cookies=os.environ.get("GOVCLOUD_PORTAL_SECURE") == "1")


__all__ = ["create_app", "from_environment", "openapi"]
