"""How the portal answers: a page, rendered from its template in the person's language
(Simplified Chinese first, English with ``?lang=en``, the choice kept in a cookie), or JSON;
and a refusal in either form, JSON for the API (``/api/…``) and an error page otherwise."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from govcloud.portal.i18n import LANGUAGES, translator
from govcloud.portal.sessions import Session


def json_response(data: Any, status: int = 200) -> Response:
    """``data`` as JSON, non-ASCII text as it is and amounts (Decimal) as strings."""
    def default(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else repr(v)

    return Response(json.dumps(data, ensure_ascii=False, default=default), status,
                    media_type="application/json")


class Pages:
    """The templates of ``folder``, rendered for one request at a time."""

    def __init__(self, folder: Path, secure_cookies: bool) -> None:
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(folder),
                                            autoescape=True, undefined=jinja2.StrictUndefined)
        self.secure_cookies = secure_cookies

    def language(self, request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked in LANGUAGES:
            return str(asked)
        kept = request.cookies.get("lang")
        return kept if kept in LANGUAGES else "zh"

    def render(self, request: Request, template: str, who: Session | None, status: int = 200,
               **context: Any) -> HTMLResponse:
        lang = self.language(request)
        html = self.templates.get_template(template).render(t=translator(lang), lang=lang,
                                                            who=who, **context)
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict",
                                httponly=True, secure=self.secure_cookies)
        return response

    def fragment(self, template: str, **context: Any) -> Markup:
        """A part of a page with no translated text (the same for every person)."""
        return Markup(self.templates.get_template(template).render(**context))

    def refusal(self, request: Request, api: bool, who: Session | None, status: int,
                heading: str, message: str) -> Response:
        """Why the request is not served: ``{"error": message}`` to an API call, else the
        error page."""
        if api:
            return json_response({"error": message}, status)
        return self.render(request, "error.html", who, status, heading=heading,
                           message=message)
