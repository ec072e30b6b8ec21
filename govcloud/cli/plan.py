"""The core commands: validate, schema, plan, apply, drift, show, history."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from govcloud.cli.options import Whole, out_file, root, session
from govcloud.cli.output import emit_json, output_option
from govcloud.errors import GovcloudError

if TYPE_CHECKING:
    from govcloud.applying import engine
    from govcloud.core.planning import Change, Plan
    from govcloud.state.store import ApplyRecord


@click.command()
@output_option("text", "json")
@click.pass_context
def validate(ctx: click.Context, output: str) -> None:
    """Check every plan, policy, the settings and the price book; report every problem at
    once.

    Each problem is printed as FILE:LINE: KEY.PATH: what is wrong — how to fix it.
    Exit code 1 when there is an error.

    \b
    Example:
      govcloud validate
    """
    from govcloud.estate.files import quiet_gc

    with quiet_gc():  # until the estate is gone, as plan does
        failed = _validated(ctx, output)
    if failed:
        ctx.exit(1)


def _validated(ctx: click.Context, output: str) -> bool:
    """Check the estate and show what was found; whether there is an error."""
    from govcloud.applying import engine
    from govcloud.cli.render import validate_text

    checked = engine.validate(root(ctx), prices=True)
    if output == "json":
        emit_json(checked.as_dict())
    else:
        validate_text(checked)
    return bool(checked.errors)


@click.command()
@click.argument("which", type=click.Choice(["plan", "settings", "policy", "prices",
                                            "approvals"]), default="plan")
def schema(which: str) -> None:
    """Print the JSON Schema of tenancy plans (or of settings, policy, price-book or approval
    rule files).

    Point yaml-language-server at it to get completion and checks in an editor:
    the first line of a plan reads  # yaml-language-server: $schema=../docs/schema/tenancy-plan.json

    \b
    Example:
      govcloud schema plan > docs/schema/tenancy-plan.json
    """
    from govcloud.core.approvals import APPROVALS_SCHEMA
    from govcloud.core.policy import POLICY_SCHEMA
    from govcloud.core.schema import PLAN_SCHEMA, SETTINGS_SCHEMA
    from govcloud.finance.pricebook import PRICE_SCHEMA

    data = {"plan": PLAN_SCHEMA, "settings": SETTINGS_SCHEMA, "policy": POLICY_SCHEMA,
            "prices": PRICE_SCHEMA, "approvals": APPROVALS_SCHEMA}[which]
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


# What apply -o json prints when there is nothing to apply (no apply is recorded).
NOTHING_APPLIED = {"apply_id": None, "summary": {"done": 0}, "ok": True}

_delete_unmanaged = click.option(
    "--delete-unmanaged", "delete_unmanaged", multiple=True, metavar="KEY",
    help="Also delete this resource that govcloud did not create (department/kind/name, as "
         "plan lists it under Unmanaged; repeatable). Nothing unmanaged is deleted otherwise.")


@click.command()
@click.option("--prune", is_flag=True, help="Also delete orphans: resources of departments "
              "that have no plan (protected ones, and what they stand on, are never deleted).")
@_delete_unmanaged
@out_file("Save the plan as JSON, to apply exactly it later.")
@click.option("--detailed-exitcode", is_flag=True,
              help="Exit 0 when the cloud matches the plans, 2 when there are changes or "
                   "something to decide (blocked, orphaned, unmanaged), 1 on error.")
@output_option("text", "json")
@click.pass_context
def plan(ctx: click.Context, prune: bool, delete_unmanaged: tuple[str, ...], out: Path | None,
         detailed_exitcode: bool, output: str) -> None:
    """Show the changes apply would make, per department, each with its reason, and what
    they do to the monthly bill.

    \b
    Example:
      govcloud plan --out plan.json && govcloud apply plan.json
    """
    from govcloud.estate.files import quiet_gc

    # The estate, its desired state, the plan and its dicts are millions of objects, none of
    # them cyclic: the collector stays paused until they are all gone (it walked them each
    # time it resumed, three times over as they aged: 4% of the command at 10,000
    # departments).
    with quiet_gc():
        converged = _planned(ctx, prune, delete_unmanaged, out, output)
    if detailed_exitcode and not converged:
        ctx.exit(2)


def _planned(ctx: click.Context, prune: bool, delete_unmanaged: tuple[str, ...],
             out: Path | None, output: str) -> bool:
    """Make, show and save the plan; whether it is converged."""
    from govcloud.applying import engine
    from govcloud.cli.render import plan_text

    with session(ctx) as s:
        p = s.plan(prune, delete_unmanaged)
        if output == "json":
            emit_json(p.as_dict(lazy=True))
        else:
            click.echo(plan_text(p, s.estate, color=sys.stdout.isatty()))
    if out:
        engine.save_plan(p, out)
        if output == "text":
            click.echo(f"Saved the plan to {out}: apply it with govcloud apply {out}")
    return p.converged


class _Progress:
    """A progress bar on a terminal, plain lines otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.mutex = threading.Lock()
        self.tty = sys.stderr.isatty()
        self.bar = click.progressbar(length=total, label="Applying", file=sys.stderr) \
            if self.tty and total else None
        if self.bar:
            self.bar.__enter__()

    def __call__(self, phase: str, change: Change, detail: str) -> None:
        if phase == "started":
            return
        with self.mutex:
            self._show(phase, change, detail)

    def _show(self, phase: str, change: Change, detail: str) -> None:
        self.count += 1
        if self.bar:
            self.bar.update(1)
            if phase == "failed":
                click.echo(f"\n  failed {change.key}: {detail}", err=True)
        else:
            click.echo(f"[{self.count}/{self.total}] {phase:<7} {change.action} {change.key}"
                       + (f": {detail}" if detail else ""), err=True)

    def close(self) -> None:
        if self.bar:
            self.bar.__exit__(None, None, None)


@click.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Apply without asking.")
@click.option("--prune", is_flag=True, help="Also delete orphans (see plan --prune).")
@_delete_unmanaged
@click.option("--lock-timeout", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another apply's lock instead of failing at once.")
@click.option("--no-services", is_flag=True, help="Change the cloud only: do not run the "
              "service playbooks (web hosting, antivirus, backup) afterwards.")
@output_option("text", "json")
@click.pass_context
def apply(ctx: click.Context, plan_file: Path | None, yes: bool, prune: bool,
          delete_unmanaged: tuple[str, ...], lock_timeout: float, no_services: bool,
          output: str) -> None:
    """Apply a fresh plan (shown first, then confirmed) or a saved plan file.

    Only one apply runs at a time per state store. A saved plan is checked, not trusted:
    apply makes the plan afresh and refuses the file when the cloud has changed since it was
    made, or when it differs in anything from what the current plans, policies and settings
    give (naming the first difference). An interrupted apply is finished by the next one.

    \b
    Examples:
      govcloud apply --yes
      govcloud plan --out plan.json && govcloud apply plan.json
    """
    from govcloud.applying import engine
    from govcloud.cli.render import apply_text

    with session(ctx) as s, engine.locked(s, lock_timeout):
        p = engine.saved_plan(s, plan_file, prune or bool(delete_unmanaged)) if plan_file \
            else s.plan(prune, delete_unmanaged)
        if not p.has_changes:  # a killed apply may have done all its changes
            settled = engine.settle_interrupted(s)
            if output == "text":
                _settled(settled)
        if not plan_file and not _confirmed(p, s, yes, output):
            return
        if plan_file and not p.has_changes:  # as apply --yes does when nothing is to do
            if output == "json":
                emit_json(NOTHING_APPLIED)
            else:
                # the cloud matches it only when nothing is left to decide either
                why = "the cloud matches it" if not p.decisions else \
                    f"{len(p.decisions)} thing(s) to decide: see govcloud plan"
                click.echo(f"Nothing to apply: {plan_file} makes no change ({why}); no apply "
                           "was recorded.")
            return
        progress = _Progress(len(p.pending))
        try:
            result = engine.apply(s, p, on_event=progress, services=not no_services,
                                  on_service=lambda text: click.echo(text, err=True))
        finally:
            progress.close()
    if output == "json":
        emit_json(result.as_dict())
    else:
        click.echo(apply_text(result))
    if not result.ok or (result.services and not result.services.ok):
        ctx.exit(1)


def _settled(records: list[ApplyRecord]) -> None:
    """Say which killed applies had done all their changes (their records are now closed)."""
    from govcloud.cli.render import interrupted_note

    for rec in records:
        click.echo(interrupted_note(rec, "nothing was left to do, so it is recorded as finished"))


def _confirmed(p: Plan, s: engine.EstateSession, yes: bool, output: str) -> bool:
    """Show a fresh plan and ask for confirmation; False when there is nothing to do."""
    from govcloud.cli.render import plan_text

    if output == "text":
        click.echo(plan_text(p, s.estate, color=sys.stdout.isatty()))
    if not p.has_changes:
        if output == "json":
            emit_json(NOTHING_APPLIED)
        return False
    if not yes:
        if not sys.stdin.isatty():
            raise GovcloudError("apply needs confirmation and there is no terminal to ask on",
                                "pass --yes to apply without asking")
        click.confirm("Apply these changes?", abort=True)
    return True


@click.command()
@output_option("text", "json")
@click.pass_context
def drift(ctx: click.Context, output: str) -> None:
    """List out-of-band changes: the cloud against the last applied state, per department.

    Exit code 2 when there is drift.

    \b
    Example:
      govcloud drift --output json
    """
    from govcloud.applying import engine
    from govcloud.cli.render import drift_text

    with session(ctx) as s:
        items = engine.drift(s)
    if output == "json":
        emit_json([d.as_dict() for d in items])
    else:
        click.echo(drift_text(items))
    if items:
        ctx.exit(2)


@click.command()
@output_option("text", "json")
@click.pass_context
def show(ctx: click.Context, output: str) -> None:
    """Show the applied estate: per department its servers, hosts, volumes, sites, network.

    \b
    Example:
      govcloud show
    """
    from govcloud.applying import engine
    from govcloud.cli.render import show_text

    with session(ctx) as s:
        data = engine.show(s)
    if output == "json":
        emit_json(data)
    else:
        click.echo(show_text(data))


@click.command()
@click.option("--limit", default=10, show_default=True,
              type=Whole(1, 100_000, "how many applies to list"),
              help="How many applies to list.")
@click.option("--journal", "apply_id", help="Print the journal of one apply.")
@output_option("text", "json")
@click.pass_context
def history(ctx: click.Context, limit: int, apply_id: str | None, output: str) -> None:
    """List recent applies (or one apply's journal) from the state store, each with the
    requests whose approved plan edits it applied: who asked, who approved.

    A request counts for an apply when its last approval (which wrote the plan file) came
    after the previous apply that finished ok started, and before this apply started; an
    apply that failed names them, and so does the next one, which applies them again.

    \b
    Example:
      govcloud history --limit 5
    """
    from govcloud.applying import engine
    from govcloud.cli.render import history_text, journal_text

    with session(ctx) as s:
        data = engine.journal(s, apply_id) if apply_id is not None else \
            engine.history(s, limit)
    if output == "json":
        emit_json(data)
    else:
        click.echo(journal_text(data) if apply_id is not None else history_text(data))
