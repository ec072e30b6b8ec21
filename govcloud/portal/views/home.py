"""Where each role starts (``/``) and who is signed in (``/api/me``)."""

from __future__ import annotations

from govcloud.portal.context import Portal
from govcloud.portal.sessions import Session
from govcloud.portal.views.departments import departments
from govcloud.portal.views.results import Data


def me(p: Portal, who: Session) -> Data:
    return {"name": who.person.name, "role": who.person.role,
            "department": who.person.department}


def home(p: Portal, who: Session) -> Data:
    return {**me(p, who), "departments": departments(p, who)["departments"]}
