"""The audit trail: ``govcloud audit verify|export|prune``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from govcloud.cli.options import SQL_INTEGER, out_file, root
from govcloud.cli.output import emit_json, output_option
from govcloud.errors import GovcloudError

if TYPE_CHECKING:
    from govcloud.core.trail import Entry, Head


@click.group()
def audit() -> None:
    """The audit trail: every sign-in (and failed one), account change, request, decision and
    apply, with who, when, what before and after, and why; append-only, each record sealed
    with a keyed MAC (HMAC-SM3 or HMAC-SHA256) and its head anchored outside the store.

    \b
    Example:
      govcloud audit verify
    """


def _head(ctx: click.Context, param: click.Parameter, value: str | None) -> Head | None:
    if value is None:
        return None
    from govcloud.core.trail import Head

    head = Head.parse(value)
    if head is None or not 1 <= head.seq <= SQL_INTEGER:  # no record 0 (or past any row)
        raise click.BadParameter(f"{value[:80]!r} is not SEQ:HASH (what audit verify printed: "
                                 "a record number from 1, a colon and its hash of 64 hex "
                                 "digits, e.g. 42:9f86d0…)")
    return head


@audit.command("verify")
@click.option("--head", callback=_head, metavar="SEQ:HASH",
              help="A head noted earlier (printed by a previous verify or export): the "
                   "trail must still reach it unchanged, which also catches its newest "
                   "records being cut off.")
@click.option("--archive", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              metavar="FILE", help="Check an archive audit prune --export wrote instead: "
                                   "its records as sealed and anchored, and that a prune "
                                   "removed them.")
@output_option("text", "json")
@click.pass_context
def verify(ctx: click.Context, head: Head | None, archive: Path | None, output: str) -> None:
    """Check the audit trail: each record's keyed MAC and link, and the trail against the
    heads anchored outside the store. An edited, deleted, renumbered or cut record, a wiped
    trail and a missing key or anchors file are named. Exit 1 when the trail is not whole.

    --head also checks against a head noted elsewhere (printed by a previous verify). After a
    prune (audit prune) it says which records were pruned, when and by whom; a deletion of
    the oldest records by other means is named. --archive checks an archive a prune wrote.

    \b
    Example:
      govcloud audit verify
      govcloud audit verify --head "$(cat /media/usb/audit-head)"
      govcloud audit verify --archive audit-before-2026-06.jsonl
    """
    if archive and head:
        raise click.UsageError("give --head or --archive, not both: --head checks the trail "
                               "in the store")
    from govcloud.applying import engine
    from govcloud.audit import retention, trail

    with engine.records(root(ctx)) as (_, store):
        verdict = retention.check_archive(store, archive) if archive else \
            trail.verify(store, head)
    what = f"archive {archive}" if archive else "audit trail"
    if output == "json":
        emit_json(verdict.as_dict())
    elif verdict.whole:
        click.echo(f"The {what} is whole: {verdict.records} record(s); head "
                   f"{verdict.head or 'none yet'}.")
        for note in verdict.notes:
            click.echo(f"{what}: {note}")
    else:
        for problem in verdict.problems:
            click.echo(f"{what}: {problem}")
        click.echo(f"Error: the {what} was tampered with, or what checks it is missing "
                   f"({len(verdict.problems)} problem(s)) — each line above names what and "
                   "the fix; restore the state store from a backup and compare the exports to "
                   "see what changed", err=True)
    if not verdict.whole:
        sys.exit(1)


@audit.command("export")
@out_file("File to write (default: standard output).")
@click.pass_context
def export(ctx: click.Context, out: Path | None) -> None:
    """Export the whole audit trail as JSON Lines: one record per line, oldest first, with
    its number, hash and the hash it links to, so anyone can check the chain again.

    \b
    Example:
      govcloud audit export --out audit-2026-11.jsonl
    """
    from govcloud.applying import engine
    from govcloud.audit import retention, trail
    from govcloud.estate.files import write_bytes

    with engine.records(root(ctx)) as (_, store):
        records = trail.entries(store)
    text = retention.jsonl(records)
    if out is None:
        sys.stdout.write(text)
        return
    write_bytes(out, text.encode("utf-8"), private=True)  # names, addresses, reasons
    head = f"{records[-1].seq}:{records[-1].hash}" if records else "none"
    click.echo(f"Wrote {len(records)} record(s) to {out}; head {head}.")



def _export(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        from govcloud.estate.files import not_a_file

        try:
            not_a_file(value, "--export")  # before any work: the write checks again
        except GovcloudError as exc:
            raise GovcloudError(f"{exc}; nothing was pruned", exc.hint) from exc
    return value


@audit.command("prune")
@click.option("--before", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Prune only records older than this day (UTC), which must be before the "
                   "retention (audit.retention_days, at least 180 days) ends.")
@click.option("--export", type=click.Path(path_type=Path), callback=_export, metavar="FILE",
              help="Write the records pruned to FILE (JSON Lines, as audit export) before "
                   "deleting them: an archive that audit verify --archive checks.")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
@click.pass_context
def prune(ctx: click.Context, before: datetime | None, export: Path | None, reason: str,
          yes: bool) -> None:
    """Remove the audit records older than the retention (audit.retention_days in
    govcloud.yaml: at least 180 days), never a younger one and never the newest. The prune is
    noted outside the store, under the audit key, and is itself an audit record (who, when,
    how many, the numbers removed, the chain value at the cut, why): audit verify then says
    which records were pruned, and still names any other deletion of the oldest records.

    \b
    Example:
      govcloud audit prune --export audit-before-2026-06.jsonl --reason "yearly archive"
    """
    from govcloud.applying import engine
    from govcloud.audit import retention
    from govcloud.estate.files import write_bytes
    from govcloud.state.store import holder_id

    retention.check_reason(reason)
    with engine.records(root(ctx)) as (estate, store):
        days = estate.settings.audit.retention_days
        older_than = retention.boundary(days, before.date() if before else None)
        shown = retention.plan(store, older_than)
        if shown is None:
            click.echo(f"Nothing to prune: no record but the newest is older than "
                       f"{older_than[:19]}Z ({retention.SETTING}: {days}).")
            return
        click.echo(f"The prune removes {shown}.")
        if export is not None:
            click.echo(f"They are written to {export} first.")
        if not yes:
            _confirm()

        def keep(records: list[Entry]) -> str:
            assert export is not None
            try:
                write_bytes(export, retention.jsonl(records).encode("utf-8"), private=True,
                            option="--export")
            except GovcloudError as exc:  # the prune's transaction is rolled back
                raise GovcloudError(f"{exc}; nothing was pruned, as the archive is written "
                                    "first", exc.hint) from exc
            return str(export)

        record = retention.prune(store, shown, holder_id(), reason, days,
                                 keep if export is not None else None)
    click.echo(f"Pruned {shown.records} record(s), numbers {shown.first} to "
               f"{shown.below - 1}; the prune is record {record.seq}.")


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise GovcloudError("audit prune needs confirmation and there is no terminal to ask "
                            "on", "pass --yes to go ahead")
    click.confirm("Remove these records from the audit trail?", abort=True)
