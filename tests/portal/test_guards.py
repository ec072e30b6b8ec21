"""How the app is assembled (``govcloud.portal.app``): every route of the table is served
behind its guards, in order — the sign-in backend, the admission by the route's roles and, for
a post, the CSRF check — so no route can reach its endpoint around them; and the API is what
lives under ``/api/`` (the exception handlers answer JSON there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.middleware.authentication import AuthenticationMiddleware

from govcloud.portal.auth import Admission, Backend
from govcloud.portal.csrf import CSRF
from govcloud.portal.routes import ROUTES
from tests.support.estate import copy_estate


def _guards(served: Any) -> list[Any]:
    """The middleware in front of a served route's endpoint, outermost first."""
    out, app = [], served.app
    while hasattr(app, "app"):
        out.append(app)
        app = app.app
    return out


def test_every_route_is_served_behind_its_guards(tmp_path: Path) -> None:
    from govcloud.portal.app import create_app

    app = create_app(copy_estate(tmp_path / "estate"), secret="k")
    try:
        served = {(r.path, m): r for r in app.routes for m in r.methods if m != "HEAD"}
        assert len(served) == len(ROUTES)
        for route in ROUTES:
            guards = _guards(served[(route.path, route.method)])
            kinds = [type(g) for g in guards]
            expected = [AuthenticationMiddleware, Admission]
            expected += [CSRF] if route.method == "POST" else []
            assert kinds == expected, (route.method, route.path, kinds)
            backend = guards[0].backend
            assert isinstance(backend, Backend)
            assert backend.takes_tokens == (route.kind == "api" and not route.public)
            assert guards[1].route is route
            if route.method == "POST":
                assert guards[2].public == route.public
    finally:
        app.state.portal.close()


def test_the_api_is_what_lives_under_api() -> None:
    for route in ROUTES:
        assert (route.kind == "api") == route.path.startswith("/api/"), route.path
