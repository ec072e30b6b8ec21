"""The state store's own commands: ``govcloud state init``."""

from __future__ import annotations

from pathlib import Path

import click

from govcloud.applying import engine
from govcloud.cli.app import cli


@cli.group()
def state() -> None:
    """The state store (state.url): last applied state, journal, lock, the sim cloud.

    A store is made on first use: the estate's .state/ folder is created (owner-only) and an
    empty PostgreSQL database is set up. Any other missing folder, a store file that was
    deleted (its lock file is still there), and one that is empty (0 bytes), not a SQLite
    database, another program's or another estate's, is refused rather than taken for a new
    estate: restore it from a backup, or start anew on purpose with govcloud state init.

    \b
    Example:
      govcloud state init
    """


@state.command("init")
@click.pass_context
def init(ctx: click.Context) -> None:
    """Start a new, empty state store at state.url (creating its folder, owner-only).

    Only a store that does not exist yet or is empty (0 bytes, no tables) is set up; one
    that holds anything is never overwritten: move it away first.

    \b
    Example:
      govcloud state init
    """
    where, made = engine.init_state(ctx.find_root().obj or Path("."))
    if made:
        click.echo(f"Started a new, empty state store at {where}.")
    else:
        click.echo(f"{where} is already this estate's state store: nothing changed.")
