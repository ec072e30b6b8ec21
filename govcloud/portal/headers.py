"""The security headers every response of the portal carries (``SECURITY_HEADERS``, and
``cache-control: no-store`` on everything but the style sheet), added by the outermost
middleware so that refusals and error pages carry them too."""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
                    if k == "content-security-policy" and k in headers:
                        continue  # a page's own, stricter-or-equal (``with_styles``)
                    headers[k] = v
                if scope["path"] != "/static/portal.css":
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_styles(html: bytes) -> str:
    """The policy for a whole HTML page the portal serves as it is (a printable statement):
    SECURITY_HEADERS' with the page's own ``<style>`` blocks allowed by their digests."""
    digests = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() + "'"
        for m in re.finditer(rb"<style>(.*?)</style>", html, re.DOTALL))
    policy = SECURITY_HEADERS["content-security-policy"]
    return policy.replace("style-src 'self'", f"style-src 'self' {digests}".rstrip())
