"""The portal's exception handlers: how a request that is not served is answered, as JSON to
an API call and as an error page otherwise.

- ``auth.NotSignedIn``: 401 to an API call, else the sign-in form (303 to ``/login``);
- ``auth.SecondFactorNeeded``: 403 (``"code": "second_factor_required"``) to an API call,
  else the second factor's page (303 to ``/login/second-factor``);
- ``auth.NotAllowed``: 403, the caller's role or department does not allow the route;
- ``Refused``: the post itself is refused (403 CSRF or a body too large, 400 a body that
  cannot be read, 415 an API post that is not JSON);
- a view's ``views.results.NotFound``: 404; ``decisions.RequestRefused``: 409, or 422 with the
  verdict (its field-level errors) when the request is invalid (a page: the verdict and the
  kind's form with the fields as posted); any other ``GovcloudError``: 409 with its message
  and fix;
- a path that names no route: 404, a method the route does not take: 405;
- anything else is a bug in govcloud: 500, the traceback written to a crash log.

The sign-in form's own refusal (a wrong password, 401; too many, 429) is answered by the
sign-in form again (``endpoints.Endpoints.sign_in_refused``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match

from govcloud.errors import GovcloudError
from govcloud.portal import sessions
from govcloud.portal.auth import ROUTE, NotAllowed, NotSignedIn, SecondFactorNeeded, caller
from govcloud.portal.forms import posted
from govcloud.portal.i18n import translator
from govcloud.portal.pages import Pages, json_response
from govcloud.portal.views import requests
from govcloud.portal.views.results import BadBody, NotFound
from govcloud.requests import decisions
from govcloud.state import crashlog

SECOND_FACTOR_REQUIRED = (
    "this session waits for its second factor: nothing else can be done with it until then",
    "give the code of your authenticator app at /login/second-factor (enrol there first "
    "if you have not), or call the API with an API token")


class Refused(Exception):
    """A post the portal refuses before its view runs: its status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def refused(conn: HTTPConnection, status: int, why: str) -> None:
    """Record a refusal in the audit trail (``refusals``: sampled per client)."""
    kept = getattr(conn.app.state, "refusals", None)
    if kept is None:
        return
    who = caller(conn)
    await run_in_threadpool(kept.record, conn.client.host if conn.client else "unknown",
                            who.person.name if who else "", status,
                            conn.scope.get("method", ""), conn.url.path, why)


def answers_json(request: Request) -> bool:
    """Whether the request is answered with JSON: its route's kind, or for a path that
    names no route (or one not admitted yet), whether it is the API's (``/api/…``)."""
    route = request.scope.get(ROUTE)
    return route.kind == "api" if route is not None else request.url.path.startswith("/api/")


def back_to(request: Request) -> str:
    """Where to come back after signing in: the page asked for with its query (filters, a
    month, a page of a list); for a form posted when the session had ended, the page the
    form was on (the Referer, when it is this site's), not the address it posts to."""
    if request.method in ("GET", "HEAD"):
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    came = urlsplit(request.headers.get("referer", ""))
    if came.netloc == request.url.netloc and came.path.startswith("/"):
        return came.path + (f"?{came.query}" if came.query else "")
    return "/"


def refused_page(portal: Any, verdict: dict[str, Any], form: dict[str, Any],
                 number: str | None) -> dict[str, Any]:
    """The verdict page of a request refused when it was filed (or filed again: ``number``),
    its form filled with what was posted (``views.requests.verdict_page``)."""
    department = str(verdict["department"])
    if portal is None or department not in portal.estate.plans:
        return {"department": department, "verdict": verdict, "payload": {}, "again": None,
                "payload_json": form.get("payload") or json.dumps(
                    {k: v for k, v in form.items() if k != "csrf"}, ensure_ascii=False)}
    payload = requests.posted_payload(form, department)
    again = int(number) if number and number.isascii() and number.isdigit() else None
    return requests.verdict_page(portal, department, payload, verdict, again)


class Handlers:
    """The handlers, for ``Starlette(exception_handlers=Handlers(…).table())``."""

    def __init__(self, pages: Pages, log_root: Path) -> None:
        self.pages = pages
        self.log_root = log_root

    def table(self) -> dict[Any, Any]:
        return {NotSignedIn: self.not_signed_in, NotAllowed: self.not_allowed,
                SecondFactorNeeded: self.second_factor_needed,
                Refused: self.refused, NotFound: self.not_found, BadBody: self.bad_body,
                decisions.RequestRefused: self.request_refused,
                GovcloudError: self.failed, 404: self.no_route, 405: self.no_method,
                Exception: self.internal}

    def _refusal(self, request: Request, status: int, heading: str,
                 message: str) -> Response:
        return self.pages.refusal(request, answers_json(request), caller(request), status,
                                  heading, message)

    def _told(self, request: Request, exc: GovcloudError) -> str:
        """What went wrong and how to go on: to an API call as govcloud says it, on a page
        in the page's language."""
        return exc.render() if answers_json(request) else self.pages.said(request, exc)

    async def not_signed_in(self, request: Request, exc: Exception) -> Response:
        await refused(request, 401, "not signed in")
        if answers_json(request):
            return json_response({"error": "not signed in"}, 401)
        # a session cookie that signs in nobody: its session ended (idle, its lifetime, or
        # ended from another session); the sign-in form says so
        ended = "&ended=1" if request.cookies.get(sessions.COOKIE) else ""
        return RedirectResponse(f"/login?next={quote(back_to(request), safe='/')}{ended}", 303)

    async def second_factor_needed(self, request: Request, exc: Exception) -> Response:
        await refused(request, 403, "second factor not given")
        if answers_json(request):
            t = translator(self.pages.language(request))
            return json_response({"error": t(SECOND_FACTOR_REQUIRED[0]),
                                  "code": "second_factor_required",
                                  "fix": t(SECOND_FACTOR_REQUIRED[1])}, 403)
        return RedirectResponse("/login/second-factor?next=" + quote(back_to(request), safe="/"),
                                303)

    async def not_allowed(self, request: Request, exc: Exception) -> Response:
        t = translator(self.pages.language(request))
        message = t(exc.message) if isinstance(exc, NotAllowed) and exc.message else \
            t("Your role does not allow this page.")
        await refused(request, 403, exc.message if isinstance(exc, NotAllowed) and
                      exc.message else "the role does not allow the route")
        return self._refusal(request, 403, "Not allowed", message)

    async def refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        if exc.status == 403:  # a post without its CSRF token, or from another origin
            await refused(request, 403, exc.message)
        return self._refusal(request, exc.status, "Refused",
                             exc.message if answers_json(request) else
                             translator(self.pages.language(request))(exc.message))

    async def bad_body(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadBody)
        return self._refusal(request, 400, "Refused", self._told(request, exc))

    async def not_found(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotFound)
        return self._refusal(request, 404, "Not found", self._told(request, exc))

    async def request_refused(self, request: Request, exc: Exception) -> Response:
        """A request the rules refuse: with its verdict (an invalid request), the verdict
        page again with the fields as sent, or to an API call 422 with the verdict."""
        assert isinstance(exc, decisions.RequestRefused)
        if exc.verdict is None:
            return self._refusal(request, 409, "Refused", self._told(request, exc))
        verdict = exc.verdict.as_dict()
        if answers_json(request):
            return json_response({"error": exc.render(), "verdict": verdict}, 422)
        form = (await posted(request) or {}) if request.method == "POST" else {}
        portal = getattr(request.app.state, "portal", None)
        data = await run_in_threadpool(refused_page, portal, verdict, form,
                                       request.path_params.get("number"))
        return self.pages.render(request, "request_check.html", caller(request), 422,
                                 data=data)

    async def failed(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GovcloudError)
        return self._refusal(request, 409, "Something went wrong",
                             self._told(request, exc))

    async def no_route(self, request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return json_response({"error": "no such endpoint"}, 404)
        return self.pages.render(request, "error.html", None, 404, heading="Not found",
                                 message=request.url.path[:200])

    async def no_method(self, request: Request, exc: Exception) -> Response:
        """405 with the Allow header (RFC 9110): every method the path's routes take."""
        # the most specific routes of the path: /requests/dry-run is not /requests/{number}
        matching = [r for r in request.app.routes
                    if r.matches(request.scope)[0] != Match.NONE]
        fewest = min((r.path.count("{") for r in matching), default=0)
        allow = sorted({m for r in matching if r.path.count("{") == fewest
                        for m in getattr(r, "methods", None) or ()})
        response = json_response({"error": "method not allowed"}, 405) if \
            request.url.path.startswith("/api/") else Response("method not allowed", 405)
        response.headers["allow"] = ", ".join(allow)
        return response

    async def internal(self, request: Request, exc: Exception) -> Response:
        log = crashlog.write(exc, self.log_root)
        where = f" The details are in {log}." if log else ""
        return Response(f"Internal error: this is a bug in govcloud.{where}", 500,
                        media_type="text/plain; charset=utf-8")
