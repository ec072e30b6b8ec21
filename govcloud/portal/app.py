"""The Starlette application, assembled from the route table (``routes.ROUTES``).

Each route is served behind its guards, in this order: the sign-in backend finds the caller
(``auth.Backend``: the session cookie, or an API token on the API), the route admits them or
not (``auth.Admission``: ``routes.allowed``), a post must come from this site's page with the
session's CSRF token (``csrf.CSRF``); only then does its endpoint run (``endpoints``: a view's
page or API twin, or sign-in, sign-out, the style sheet, the OpenAPI description). Whatever
is not served is answered by the exception handlers (``errors``). Every response carries the
security headers (``headers.SECURITY_HEADERS``).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Route as StarletteRoute

from govcloud.access import users
from govcloud.portal import sessions
from govcloud.portal.auth import Admission, Backend, SignIn, refuse_token
from govcloud.portal.context import Portal
from govcloud.portal.csrf import CSRF
from govcloud.portal.endpoints import Endpoints
from govcloud.portal.errors import Handlers
from govcloud.portal.headers import SECURITY_HEADERS, SecurityHeaders
from govcloud.portal.openapi import openapi
from govcloud.portal.pages import Pages
from govcloud.portal.refusals import Refusals
from govcloud.portal.routes import ROUTES, Route
from govcloud.portal.views import warm

HERE = Path(__file__).parent


def create_app(root: Path, secret: str | None = None, secure_cookies: bool = False,
               forwarded_allow_ips: str = "") -> Starlette:
    """The portal of the estate at ``root``. ``secret`` signs the cookies (default: the
    GOVCLOUD_PORTAL_SECRET environment variable, else a key kept in the state store);
    ``secure_cookies`` marks them HTTPS-only (set it whenever the portal is reached over
    HTTPS, e.g. behind a TLS proxy). ``forwarded_allow_ips``: the proxies (addresses or
    networks, comma-separated; ``*`` any) whose ``X-Forwarded-For`` names the client — the
    address sign-in throttling counts per client; from anyone else the header is ignored."""
    portal = Portal(root)
    signer = sessions.Signer(sessions.secret(portal.store,
                                             secret or os.environ.get("GOVCLOUD_PORTAL_SECRET")))
    pages = Pages(HERE / "templates", secure_cookies)
    sign_in = SignIn(portal, signer)
    endpoints = Endpoints(portal, pages, sign_in)
    app = Starlette(
        routes=[_served(r, endpoints, sign_in) for r in ROUTES],
        middleware=[*_proxies(forwarded_allow_ips), Middleware(SecurityHeaders)],
        exception_handlers={users.SignInRefused: endpoints.sign_in_refused,
                            **Handlers(pages, portal.root).table()},
        lifespan=_closing(portal))
    app.state.portal = portal
    app.state.refusals = Refusals(portal.store)
    return app


def _proxies(forwarded_allow_ips: str) -> list[Middleware]:
    """uvicorn's own handling of X-Forwarded-For/-Proto, for the trusted proxies only."""
    if not forwarded_allow_ips.strip():
        return []
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=forwarded_allow_ips)]


def _served(route: Route, endpoints: Endpoints, sign_in: SignIn) -> StarletteRoute:
    """A route of the table as Starlette serves it: behind its guards (outermost first)."""
    guards = [Middleware(AuthenticationMiddleware, backend=Backend(sign_in, route),
                         on_error=refuse_token),
              Middleware(Admission, route=route)]
    if route.method == "POST":
        guards.append(Middleware(CSRF, signer=sign_in.signer, public=route.public))
    return StarletteRoute(route.path, endpoints.of(route), methods=[route.method],
                          name=f"{route.name}_{route.kind}_{route.method}", middleware=guards)


def _closing(portal: Portal) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan: the figures most pages read made before the first request is
    taken (``views.warm``); the portal's store and driver closed when it stops.

    What is made by then (the estate, the figures) is kept out of the collector's full
    passes (``gc.freeze``): at 10,000 departments that is about 900,000 objects, and each
    full pass over them took a second of the requests' time (2-5 s on a busy machine)."""
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(warm, portal)
        gc.freeze()
        yield
        portal.close()

    return lifespan


def from_environment() -> Starlette:
    """The app of the estate in GOVCLOUD_ESTATE (for ``uvicorn --factory`` and workers)."""
    return create_app(Path(os.environ.get("GOVCLOUD_ESTATE", ".")),
                      secure_cookies=os.environ.get("GOVCLOUD_PORTAL_SECURE") == "1",
                      forwarded_allow_ips=os.environ.get("GOVCLOUD_PORTAL_PROXIES", ""))


__all__ = ["SECURITY_HEADERS", "create_app", "from_environment", "openapi"]
