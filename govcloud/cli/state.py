"""The state store's own commands: ``govcloud state init|backup|restore|move``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from govcloud.cli.options import root
from govcloud.cli.output import emit_json, output_option
from govcloud.errors import GovcloudError

if TYPE_CHECKING:
    from govcloud.core.model import Estate, Settings
    from govcloud.state import backup
    from govcloud.state.store import Store


@click.group()
def state() -> None:
    """The state store (state.url): last applied state, journal, lock, the sim cloud.

    A store is made on first use: the estate's .state/ folder is created (owner-only) and an
    empty PostgreSQL database is set up. Any other missing folder, a store file that was
    deleted (its lock file is still there), and one that is empty (0 bytes), not a SQLite
    database, another program's or another estate's, is refused rather than taken for a new
    estate: restore it from a backup, or start anew on purpose with govcloud state init.
    govcloud state backup and restore keep it in restic (copied to the DR site); state move
    takes a SQLite store to PostgreSQL (docs/operations.md).

    \b
    Example:
      govcloud state init
      govcloud state restore --rehearse
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
    from govcloud.applying import engine

    where, made = engine.init_state(ctx.find_root().obj or Path("."))
    if made:
        click.echo(f"Started a new, empty state store at {where}.")
    else:
        click.echo(f"{where} is already this estate's state store: nothing changed.")


def _settings(ctx: click.Context) -> tuple[Path, Settings]:
    from govcloud.applying import engine

    estate = engine.validate(root(ctx)).estate()
    return estate.root, estate.settings


def _plan(estate: Estate) -> backup.Probe:
    """``plan --detailed-exitcode`` on a restored store, as a line."""
    from govcloud.applying import engine

    def probe(store: Store) -> str:
        planned = engine.plan_on(estate, store)
        if planned.converged:
            return "converged: nothing to change (plan --detailed-exitcode would exit 0)"
        return (f"{len(planned.pending)} change(s) and {len(planned.decisions)} decision(s): "
                "the plans or the cloud moved on since the backup (exit 2)")
    return probe


@state.command("backup")
@click.option("--repository", metavar="REPO", help="The restic repository (default: "
              "state_backup.repository in govcloud.yaml).")
@click.option("--password-file", type=click.Path(path_type=Path), metavar="FILE",
              help="The file restic reads its password from (default: "
                   "state_backup.password_file).")
@click.option("--copy-to", metavar="DR_REPO", help="Copy the snapshot to the disaster-recovery "
              "site's repository (default: state_backup.dr_repository, if set).")
@click.option("--copy-password-file", type=click.Path(path_type=Path), metavar="FILE",
              help="The DR repository's password file (default: "
                   "state_backup.dr_password_file).")
@click.option("--init", is_flag=True, help="Create a repository that does not exist yet.")
@output_option("text", "json")
@click.pass_context
def backup_cmd(ctx: click.Context, repository: str | None, password_file: Path | None,
               copy_to: str | None, copy_password_file: Path | None, init: bool,
               output: str) -> None:
    """Back up the state store into a restic repository, and copy it to the DR site.

    SQLite is copied with its online backup API, PostgreSQL dumped with pg_dump (custom
    format), while govcloud runs. The snapshot holds the dump, a manifest (estate, schema
    version, rows per table, checksum) and the audit anchors; not the audit key (back it up
    once, apart: docs/operations.md). Passwords are read by restic from their files.

    \b
    Example:
      govcloud state backup
      govcloud state backup --init --repository /srv/backup/govcloud
    """
    from govcloud.applying import engine
    from govcloud.state import backup

    where, settings = _settings(ctx)
    repo = backup.repository(settings.state_backup, where, "primary", repository,
                             password_file)
    dr = None
    if copy_to is not None or settings.state_backup.dr_repository:
        dr = backup.repository(settings.state_backup, where, "dr", copy_to, copy_password_file)
    with engine.records(where) as (_, store):
        taken = backup.take(store, settings.estate, repo, dr, init)
    if output == "json":
        emit_json(taken.as_dict())
        return
    click.echo(f"Backed up the state store ({taken.kind}, {sum(taken.rows.values())} rows in "
               f"{len(taken.rows)} tables) as snapshot {taken.snapshot} in {taken.repository}.")
    if taken.copied_to:
        click.echo(f"Copied it to the DR site's repository {taken.copied_to}.")


@state.command("restore")
@click.option("--rehearse", is_flag=True, help="Restore into a scratch store, verify its audit "
              "trail and count its rows; the live store is not touched.")
@click.option("--into", "target", metavar="URL-OR-PATH", help="Restore into a new store: a "
              "path that does not exist yet (a plain path is relative to the current "
              "folder; sqlite:///x.db, three slashes, is relative to the estate, as state.url; "
              "sqlite:////srv/x.db is absolute), or an empty PostgreSQL database.")
@click.option("--yes", is_flag=True, help="Do restore with --into (nothing is asked).")
@click.option("--snapshot", metavar="ID", help="The snapshot (default: the newest).")
@click.option("--site", type=click.Choice(["primary", "dr"]), default="primary",
              show_default=True, help="Which site's repository to restore from.")
@click.option("--repository", metavar="REPO", help="The repository (default: state_backup's "
              "repository of the site).")
@click.option("--password-file", type=click.Path(path_type=Path), metavar="FILE",
              help="Its password file (default: state_backup's of the site).")
@click.option("--scratch", metavar="URL", help="With --rehearse of a PostgreSQL backup: an "
              "empty database to use (default: one made and dropped on the store's server).")
@output_option("text", "json")
@click.pass_context
def restore_cmd(ctx: click.Context, rehearse: bool, target: str | None, yes: bool,
                snapshot: str | None, site: str, repository: str | None,
                password_file: Path | None, scratch: str | None, output: str) -> None:
    """Restore the state store from its backup: rehearse it, or into a new store.

    Either way the restored store is opened with this govcloud, its audit trail verified
    (with the estate's audit key and the anchors taken with the backup) and its rows per
    table compared with the backup's manifest. Exit 1 when they do not hold.

    \b
    Example:
      govcloud state restore --rehearse
      govcloud state restore --site dr --into sqlite:////srv/govcloud/restored.db --yes
    """
    from govcloud.applying import engine
    from govcloud.state import backup
    from govcloud.state.store import store_url
    from govcloud.state.url import redact

    if rehearse == bool(target):
        raise click.UsageError("give --rehearse, or --into URL-OR-PATH --yes")
    if target and not yes:
        raise GovcloudError(f"restoring into {redact(target)} needs --yes",
                            "add --yes (the target must be a new file or an empty database)")
    estate = engine.validate(root(ctx)).estate()
    where, settings = estate.root, estate.settings
    repo = backup.repository(settings.state_backup, where, site, repository, password_file)
    args = (repo, where, settings.estate, settings.audit)
    if rehearse:
        done = backup.rehearse(*args, snapshot, scratch, store_url(settings.state_url),
                               _plan(estate))
    else:
        assert target is not None
        done = backup.restore(*args, target if "://" in target else
                              f"sqlite:///{Path(target).absolute()}", snapshot, _plan(estate))
    _render_restored(done, output, rehearse)


def _render_restored(done: backup.Restored, output: str, rehearse: bool) -> None:
    if output == "json":
        emit_json(done.as_dict())
    else:
        verb = "Rehearsed a restore of" if rehearse else "Restored"
        scratch = " (a scratch store, removed after)" if rehearse else ""
        click.echo(f"{verb} snapshot {done.snapshot.id} ({done.snapshot.time}) into "
                   f"{done.where}{scratch}.")
        for table, n in done.rows.items():
            want = done.expected.get(table)
            click.echo(f"  {table:<16} {n:>8} rows" + ("" if want == n else
                                                       f" (the backup holds {want})"))
        for table in sorted(set(done.expected) - set(done.rows)):
            click.echo(f"  {table:<16}  missing (the backup holds {done.expected[table]})")
        click.echo("audit trail: " + ("whole, " if done.audit.whole else "NOT whole, ")
                   + f"{done.audit.records} record(s); head {done.audit.head or 'none yet'}")
        for line in done.audit.problems:
            click.echo(f"  {line}")
        if done.plan:
            click.echo(f"plan: {done.plan}")
        for line in done.problems + done.notes:
            click.echo(line)
    if not done.ok:
        raise GovcloudError("the restored store does not hold what was backed up (each line "
                            "above names what)", "restore an older snapshot with --snapshot, "
                            "or from the other site with --site")


@state.command("move")
@click.option("--to", "target", required=True, metavar="POSTGRESQL_URL",
              help="An empty PostgreSQL database: postgresql://USER@HOST/DATABASE.")
@output_option("text", "json")
@click.pass_context
def move_cmd(ctx: click.Context, target: str, output: str) -> None:
    """Move the state store from SQLite to PostgreSQL.

    Every table and row is copied in one transaction (the apply lock held, one read of the
    source), every table's rows compared and the audit trail verified on the target. The
    SQLite store is left as it was: change state.url afterwards. Stop the portal and timers
    first: what they write after the copy stays in SQLite.

    \b
    Example:
      govcloud state move --to postgresql://govcloud@db.internal/govcloud
    """
    from govcloud.applying import engine
    from govcloud.state import move as state_move

    with engine.records(root(ctx)) as (estate, store):
        moved = state_move.move(store, target, estate.root, estate.settings.estate,
                                estate.settings.audit)
    if output == "json":
        emit_json(moved.as_dict())
    else:
        for table, n in moved.rows.items():
            click.echo(f"  {table:<16} {n:>8} rows, {moved.target_rows.get(table, 0)} moved")
        click.echo(f"audit trail on the target: {'whole' if moved.audit.whole else 'NOT whole'}"
                   f", {moved.audit.records} record(s)")
        for table in moved.differing:
            click.echo(f"  {table}: the rows on the target differ from the source's")
    if not moved.ok:
        raise GovcloudError(f"the move into {moved.target} does not hold every row or its "
                            "audit trail is not whole (above)", "drop that database, create "
                            "it empty and run govcloud state move again")
    if output != "json":
        click.echo(f"Moved the state store to {moved.target}. Now set, in govcloud.yaml:\n"
                   f"  state:\n    url: {moved.target}\n(or GOVCLOUD_STATE_URL, to keep the "
                   f"password out of the file), then move {moved.source} away.")
