"""The CSRF check of a post: it must come from this site's own pages (``Sec-Fetch-Site``,
``Origin``, ``Referer``) and carry the session's CSRF token (the form's ``csrf`` field, or
the ``X-CSRF-Token`` header), else it is refused, 403, before its endpoint runs.

Before sign-in there is no session: a public form (the sign-in form) carries the token of its
own signed double-submit cookie (``sessions.LOGIN_COOKIE``). A post with an API token
(``auth.Caller.by_token``) sends no cookie a browser could add by itself, and is not checked.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from govcloud.portal import sessions
from govcloud.portal.auth import Caller, caller
from govcloud.portal.errors import Refused
from govcloud.portal.forms import posted


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


class CSRF:
    """The check, in front of one post route's endpoint (``public``: the sign-in form's)."""

    def __init__(self, app: ASGIApp, signer: sessions.Signer, public: bool) -> None:
        self.app = app
        self.signer = signer
        self.public = public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if scope["type"] == "http" and not (isinstance(user, Caller) and user.by_token):
            why = await self.why_refused(Request(scope, receive))
            if why:
                raise Refused(403, f"Refused: {why}.")
        await self.app(scope, receive, send)

    async def why_refused(self, request: Request) -> str:
        """Why the post is refused ("" when it is not)."""
        why = cross_site(request)
        body = await posted(request)
        if body is None:
            why = why or "a form without a length, or larger than 64 KB"
        form = body or {}
        token = form.get("csrf") if isinstance(form.get("csrf"), str) else None
        token = token or request.headers.get("x-csrf-token")
        who = caller(request)
        expected = (self.signer.login_token(request.cookies.get(sessions.LOGIN_COOKIE))
                    if self.public else who.csrf if who else None)
        if not why and not sessions.same(token, expected):
            why = "a form without this session's CSRF token (reload the page)"
        return why
