"""The portal's API tokens: ``govcloud tokens add|list|revoke``."""

from __future__ import annotations

import click

from govcloud.access import tokens as api_tokens
from govcloud.applying import engine
from govcloud.cli.app import cli
from govcloud.cli.options import root
from govcloud.cli.output import emit_json, output_option, table
from govcloud.core.roles import ROLES
from govcloud.state.store import holder_id


@cli.group()
def tokens() -> None:
    """API tokens for programs that call govcloud serve's JSON API (/api/*) with an
    Authorization: Bearer header: each scoped to one role (and department), shown once,
    stored hashed, revocable. Every change is recorded in the audit trail.

    \b
    Example:
      govcloud tokens add --role finance --label "ERP export"
    """


@tokens.command("add")
@click.option("--role", required=True, type=click.Choice(list(ROLES)),
              help="The role the token acts with.")
@click.option("--department", help="Its department (member and approver tokens only).")
@click.option("--label", default="", help="What the token is for (shown by tokens list).")
@click.pass_context
def add(ctx: click.Context, role: str, department: str | None, label: str) -> None:
    """Make an API token and print it once (only its SHA-256 is kept).

    \b
    Example:
      govcloud tokens add --role member --department finance --label "finance dashboard"
    """
    with engine.records(root(ctx)) as (estate, store):
        token, text = api_tokens.add(store, set(estate.plans), role, department, label,
                                     holder_id())
    where = f" of {token.department}" if token.department else ""
    click.echo(f"Token {token.id} ({token.role}{where}); it is shown only now, keep it "
               "secret:", err=True)
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
    with engine.records(root(ctx)) as (_, store):
        found = api_tokens.tokens(store)
    if output == "json":
        emit_json([t.as_dict() for t in found])
        return
    if not found:
        click.echo("No API tokens: make one with govcloud tokens add --role ROLE.")
        return
    click.echo(table(["id", "role", "department", "label", "made by", "made", "state"],
                     [[t.id, t.role, t.department or "", t.label, t.created_by,
                       t.created_at[:19], f"revoked {t.revoked_at[:19]}" if t.revoked_at
                       else "active"] for t in found]))


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
    with engine.records(root(ctx)) as (_, store):
        api_tokens.revoke(store, token_id, holder_id(), reason)
    click.echo(f"Revoked token {token_id}.")
