"""``govcloud serve``: the web portal and HTTP API."""

from __future__ import annotations

import os

import click

from govcloud.cli.app import cli
from govcloud.cli.options import PORT, root
from govcloud.errors import MissingExtra


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS proxy in front for other machines).")
@click.option("--port", default=8080, show_default=True, type=PORT, help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (they share the state store: with several, use a "
                   "PostgreSQL state.url).")
@click.option("--secure-cookies", is_flag=True,
              help="Send cookies over HTTPS only (when a TLS proxy serves the portal).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int,
          secure_cookies: bool) -> None:
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
    if workers > 1:  # each worker builds its own app from the environment
        os.environ["GOVCLOUD_ESTATE"] = str(estate)
        os.environ["GOVCLOUD_PORTAL_SECURE"] = "1" if secure_cookies else "0"
        create_app(estate, secure_cookies=secure_cookies).state.portal.close()  # checks it
        uvicorn.run("govcloud.portal.app:from_environment", factory=True, host=host,
                    port=port, workers=workers, log_level="info", proxy_headers=False)
        return
    app = create_app(estate, secure_cookies=secure_cookies)
    click.echo(f"Serving the portal of {estate} on http://{host}:{port}/ (Ctrl-C stops).",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
