"""Onboarding commands: init (a new estate) and new department (a plan skeleton)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def init(ctx: click.Context, path: Path | None) -> None:
    """Start a new estate in PATH (a new or empty folder; the -C folder by default).

    Writes govcloud.yaml (the sim cloud, a small host pool and catalogue), prices.yaml,
    the default policies, the JSON schemas editors use, plans/ and a .gitignore for .state/.

    \b
    Example:
      govcloud init estate && govcloud -C estate new department water
    """
    from govcloud.estate import onboarding

    dest = path or ctx.find_root().obj or Path(".")
    files = onboarding.init(dest)
    click.echo(f"Started an estate in {dest}: {', '.join(files)}.")
    click.echo(f"Next: edit {dest / 'govcloud.yaml'}, then add a department with "
               f"govcloud -C {dest} new department ID")


@click.group()
def new() -> None:
    """Add something new to the estate, written so that it validates as it stands.

    \b
    Example:
      govcloud new department water
    """


@new.command("department")
@click.argument("department_id")
@click.pass_context
def new_department(ctx: click.Context, department_id: str) -> None:
    """Write plans/ID.yaml: a commented plan skeleton for a new department, and check it.

    Exit code 1 when the estate then fails validation (the problems are listed).

    \b
    Example:
      govcloud new department water && govcloud plan
    """
    from govcloud.estate import onboarding

    made = onboarding.new_department(ctx.find_root().obj or Path("."), department_id)
    for d in made.checked.diagnostics:
        click.echo(d.render(), err=d.severity == "error")
    if made.checked.errors:
        click.echo(f"Wrote {made.file}, but the estate does not validate (above).", err=True)
        ctx.exit(1)
    click.echo(f"Wrote {made.file}; the estate validates ({len(made.checked.plans)} "
               "departments). Edit it, then run govcloud plan.")
