"""The LDAP directory: ``govcloud directory sync``."""

from __future__ import annotations

import click

from govcloud.cli.options import root
from govcloud.cli.output import emit_json, output_option


@click.group()
def directory() -> None:
    """The LDAP directory named in govcloud.yaml (directory:): its organisations become
    departments, its people sign in to the portal with their directory password.

    \b
    Example:
      govcloud directory sync
    """


@directory.command("sync")
@click.option("--yes", is_flag=True, help="Apply the changes shown (without it: only show "
              "them).")
@output_option("text", "json")
@click.pass_context
def sync(ctx: click.Context, yes: bool, output: str) -> None:
    """Compare the directory's organisations and people with the estate: organisations to
    add, rename, move or retire, people whose roles changed. With --yes, apply them: a new
    department gets a commented plan skeleton (its name and cost centre filled in), a
    renamed one keeps its id and its plan's name follows, one that left the directory is
    flagged and keeps its plan and resources. Every change is audited.

    \b
    Example:
      govcloud directory sync && govcloud directory sync --yes
    """
    from govcloud.estate import organisations
    from govcloud.state.store import holder_id

    found = organisations.plan(root(ctx))
    applied = organisations.apply(root(ctx), found, holder_id()) if yes and not found.empty \
        else None
    if output == "json":
        emit_json(found.as_dict() | {"applied": applied is not None,
                                     "written": applied.written if applied else []})
        return
    click.echo(f"The directory holds {found.organisations} organisation(s) govcloud can "
               f"import and {found.people} person(s).")
    for c in found.changes:
        click.echo(f"  {c.action:<7} {c.code:<40} {c.reason}")
    for r in found.roles:
        after = f"{r.after[0]} {r.after[1] or ''}".strip() if r.after else "no role"
        click.echo(f"  role    {r.name:<40} {r.before[0]} {r.before[1] or ''} -> {after}")
    for name in found.skeletons:
        click.echo(f"  plan    plans/{name}.yaml (a new skeleton)")
    for rej in found.rejected:
        click.echo(f"not imported: {rej.dn}: {rej.why}", err=True)
    if found.empty:
        click.echo("Nothing to change.")
    elif applied is None:
        click.echo(f"{len(found.changes)} change(s), {len(found.roles)} role change(s); run "
                   "govcloud directory sync --yes to apply them.")
    else:
        click.echo(f"Applied {applied.changes} change(s) and {applied.roles} role change(s); "
                   f"wrote {len(applied.written)} plan file(s). Next: govcloud validate && "
                   "govcloud plan")
