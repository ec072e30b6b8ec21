"""The portal's endpoints, one per route of the table (``routes.ROUTES``), each reached only
through the route's guards (``app._served``: sign-in, admission, CSRF).

A view's route (``views.registry.VIEWS``) has the twin endpoint (``Endpoints.twin``): the
view's data rendered with the template of the route's name for a page, returned as JSON for
the API, or the file, redirect or 201 the view returns. The other routes are ordinary endpoints: the
sign-in form, signing in and out, the style sheet and the OpenAPI description."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govcloud.access import second_factor, users
from govcloud.errors import GovcloudError
from govcloud.portal import sessions
from govcloud.portal.auth import SignIn, caller
from govcloud.portal.context import LATE, Late, Portal
from govcloud.portal.errors import Refused
from govcloud.portal.forms import posted
from govcloud.portal.headers import with_styles
from govcloud.portal.i18n import translator
from govcloud.portal.openapi import openapi
from govcloud.portal.pages import Pages, json_response
from govcloud.portal.routes import Route
from govcloud.portal.views import VIEWS
from govcloud.portal.views.notices import navigation
from govcloud.portal.views.results import (
    Amiss,
    Created,
    Data,
    Download,
    Redirect,
    Table,
    Workbook,
)

Endpoint = Callable[[Request], Awaitable[Response]]
STATIC = Path(__file__).parent / "static"
# Parts of a page that are the same for every person of a language, and large: rendered once
# per change of the figures (``Portal.figures``) and language, not per request. The estate
# overview's 2,000 rows took 40-130 ms to render.
FRAGMENTS = {"estate": ("rows", "estate_rows.html")}  # page: (its variable, the template)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of this site, else ``/``."""
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target \
        and len(target) < 512 and all(32 < ord(c) < 127 for c in target)
    return target if ok else "/"


class Endpoints:
    """The endpoints of one portal."""

    def __init__(self, portal: Portal, pages: Pages, sign_in: SignIn) -> None:
        self.portal = portal
        self.pages = pages
        self.signing = sign_in

    def of(self, route: Route) -> Endpoint:
        """The endpoint of ``route``: an ordinary one by its name, else its view's twin."""
        ordinary: dict[str, Endpoint] = {
            "login_form": self.sign_in_form, "login": self.sign_in, "logout": self.sign_out,
            "second_factor_form": self.factor_form, "second_factor": self.factor,
            "stylesheet": self.stylesheet, "openapi": self.openapi}
        return ordinary.get(route.name) or self.twin(route)

    # --- Signing in and out, the style sheet, the OpenAPI description

    async def sign_in_form(self, request: Request, message: str = "", name: str = "",
                           status: int = 200) -> Response:
        token, cookie = self.signing.signer.login_cookie()
        response = self.pages.render(request, "login_form.html", None, status, csrf=token,
                                     keystone=self.signing.keystone,
                                     next=safe_next(request.query_params.get("next", "/")),
                                     message=message, name=name,
                                     ended=request.query_params.get("ended") == "1",
                                     idle_minutes=int(sessions.IDLE.total_seconds() // 60),
                                     lifetime_hours=int(sessions.LIFETIME.total_seconds()
                                                        // 3600))
        response.set_cookie(sessions.LOGIN_COOKIE, cookie, httponly=True, samesite="strict",
                            secure=self.pages.secure_cookies, path="/login")
        return response

    async def sign_in(self, request: Request) -> Response:
        """Sign in with the form's name and password (``users.SignInRefused``, answered by
        ``sign_in_refused``, when they are wrong) and go on to the form's ``next``."""
        form = await posted(request) or {}
        # Never cut the name short: a name cut to its first characters is another person's.
        name, password = form.get("name", ""), form.get("password", "")
        client = request.client.host if request.client else "unknown"
        person, factor = await run_in_threadpool(self.signing.check_password, name, password,
                                                 client)
        session = await run_in_threadpool(sessions.start, self.portal.store, person, factor)
        if person.keystone_id or person.directory_dn:
            self.signing.started(session)  # its roles were read just now
        target = safe_next(form.get("next", "/"))
        response = RedirectResponse(
            f"/login/second-factor?next={quote(target)}" if factor else target, 303)
        self._cookie(response, session)
        response.delete_cookie(sessions.LOGIN_COOKIE, path="/login")
        return response

    def _cookie(self, response: Response, session: sessions.Session) -> None:
        response.set_cookie(sessions.COOKIE, self.signing.signer.cookie(session.token),
                            max_age=int(sessions.LIFETIME.total_seconds()), httponly=True,
                            samesite="strict", secure=self.pages.secure_cookies, path="/")

    async def factor_form(self, request: Request, message: str = "",
                          status: int = 200) -> Response:
        """The second factor's page: to enrol (the secret as an otpauth URI and as text,
        until it is confirmed), or to give a code. A full session goes home."""
        who = caller(request)
        assert who is not None  # admitted: the route needs a sign-in
        if not who.waits:
            return RedirectResponse("/", 303)
        secret, uri = await run_in_threadpool(second_factor.begin, self.portal.store,
                                              who.person.name) \
            if who.factor == "enrol" else ("", "")
        return self.pages.render(request, "second_factor.html", None, status,
                                 csrf=who.csrf, enrol=who.factor == "enrol", secret=secret,
                                 uri=uri, message=message, codes=[],
                                 next=safe_next(request.query_params.get("next", "/")))

    async def factor(self, request: Request) -> Response:
        """The code after the password: enrolling, it confirms the secret and the recovery
        codes are shown once; else the code (or a recovery code) is checked. Then the
        session is whole (a new token) and goes on to ``next``."""
        who = caller(request)
        assert who is not None
        form = await posted(request) or {}
        code, target = str(form.get("code", ""))[:64], safe_next(form.get("next", "/"))
        if not who.waits:
            return RedirectResponse(target, 303)
        client = request.client.host if request.client else "unknown"
        store = self.portal.store
        try:
            if who.factor == "enrol":
                codes = await run_in_threadpool(second_factor.confirm, store, who.person,
                                                code, client)
            else:
                await run_in_threadpool(second_factor.check, store, who.person, code, client)
                codes = []
        except users.SignInRefused as exc:
            throttled = "too many" in str(exc)
            if throttled:
                await self._throttled(request, who.person.name, who.person.name)
            return await self.factor_form(request, self._said(request, exc),
                                          429 if throttled else 401)
        whole = await run_in_threadpool(sessions.complete, store, who)
        response: Response = RedirectResponse(target, 303) if not codes else \
            self.pages.render(request, "second_factor.html", whole, codes=codes, next=target,
                              enrol=False, csrf="", secret="", uri="", message="")
        self._cookie(response, whole)
        return response

    async def sign_in_refused(self, request: Request, exc: Exception) -> Response:
        """The exception handler of a refused sign-in: the form again with why, 401 (429
        when throttled), the name kept unless throttled or longer than a name may be."""
        assert isinstance(exc, users.SignInRefused)
        form = await posted(request) or {}
        name = form.get("name", "")
        throttled = "too many" in str(exc)
        if throttled:
            known = len(name) <= users.MAX_NAME and await run_in_threadpool(
                users.find, self.portal.store, name) is not None
            await self._throttled(request, "", name if known else "")
        return await self.sign_in_form(
            request, self._said(request, exc),
            name if not throttled and len(name) <= users.MAX_NAME else "",
            429 if throttled else 401)

    def _said(self, request: Request, exc: GovcloudError) -> str:
        """A refusal in the page's language (what is wrong — how to go on)."""
        return self.pages.said(request, exc)

    async def _throttled(self, request: Request, who: str, account: str) -> None:
        """Record a sign-in refused while its account or client is locked (429: sampled per
        client as every refusal is); ``account``: the account it was for, when it is one
        (a name that is no account is not recorded: people type passwords there)."""
        kept = getattr(request.app.state, "refusals", None)
        if kept is None:
            return
        why = "too many failed sign-ins" + (f" of {account!r}" if account else "")
        await run_in_threadpool(kept.record, request.client.host if request.client else
                                "unknown", who, 429, "POST", request.url.path, why)

    async def sign_out(self, request: Request) -> Response:
        who = caller(request)
        assert who is not None  # admitted: the route needs a sign-in
        client = request.client.host if request.client else "unknown"
        await run_in_threadpool(sessions.end, self.portal.store, who.token, client)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(sessions.COOKIE, path="/")
        return response

    async def stylesheet(self, request: Request) -> Response:
        return Response((STATIC / "portal.css").read_bytes(), media_type="text/css",
                        headers={"cache-control": "public, max-age=3600"})

    async def openapi(self, request: Request) -> Response:
        return json_response(openapi())

    # --- A view's page and its API twin

    def twin(self, route: Route) -> Endpoint:
        """The endpoint of a view's route: the view called with the caller, the path's
        parameters and for a post its body; its data as the route's page or as JSON."""
        view = VIEWS.get(route.name)
        if view is None:
            raise LookupError(f"route {route.name!r} has no view: register one under that name "
                              "in govcloud/portal/views/registry.py (VIEWS)")

        takes_query = "query" in inspect.signature(view).parameters

        async def answer(request: Request) -> Response:
            who = caller(request)
            assert who is not None  # admitted: every view's route needs a sign-in
            extra: dict[str, Any] = {"body": await self._body(request, route)} \
                if route.method == "POST" else {}
            if takes_query:  # a view that reads the query string (e.g. ?period=) says so
                extra["query"] = dict(request.query_params)
            LATE.set(Late())  # the view's thread shares it (its context is a copy)
            result = await run_in_threadpool(view, self.portal, who, **request.path_params,
                                             **extra)
            return await self._answer(request, route, who, result)

        answer.__name__ = f"{route.name}_{route.kind}"
        return answer

    async def _body(self, request: Request, route: Route) -> Data:
        body = await posted(request)
        if body is None:  # with a token (a session's post was refused by the CSRF check)
            raise Refused(403, "Refused: a body without a length, or larger than 64 KB.")
        if "_bad" in body:
            raise Refused(400, str(body["_bad"]))
        if route.kind == "api" and "_json" not in body:
            raise Refused(415, "send the request as application/json")
        return body

    async def _answer(self, request: Request, route: Route, who: sessions.Session,
                      result: Any) -> Response:
        if isinstance(result, Table | Workbook):
            lang = self.pages.language(request)
            result = (result.download(translator(lang)) if isinstance(result, Table)
                      else result.download(translator(lang), lang == "zh"))
        if isinstance(result, Download):
            how = "inline" if result.inline else "attachment"
            headers = {"content-disposition": f'{how}; filename="{result.filename}"'}
            if result.inline:  # a page of its own: its style allowed, nothing else
                headers["content-security-policy"] = with_styles(result.body)
            return Response(result.body, media_type=result.media_type, headers=headers)
        if isinstance(result, Redirect):
            return RedirectResponse(result.url, result.status)
        if isinstance(result, Created):
            return json_response(result.data, 201)
        if isinstance(result, Amiss) and route.kind == "api":
            raise result.error
        late = LATE.get()
        late_at = datetime.fromtimestamp(late.made_at, UTC).isoformat() \
            if late is not None and late.made_at else ""
        if route.kind == "api":
            response = json_response(result)
            if late_at:  # figures from before the last change, being made again
                response.headers["x-figures-made-at"] = late_at
            return response
        status, parts = 200, {"late": late_at}
        if isinstance(result, Amiss):
            status, parts["problem"] = 400, self.pages.said(request, result.error)
            result = result.data
        if route.name in FRAGMENTS:
            lang = self.pages.language(request)
            parts[FRAGMENTS[route.name][0]] = await run_in_threadpool(
                self.portal.figures, ("fragment", route.name, lang),
                lambda: self._fragment(route.name, who, lang))
        nav = await run_in_threadpool(navigation, self.portal, who)  # counts in the menu
        return self.pages.render(request, f"{route.name}.html", who, status, data=result,
                                 nav=nav, **parts)

    def _fragment(self, name: str, who: sessions.Session, lang: str) -> Markup:
        # The view again, inside: its figures are at least as new as the mark the fragment
        # is kept under.
        data = VIEWS[name](self.portal, who)
        return self.pages.fragment(FRAGMENTS[name][1], lang, data=data)
