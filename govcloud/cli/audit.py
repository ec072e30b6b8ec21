"""The audit trail: ``govcloud audit verify|export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.cli.app import cli
from govcloud.cli.options import out_file, root
from govcloud.cli.output import emit_json, output_option
from govcloud.core.trail import Head
from govcloud.estate.files import write_bytes


@cli.group()
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
    head = Head.parse(value)
    if head is None:
        raise click.BadParameter(f"{value!r} is not SEQ:HASH (what audit verify printed, "
                                 "e.g. 42:9f86d0…, 64 hex digits)")
    return head


@audit.command("verify")
@click.option("--head", callback=_head, metavar="SEQ:HASH",
              help="A head noted earlier (printed by a previous verify or export): the "
                   "trail must still reach it unchanged, which also catches its newest "
                   "records being cut off.")
@output_option("text", "json")
@click.pass_context
def verify(ctx: click.Context, head: Head | None, output: str) -> None:
    """Check the audit trail: each record's keyed MAC and link, and the trail against the
    heads anchored outside the store. An edited, deleted, renumbered or cut record, a wiped
    trail and a missing key or anchors file are named. Exit 1 when the trail is not whole.

    --head also checks against a head noted elsewhere (printed by a previous verify).

    \b
    Example:
      govcloud audit verify
      govcloud audit verify --head "$(cat /media/usb/audit-head)"
    """
    with engine.records(root(ctx)) as (_, store):
        verdict = trail.verify(store, head)
    if output == "json":
        emit_json(verdict.as_dict())
    elif verdict.whole:
        click.echo(f"The audit trail is whole: {verdict.records} record(s); head "
                   f"{verdict.head or 'none yet'}.")
        for note in verdict.notes:
            click.echo(f"audit trail: {note}")
    else:
        for problem in verdict.problems:
            click.echo(f"audit trail: {problem}")
        click.echo(f"Error: the audit trail was tampered with, or what checks it is missing "
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
    with engine.records(root(ctx)) as (_, store):
        records = trail.entries(store)
    text = "".join(json.dumps(e.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"
                   for e in records)
    if out is None:
        sys.stdout.write(text)
        return
    write_bytes(out, text.encode("utf-8"))
    head = f"{records[-1].seq}:{records[-1].hash}" if records else "none"
    click.echo(f"Wrote {len(records)} record(s) to {out}; head {head}.")

