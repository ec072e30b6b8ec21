"""The portal's API tokens: ``govcloud tokens add|list|revoke``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from govcloud.cli.options import Whole, root
from govcloud.cli.output import emit_json, output_option, table
from govcloud.core.roles import ROLES, SCOPES, TOKEN_DAYS

if TYPE_CHECKING:
    from govcloud.access import tokens as api_tokens


@click.group()
def tokens() -> None:
    """API tokens for programs that call govcloud serve's JSON API (/api/*) with an
    Authorization: Bearer header: each belongs to a person and acts with their role (and
    department), may only read unless made with --scope write, expires (90 days unless
    --days), is shown once, stored hashed, revocable. Every change is recorded in the audit
    trail.

    \b
    Example:
      govcloud tokens add --owner fin.wang --label "ERP export"
    """


@tokens.command("add")
@click.option("--owner", required=True, metavar="NAME",
              help="The person the token belongs to and acts for (a portal account): it "
                   "takes their role and department, stops working when their account is "
                   "disabled, and they may not approve with it what they asked for.")
@click.option("--role", type=click.Choice(list(ROLES)),
              help="The owner's role, checked (the token always takes the owner's).")
@click.option("--department", help="The owner's department, checked.")
@click.option("--scope", type=click.Choice(list(SCOPES)), default="read",
              show_default=True,
              help="read: GET only; write: may also file, decide and post what the owner "
                   "may.")
@click.option("--days", type=Whole(1, 3650, "a number of days", ", and at most "
                                   "portal.token_max_days in govcloud.yaml"),
              default=TOKEN_DAYS,
              show_default=True,
              help="Days until it expires (at most portal.token_max_days in govcloud.yaml).")
@click.option("--label", default="", help="What the token is for (shown by tokens list).")
@click.pass_context
def add(ctx: click.Context, owner: str, role: str | None, department: str | None,
        scope: str, days: int, label: str) -> None:
    """Make an API token and print it once (only its SHA-256 is kept).

    \b
    Example:
      govcloud tokens add --owner fin.li --label "finance dashboard"
      govcloud tokens add --owner ops.zhang --scope write --days 30 --label "ticket bot"
    """
    from govcloud.access import tokens as api_tokens
    from govcloud.applying import engine
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        token, text = api_tokens.add(store, set(estate.plans), owner, label, holder_id(),
                                     role=role, department=department, scope=scope,
                                     days=days, max_days=estate.settings.token_max_days)
    where = f" of {token.department}" if token.department else ""
    click.echo(f"Token {token.id} of {token.owner} ({token.role}{where}, {token.scope}, "
               f"until {token.expires_at[:10]}); it is shown only now, keep it secret:",
               err=True)
    click.echo(text)


@tokens.command("list")
@output_option("text", "json")
@click.pass_context
def list_(ctx: click.Context, output: str) -> None:
    """List the API tokens (never their secret): id, role, department, label, state.

    \b
    Example:
      govcloud tokens list -o json
    """
    from govcloud.access import tokens as api_tokens
    from govcloud.applying import engine
    from govcloud.clock import now

    with engine.records(root(ctx)) as (_, store):
        found = api_tokens.tokens(store)
    if output == "json":
        emit_json([t.as_dict() for t in found])
        return
    if not found:
        click.echo("No API tokens: make one with govcloud tokens add --role ROLE.")
        return
    at = now()
    click.echo(table(["id", "owner", "role", "department", "scope", "label", "made by",
                      "made", "state"],
                     [[t.id, t.owner, t.role, t.department or "", t.scope, t.label,
                       t.created_by, t.created_at[:19], _state(t, at)] for t in found]))


def _state(token: api_tokens.Token, at: str) -> str:
    if token.revoked_at:
        return f"revoked {token.revoked_at[:19]}"
    if token.expired(at):
        return f"expired {token.expires_at[:19]}"
    return f"active until {token.expires_at[:10]}"


@tokens.command("revoke")
@click.argument("token_id", metavar="ID")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@click.pass_context
def revoke(ctx: click.Context, token_id: str, reason: str) -> None:
    """Revoke an API token: it stops working at once. Audited with the reason.

    \b
    Example:
      govcloud tokens revoke 3f9a1c2e --reason "the dashboard is retired"
    """
    from govcloud.access import tokens as api_tokens
    from govcloud.applying import engine
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (_, store):
        api_tokens.revoke(store, token_id, holder_id(), reason)
    click.echo(f"Revoked token {token_id}.")
