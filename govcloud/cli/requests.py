"""Requests from the command line, on the portal's code: ``govcloud request
new|list|show|approve|reject``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from govcloud.access import users
from govcloud.access.users import Person
from govcloud.applying import engine
from govcloud.cli.app import cli
from govcloud.cli.options import root
from govcloud.cli.output import emit_json, output_option, table
from govcloud.errors import GovcloudError
from govcloud.requests import assessment, decisions, records
from govcloud.state.store import Store, holder_id


@cli.group("request")
def request_() -> None:
    """Departments' requests: a proposed change to one plan file, judged (validation, policy,
    the changes, the monthly cost, capacity, who must approve) before it is filed, and written
    to the plan file only once approved.

    \b
    Example:
      govcloud request list --state waiting
    """


def _person(store: Store, name: str) -> Person:
    person = users.find(store, name)
    if person is None or person.disabled:
        raise GovcloudError(f"no active user {name!r}", "govcloud users list shows them")
    return person


def _payload(source: str) -> Any:
    text = sys.stdin.read(1_000_001) if source == "-" else None
    if text is None:
        path = Path(source)
        try:
            if path.stat().st_size > 1_000_000:
                raise GovcloudError(f"{source} is larger than 1 MB", "a request is small")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GovcloudError(f"cannot read {source}: {exc.strerror}",
                                "give a JSON file, or - for standard input") from exc
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise GovcloudError(f"{source} is not JSON: {exc}",
                            'e.g. {"kind": "replicas", "department": "finance", '
                            '"reason": "…", "server": "fin-app", "count": 3}') from None


def _verdict_text(v: dict[str, Any]) -> str:
    lines = []
    for e in v["errors"]:
        where = f"{e['file']}:{e['line']}" if e.get("line") else e["file"]
        lines.append(f"error: {where}: {e['path']}: {e['message']}"
                     + (f" — {e['hint']}" if e.get("hint") else ""))
    for w in v["warnings"]:
        lines.append(f"warning: {w['file']}: {w['path']}: {w['message']}")
    if v["ok"]:
        for c in v["changes"]:
            lines.append(f"  {c['action']:8} {c['key']}: {c['reason']}")
        cap = v["capacity"]
        fits = "fits on the hosts in use" if cap.get("fits") else \
            f"needs {cap.get('extra_hosts')} more host(s): {cap.get('add')}"
        lines.append(f"Monthly cost: {v['cost_delta']} yuan ({v['department']}, fixed "
                     f"shares included). Capacity: {fits}.")
        lines += _effects_text(v.get("facts") or {})
        chain = v["chain"]
        lines.append("Approval: " + ("automatic (" + ", ".join(chain["rules"]) + ")"
                                     if chain.get("auto") else " → ".join(chain["roles"])))
        if v["diff"]:
            lines.append(v["diff"].rstrip())
    return "\n".join(lines)


def _effects_text(facts: dict[str, Any]) -> list[str]:
    """What the change does (destroys, shrinks, weakens, exposes), one line each."""
    effects = [f"  {name}: {e}" for name in ("destroys", "shrinks", "weakens", "exposes")
               for e in facts.get(name) or []]
    if "blast_radius" not in facts:
        return effects
    head = "What the change does: " + ("" if effects else "destroys, shrinks, weakens and "
                                       "exposes nothing; ") + \
        f"{facts['blast_radius']} running resource(s) touched" + \
        (f", {facts['destroyed_gb']:,} GB destroyed" if facts.get("destroyed_gb") else "")
    return [head, *effects]


@request_.command("new")
@click.argument("file")
@click.option("--as", "as_", required=True, metavar="USER",
              help="The portal user the request is filed for (its requester).")
@click.option("--dry-run", is_flag=True, help="Show the verdict only; file nothing.")
@output_option("text", "json")
@click.pass_context
def new(ctx: click.Context, file: str, as_: str, dry_run: bool, output: str) -> None:
    """File a request from a JSON file (- reads standard input): its verdict is shown, and it
    is filed only when valid. Exit 1 when it is not.

    \b
    Example:
      echo '{"kind": "replicas", "department": "finance", "reason": "year-end load",
             "server": "fin-budget-app", "count": 4}' | govcloud request new - --as li.wei
    """
    data = _payload(file)
    with engine.records(root(ctx)) as (estate, store):
        person = _person(store, as_)
        department = data.get("department") if isinstance(data, dict) else None
        if dry_run:
            verdict = assessment.assess(estate, str(department or ""), data).as_dict()
            emit_json(verdict) if output == "json" else click.echo(_verdict_text(verdict))
            if not verdict["ok"]:
                sys.exit(1)
            return
        try:
            filed = decisions.submit(estate, store, person, data, f"cli {holder_id()}")
        except decisions.RequestRefused as exc:
            if exc.verdict is None:
                raise
            if output == "json":
                emit_json(exc.verdict.as_dict())
            else:
                click.echo(_verdict_text(exc.verdict.as_dict()))
            raise
    if output == "json":
        emit_json(filed.as_dict())
        return
    click.echo(_verdict_text(filed.verdict))
    state = filed.state if filed.state != "waiting" else f"waiting for {filed.waiting_for()}"
    click.echo(f"Filed request {filed.id}: {state}.")


@request_.command("list")
@click.option("--department", help="Only this department's requests.")
@click.option("--state", type=click.Choice(list(records.STATES)), help="Only these.")
@output_option("text", "json")
@click.pass_context
def list_(ctx: click.Context, department: str | None, state: str | None, output: str) -> None:
    """List requests, newest first: number, department, kind, requester, state, cost.

    \b
    Example:
      govcloud request list --state waiting
    """
    with engine.records(root(ctx)) as (_, store):
        found = records.listing(store, department, state)
    if output == "json":
        emit_json([r.as_dict() for r in found])
        return
    click.echo(table(["#", "department", "kind", "requester", "state", "yuan/month", "filed"],
                     [[r.id, r.department, r.kind, r.requester,
                       f"waiting for {r.waiting_for()}" if r.state == "waiting" else r.state,
                       r.verdict.get("cost_delta", ""), r.created_at[:16]] for r in found],
                     "r"))


@request_.command("show")
@click.argument("number", type=int)
@output_option("text", "json")
@click.pass_context
def show(ctx: click.Context, number: int, output: str) -> None:
    """Show one request: what was asked, its verdict, its approvals and its state.

    \b
    Example:
      govcloud request show 12
    """
    with engine.records(root(ctx)) as (_, store):
        found = records.find(store, number)
    if found is None:
        raise GovcloudError(f"no request {number}", "govcloud request list shows them")
    if output == "json":
        emit_json(found.as_dict())
        return
    click.echo(f"Request {found.id} of {found.department} by {found.requester}, "
               f"{found.created_at[:16]}: {found.kind} — {found.payload.get('reason', '')}")
    click.echo(_verdict_text(found.verdict))
    for a in found.approvals:
        click.echo(f"Approved by {a['by']} ({a['role']}) at {a['at'][:16]}")
    click.echo(f"State: {found.state}" + (f" ({found.note})" if found.note else ""))


@request_.command("approve")
@click.argument("number", type=int)
@click.option("--as", "as_", required=True, metavar="USER", help="The approving user.")
@click.option("--reason", default="", help="A remark, recorded in the audit trail.")
@click.pass_context
def approve(ctx: click.Context, number: int, as_: str, reason: str) -> None:
    """Approve the stage a request waits for; the last approval writes the plan file (and
    commits it, in a git estate). A request whose plan changed since is judged again.

    \b
    Example:
      govcloud request approve 12 --as admin
    """
    with engine.records(root(ctx)) as (estate, store):
        done = decisions.approve(estate, store, _person(store, as_), number, reason,
                                 f"cli {holder_id()}")
    state = f"waiting for {done.waiting_for()}" if done.state == "waiting" else done.state
    click.echo(f"Request {done.id}: {state}." + (f" {done.note}." if done.note else ""))
    if done.state == "returned":
        sys.exit(1)


@request_.command("reject")
@click.argument("number", type=int)
@click.option("--as", "as_", required=True, metavar="USER", help="The deciding user.")
@click.option("--reason", required=True, help="Why (shown to the requester; audited).")
@click.option("--send-back", is_flag=True,
              help="Send it back to the requester to change and file again, rather than "
                   "reject it.")
@click.pass_context
def reject(ctx: click.Context, number: int, as_: str, reason: str, send_back: bool) -> None:
    """Reject a request (or send it back) with a reason.

    \b
    Example:
      govcloud request reject 12 --as admin --reason "use the shared database instead"
    """
    with engine.records(root(ctx)) as (estate, store):
        done = decisions.close(store, _person(store, as_), number,
                               "returned" if send_back else "rejected", reason,
                               f"cli {holder_id()}", estate)
    click.echo(f"Request {done.id}: {done.state}.")


@request_.command("escalate")
@output_option("text", "json")
@click.pass_context
def escalate(ctx: click.Context, output: str) -> None:
    """Escalate the requests that waited longer for a step than their approval rule's
    `escalate: {after_days, to}` allows: the role escalated to is mailed, once per request
    and step (each escalation is an audit record). Run it from one cron job, e.g. hourly.

    \b
    Example:
      govcloud request escalate
    """
    from govcloud.requests import escalation

    with engine.records(root(ctx)) as (estate, store):
        done = escalation.escalate(estate, store, f"cli {holder_id()}")
    if output == "json":
        emit_json([e.as_dict() for e in done])
        return
    if not done:
        click.echo("No request is overdue that was not escalated already.")
    for e in done:
        x = e.escalation
        told = ", ".join(e.told) or "nobody (no e-mail set up, or no address)"
        click.echo(f"Request {e.request.id} ({e.request.department}, {e.request.kind}): "
                   f"waiting {x.waited_days} days for {x.step} (rule {x.rule}: "
                   f"{x.after_days}); escalated to {x.to}; told: {told}"
                   + (f"; {e.problem}" if e.problem else ""))
