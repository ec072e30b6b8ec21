"""Requests from the command line, on the portal's code: ``govcloud request
new|list|show|approve|reject|withdraw|resubmit|comment|escalate``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govcloud.cli.options import SQL_INTEGER, Whole, root
from govcloud.cli.output import emit_json, output_option, table
from govcloud.errors import Diagnostic, GovcloudError
from govcloud.requests import records

if TYPE_CHECKING:
    from govcloud.access.users import Person
    from govcloud.core.model import Estate
    from govcloud.state.store import Store

REQUEST_NUMBER = Whole(1, SQL_INTEGER, "a request number",
                       " (govcloud request list shows them)")


@click.group("request")
def request_() -> None:
    """Departments' requests: a proposed change to one plan file, judged (validation, policy,
    the changes, the monthly cost, capacity, who must approve) before it is filed, and written
    to the plan file only once approved.

    \b
    Example:
      govcloud request list --state waiting
    """


@contextmanager
def _opened(ctx: click.Context) -> Iterator[tuple[Estate, Store]]:
    """The estate and its store, with the requests approved by a rule but not written yet
    written first where they can be (so every request command finishes them)."""
    from govcloud.applying import engine
    from govcloud.requests import decisions
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        decisions.write_approved(estate, store, f"cli {holder_id()}")
        yield estate, store


def _state(store: Store, r: records.Request, brief: bool = False) -> str:
    from govcloud.requests import deciders

    return deciders.shown_state(r, deciders.taker(store, r), brief)


def _person(store: Store, name: str) -> Person:
    from govcloud.access import users

    person = users.find(store, name)
    if person is None or person.disabled:
        raise GovcloudError(f"no active user {name!r}", "govcloud users list shows them")
    return person


MAX_REQUEST_BYTES = 1_000_000
_EXAMPLE = ('e.g. {"kind": "replicas", "department": "finance", "reason": "…", "server": '
            '"fin-app", "count": 3}')


def _payload(source: str) -> Any:
    """A request file's JSON (``-``: standard input), read as the estate's files are: a
    regular file only, at most 1 MB read, UTF-8, and no key given twice; any fault is one
    sentence naming the file, the line where it can, and the fix."""
    from govcloud.core import jsontext
    from govcloud.estate.files import read_bytes

    name = "standard input" if source == "-" else source
    if source == "-":
        raw: bytes | None = sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1)
        problems = [] if len(raw or b"") <= MAX_REQUEST_BYTES else [Diagnostic(
            "on standard input", 0, "", "is more than 1,000,000 bytes")]
    else:
        raw, problems = read_bytes(Path(source), source, None, limit=MAX_REQUEST_BYTES)
    if raw is None or problems:
        p = problems[0]
        raise GovcloudError(f"the request {p.file} {p.message}",
                            "give the path of a JSON file of at most 1 MB, or - for standard "
                            "input")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GovcloudError(f"{name}:{line}: the request is not UTF-8 text",
                            "save it as UTF-8") from None
    try:
        return jsontext.loads(text)
    except jsontext.DuplicateKey as exc:
        raise GovcloudError(f"{name}:{exc.line}: the key {exc.key!r} is given twice in one "
                            "object (which one was meant?)",
                            f"give {exc.key!r} once") from None
    except json.JSONDecodeError as exc:
        raise GovcloudError(f"{name}:{exc.lineno}: the request is not JSON: {exc.msg}",
                            _EXAMPLE) from None
    except (ValueError, RecursionError) as exc:
        raise GovcloudError(f"{name} is not JSON: {type(exc).__name__}", _EXAMPLE) from None


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
    from govcloud.requests import assessment, decisions
    from govcloud.state.store import holder_id

    data = _payload(file)
    with _opened(ctx) as (estate, store):
        person = _person(store, as_)
        department = decisions.may_file(person, data, estate, store)  # the dry run too
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
        state = _state(store, filed)
    if output == "json":
        emit_json(filed.as_dict())
        return
    click.echo(_verdict_text(filed.verdict))
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
    from govcloud.requests import deciders, life

    with _opened(ctx) as (_, store):
        found = records.listing(store, department, state)
        people = deciders.holders(store)
        stage = life.stages(store, (r.id for r in found))  # as request show says it
        states = [deciders.shown_state(r, deciders.taker(store, r, people), brief=True,
                                       stage=stage.get(r.id)) for r in found]
    if output == "json":
        emit_json([r.as_dict() for r in found])
        return
    click.echo(table(["#", "department", "kind", "requester", "state", "yuan/month", "filed"],
                     [[r.id, r.department, r.kind, r.requester, shown,
                       r.verdict.get("cost_delta", ""), r.created_at[:16]]
                      for r, shown in zip(found, states, strict=True)], "r"))


@request_.command("show")
@click.argument("number", type=REQUEST_NUMBER)
@output_option("text", "json")
@click.pass_context
def show(ctx: click.Context, number: int, output: str) -> None:
    """Show one request: what was asked, its verdict, its approvals and its state.

    \b
    Example:
      govcloud request show 12
    """
    from govcloud.core.patterns import visible
    from govcloud.requests import deciders, life

    with _opened(ctx) as (_, store):
        found = records.find(store, number)
        if found is None:
            raise GovcloudError(f"no request {number}", "govcloud request list shows them")
        takes = deciders.taker(store, found)
        steps = life.events(store, number)
    stage = life.stage(steps)
    if output == "json":
        emit_json({**found.as_dict(), "acting": takes.as_dict() if takes else None,
                   "stage": stage, "life": [e.as_dict() for e in steps]})
        return
    # visible(): a reason recorded before line breaks and direction marks were refused
    # prints as what it holds, never as a forged line ("State: approved")
    click.echo(visible(f"Request {found.id} of {found.department} by {found.requester}, "
                       f"{found.created_at[:16]}: {found.kind} — "
                       f"{found.payload.get('reason', '')}"))
    click.echo(_verdict_text(found.verdict))
    for a in found.approvals:
        click.echo(visible(f"Approved by {a['by']} ({a['role']}) at {a['at'][:16]}"))
    for e in steps:
        click.echo(visible(_life_line(e)))
    click.echo(visible(f"State: {deciders.shown_state(found, takes, stage=stage)}" + (
        f" ({found.note})" if found.note and not found.unwritten() else "")))


def _life_line(e: Any) -> str:
    """One step of a request's life (``requests.life.Event``) as a line: when, what, who,
    and the remark, reason, apply or comment it carries."""
    d = e.detail
    said = [f"{k} {d[k]}" for k in ("role", "apply") if d.get(k)] + \
        [f"{k}: {d[k]}" for k in ("remark", "reason", "why", "text") if d.get(k)]
    return f"  {e.at[:16]} {e.step} by {e.by}" + (f" — {'; '.join(said)}" if said else "")


@request_.command("approve")
@click.argument("number", type=REQUEST_NUMBER)
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
    from govcloud.applying import engine
    from govcloud.requests import decisions
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        done = decisions.approve(estate, store, _person(store, as_), number, reason,
                                 f"cli {holder_id()}")
        state = _state(store, done)
    click.echo(f"Request {done.id}: {state}." + (f" {done.note}." if done.note else ""))
    if done.state == "returned":
        sys.exit(1)


@request_.command("reject")
@click.argument("number", type=REQUEST_NUMBER)
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
    from govcloud.applying import engine
    from govcloud.requests import decisions
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        done = decisions.close(store, _person(store, as_), number,
                               "returned" if send_back else "rejected", reason,
                               f"cli {holder_id()}", estate)
    click.echo(f"Request {done.id}: {done.state}.")


@request_.command("withdraw")
@click.argument("number", type=REQUEST_NUMBER)
@click.option("--as", "as_", required=True, metavar="USER", help="The requester.")
@click.option("--reason", default="", help="Why (optional; shown on the request).")
@click.pass_context
def withdraw(ctx: click.Context, number: int, as_: str, reason: str) -> None:
    """Withdraw one's own request while it waits for an approval.

    \b
    Example:
      govcloud request withdraw 12 --as li.wei --reason "no longer needed"
    """
    from govcloud.requests import followups
    from govcloud.state.store import holder_id

    with _opened(ctx) as (_, store):
        done = followups.withdraw(store, _person(store, as_), number, reason,
                                  f"cli {holder_id()}")
    click.echo(f"Request {done.id}: withdrawn.")


@request_.command("resubmit")
@click.argument("number", type=REQUEST_NUMBER)
@click.argument("file")
@click.option("--as", "as_", required=True, metavar="USER", help="The requester.")
@click.pass_context
def resubmit(ctx: click.Context, number: int, file: str, as_: str) -> None:
    """File one's own request again, edited, after it was sent back (FILE: the whole request
    as JSON, - reads standard input); judged as a new one, its approvals start over.

    \b
    Example:
      govcloud request resubmit 12 edited.json --as li.wei
    """
    from govcloud.requests import followups
    from govcloud.state.store import holder_id

    data = _payload(file)
    with _opened(ctx) as (estate, store):
        done = followups.resubmit(estate, store, _person(store, as_), number, data,
                                  f"cli {holder_id()}")
        state = _state(store, done)
    click.echo(f"Request {done.id} filed again: {state}.")


@request_.command("comment")
@click.argument("number", type=REQUEST_NUMBER)
@click.argument("text")
@click.option("--as", "as_", required=True, metavar="USER", help="Who comments.")
@click.pass_context
def comment(ctx: click.Context, number: int, text: str, as_: str) -> None:
    """Add to a request's comment thread (its department's people and those who decide
    requests read it on the request's page and in govcloud request show).

    \b
    Example:
      govcloud request comment 12 "the database needs 16 GB, not 8" --as li.wei
    """
    from govcloud.requests import followups
    from govcloud.state.store import holder_id

    with _opened(ctx) as (_, store):
        followups.comment(store, _person(store, as_), number, text, f"cli {holder_id()}")
    click.echo(f"Request {number}: comment added.")


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
    from govcloud.state.store import holder_id

    with _opened(ctx) as (estate, store):
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
