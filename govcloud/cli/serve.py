"""``govcloud serve``: the web portal and HTTP API."""

from __future__ import annotations

import ipaddress
import os

import click

from govcloud.cli.options import PORT, root
from govcloud.errors import MissingExtra

# Seconds a worker may take to answer uvicorn's health check before it is killed and started
# again (uvicorn's default is 5). A worker making the figures of a province's estate (tens of
# seconds of work, some of it in long calls that hold the interpreter) on a busy machine can
# miss 5 s: in the 10,000-department run three of four workers were killed while starting.
WORKER_HEALTHCHECK = 60


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for other machines).")
@click.option("--port", default=8080, show_default=True, type=PORT, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (they share the state store: with several, use a "
                   "PostgreSQL state.url).")
@click.option("--secure-cookies/--plain-cookies", default=None,
              help="Send cookies over HTTPS only. Default: on, unless the portal listens on "
                   "loopback with no --forwarded-allow-ips (a browser on this machine).")
@click.option("--forwarded-allow-ips", default="", metavar="ADDRESSES",
              help="The TLS proxies (addresses or networks, comma-separated) whose "
                   "X-Forwarded-For header names the client; sign-in throttling counts per "
                   "client, so set it behind a proxy. From anyone else the header is ignored.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int,
          secure_cookies: bool | None, forwarded_allow_ips: str) -> None:
    """Serve the self-service portal and its JSON API (/api, described at
    /api/openapi.json) until stopped with Ctrl-C. People sign in with the accounts of
    govcloud users (add the first operator before starting); with the openstack driver,
    with their Keystone accounts, their role following their Keystone role assignments
    (portal.keystone in govcloud.yaml).

    \b
    Example:
      govcloud users add admin --role operator
      govcloud serve --port 8080
    """
    try:
        import uvicorn

        from govcloud.portal.app import create_app
    except ImportError as exc:
        raise MissingExtra("govcloud serve", "portal", exc.name or "starlette") from exc
    estate = root(ctx).resolve()
    proxies = _proxies(forwarded_allow_ips)
    if secure_cookies is None:
        secure_cookies = bool(proxies) or not _loopback(host)
    if workers > 1:  # each worker builds its own app from the environment
        os.environ["GOVCLOUD_ESTATE"] = str(estate)
        os.environ["GOVCLOUD_PORTAL_SECURE"] = "1" if secure_cookies else "0"
        os.environ["GOVCLOUD_PORTAL_PROXIES"] = proxies
        create_app(estate, secure_cookies=secure_cookies,
                   forwarded_allow_ips=proxies).state.portal.close()  # checks it
        uvicorn.run("govcloud.portal.app:from_environment", factory=True, host=host,
                    port=port, workers=workers, log_level="info", proxy_headers=False,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK)
        return
    app = create_app(estate, secure_cookies=secure_cookies, forwarded_allow_ips=proxies)
    click.echo(f"Serving the portal of {estate} on http://{host}:{port}/ (Ctrl-C stops).",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxies(value: str) -> str:
    """The --forwarded-allow-ips list, each an address or network (or ``*``), checked."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is no IP address or network — give the proxies' addresses, e.g. "
                "--forwarded-allow-ips 10.0.0.5,10.0.1.0/24", param_hint="--forwarded-allow-ips"
            ) from None
    return ",".join(items)
