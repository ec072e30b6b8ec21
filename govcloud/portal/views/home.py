"""Where each role starts (``/``), who is signed in (``/api/me``) and their sessions
(``/sessions``: a person's own, an operator's everyone's, a scoped operator's those of
their subtree's accounts; each can be ended)."""

from __future__ import annotations

from typing import Any

from govcloud.access import users as user_records
from govcloud.errors import GovcloudError
from govcloud.portal import scopes
from govcloud.portal import sessions as kept
from govcloud.portal.context import Portal
from govcloud.portal.forms import from_api
from govcloud.portal.sessions import Session
from govcloud.portal.views.departments import departments
from govcloud.portal.views.notices import navigation
from govcloud.portal.views.results import Data, NotFound, Redirect


def me(p: Portal, who: Session) -> Data:
    return {"name": who.person.name, "role": who.person.role,
            "department": who.person.department, "scope": who.person.subtree or None}


def home(p: Portal, who: Session) -> Data:
    """Where the person starts: their own department (a member's, an approver's); for the
    oversight roles a summary (how many departments, what waits for them, new notices) and
    links, never the whole list of departments."""
    listed = departments(p, who)
    own = listed["departments"] if who.person.department else []
    return {**me(p, who), "departments": own, "count": listed["paging"]["total"],
            **navigation(p, who)}


def _whose(who: Session) -> str | None:
    """Whose sessions the caller may list and end: everyone's for an operator."""
    return None if who.person.role == "operator" else who.person.name


def _listed(p: Portal, who: Session) -> list[kept.Listed]:
    """The live sessions the caller may see: their own; an operator's everyone's, a scoped
    operator's those of the accounts inside their subtree (``scopes.accounts``)."""
    found = kept.listing(p.store, _whose(who), who.token)
    if _whose(who) is not None or scopes.reach(p, who.person) is None:
        return found
    inside = {x.name for x in scopes.accounts(p, who.person, user_records.people(p.store))}
    return [s for s in found if s.name in inside]


def sessions(p: Portal, who: Session) -> Data:
    return {"sessions": [vars(s) for s in _listed(p, who)],
            "idle_minutes": int(kept.IDLE.total_seconds() // 60),
            "lifetime_hours": int(kept.LIFETIME.total_seconds() // 3600)}


def session_end(p: Portal, who: Session, handle: str, body: Data) -> Any:
    try:
        if handle not in {s.handle for s in _listed(p, who)}:  # outside a scoped one's reach
            raise GovcloudError(f"no live session {handle[:20]!r} in your reach", "")
        ended = kept.end_listed(p.store, handle, who.person.name, _whose(who), "portal")
    except GovcloudError as exc:
        raise NotFound(f"no live session {handle[:20]!r} of yours",
                       "the sessions page lists them") from exc
    if from_api(body):
        return vars(ended)
    return Redirect("/login" if ended.current else "/sessions")
