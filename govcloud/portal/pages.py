"""How the portal answers: a page, rendered from its template in the person's language
(Simplified Chinese first, English with ``?lang=en``, the choice kept in a cookie), or JSON;
and a refusal in either form, JSON for the API (``/api/…``) and an error page otherwise.

Templates have Jinja2's i18n extension: ``t("…")`` (``i18n.Translator``; ``gettext``/``_``
and ``{% trans %}`` work too) gives the text in the page's language, and the filters
``when``, ``day`` and ``amount`` (``formats``) write moments in the estate's time zone and
amounts with the locale's separators.

A page reached with GET links to itself in the other language, its query string kept
(``kept_query``: a list's filters and page, a month). A page answering a post has no address
of its own to load again in the other language.
The verdict of a request (``request_check.html``, checking a request changes nothing) is
checked again: its language links post the same fields to the check with ``?lang=``
(``replay``). Any other page answering a post (a refusal) links to the home page in the
other language: posting it again could act twice."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from govcloud.errors import GovcloudError
from govcloud.portal import formats
from govcloud.portal.forms import BODY
from govcloud.portal.i18n import LANGUAGES, translator
from govcloud.portal.phrases import field_label
from govcloud.portal.sessions import Session
from govcloud.reports.tables import title_in

# Pages answering a post that are their own form (reached with GET too): their language
# links load the form again; what was typed there (a password, a code) is never posted.
OWN_FORMS = frozenset({"login_form.html", "second_factor.html"})
CHECK = "/departments/{department}/requests/check"  # where a verdict's fields are posted
MAX_KEPT = 2000  # characters of a page's query string its language links keep


def json_response(data: Any, status: int = 200) -> Response:
    """``data`` as JSON, non-ASCII text as it is and amounts (Decimal) as strings."""
    def default(v: Any) -> Any:
        return str(v) if isinstance(v, Decimal) else repr(v)

    return Response(json.dumps(data, ensure_ascii=False, default=default), status,
                    media_type="application/json")


@jinja2.pass_context
def _when(context: Any, value: Any) -> str:
    return formats.when(value, context["lang"], context["time_zone"])


@jinja2.pass_context
def _day(context: Any, value: Any) -> str:
    return formats.day(value, context["lang"])


@jinja2.pass_context
def _amount(context: Any, value: Any) -> str:
    return formats.amount(value, context["lang"])


@jinja2.pass_context
def _quantity(context: Any, value: Any) -> str:
    return formats.quantity(value, context["lang"])


@jinja2.pass_context
def _column(context: Any, code: str) -> str:
    """A finance report's column title in the page's language (the workbook's, see
    ``reports.tables.title_in``); a pool's share column is headed by the pool's name."""
    return title_in(code, context["lang"] == "zh") or str(context["t"](code))


def environment(folder: Path) -> jinja2.Environment:
    """The templates of ``folder`` with the i18n extension and the formatting filters."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                             undefined=jinja2.StrictUndefined,
                             extensions=["jinja2.ext.i18n"])
    env.install_null_translations()  # type: ignore[attr-defined]  # each render passes its own
    env.filters.update(when=_when, day=_day, amount=_amount, quantity=_quantity,
                       column=_column)
    env.globals["field_label"] = field_label
    return env


class Pages:
    """The templates of ``folder``, rendered for one request at a time."""

    def __init__(self, folder: Path, secure_cookies: bool) -> None:
        self.templates = environment(folder)
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
        t, zone = translator(lang), time_zone(request)
        html = self.templates.get_template(template).render(
            t=t, gettext=t, _=t, ngettext=t.ngettext, lang=lang, who=who, time_zone=zone,
            zone_label=formats.zone_name(zone, lang), **switch(request, template, context),
            **context)
        response = HTMLResponse(html, status)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="strict",
                                httponly=True, secure=self.secure_cookies)
        return response

    def fragment(self, template: str, lang: str, **context: Any) -> Markup:
        """A part of a page that is the same for every person of a language."""
        return Markup(self.templates.get_template(template).render(t=translator(lang),
                                                                   lang=lang, **context))

    def said(self, request: Request, exc: GovcloudError) -> str:
        """An error in the page's language: what is wrong — how to go on."""
        t = translator(self.language(request))
        return f"{t(str(exc))} — {t(exc.hint)}" if exc.hint else t(str(exc))

    def refusal(self, request: Request, api: bool, who: Session | None, status: int,
                heading: str, message: str) -> Response:
        """Why the request is not served: ``{"error": message}`` to an API call, else the
        error page."""
        if api:
            return json_response({"error": message}, status)
        return self.render(request, "error.html", who, status, heading=heading,
                           message=message)


def time_zone(request: Request) -> str:
    """The estate's ``portal.time_zone`` (UTC for a page served before the estate is read)."""
    portal = getattr(request.app.state, "portal", None) if "app" in request.scope else None
    return portal.estate.settings.time_zone if portal is not None else "UTC"


def switch(request: Request, template: str, context: dict[str, Any]) -> dict[str, Any]:
    """Where the page's language links lead: ``lang_path`` with ``lang_query`` and then
    ``lang=`` (``kept_query``: the page itself when it was reached with GET, its filters,
    search, page and period kept), or for a verdict the check posted again with the form's
    fields (``replay``, ``replay_to``)."""
    if request.method != "POST" or template in OWN_FORMS:
        return {"lang_path": "", "lang_query": kept_query(request), "replay": None,
                "replay_to": ""}
    data = context.get("data")
    if template == "request_check.html" and isinstance(data, dict):
        body = request.scope.get(BODY) or {}
        fields = [(k, v) for k, v in body.items() if isinstance(v, str)
                  and not k.startswith("_")]
        return {"lang_path": "", "lang_query": "?", "replay": fields,
                "replay_to": CHECK.format(department=data["department"])}
    return {"lang_path": "/", "lang_query": "?", "replay": None, "replay_to": ""}


def kept_query(request: Request) -> str:
    """The page's own query string without its ``lang``, written again (each name and value
    percent-encoded as a form would), ready for ``lang=`` to follow: ``?q=x&page=2&``.

    The link it makes has no path and no host (``?…``): the browser keeps the page's own
    address, so no parameter (a ``next``) nor header (a Referer) can lead it to another
    site. A query longer than ``MAX_KEPT`` is not kept (the page in the other language
    starts afresh)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    kept = urlencode(pairs)
    return f"?{kept}&" if kept and len(kept) <= MAX_KEPT else "?"
