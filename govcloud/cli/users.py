"""The portal's local accounts: ``govcloud users add|list|disable|role``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from govcloud.cli.options import root
from govcloud.cli.output import emit_json, output_option, table
from govcloud.core.roles import ROLES
from govcloud.errors import MissingExtra

if TYPE_CHECKING:
    from govcloud.access import second_factor


@click.group()
def users() -> None:
    """Local accounts for govcloud serve: who signs in, with which role and department.

    Roles: operator, member (one department: reads it, files requests), approver (one
    department: its head's sign-off), finance (every cost, statements) and auditor (reads
    everything, changes nothing). Every change is recorded in the audit trail.

    \b
    Example:
      govcloud users add admin --role operator
    """


def _password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return str(click.prompt(f"Password for {name}", hide_input=True,
                            confirmation_prompt=True))


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(list(ROLES)),
              help="What the user may do.")
@click.option("--department", help="The user's department (members and approvers only).")
@click.option("--scope", default=None, help="An organisation (e.g. a district's code): an "
              "operator, approver, finance officer or auditor limited to it and everything "
              "under it (default: the whole estate).")
@click.option("--email", default="", help="Where the portal's notifications reach them.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of "
                   "asking for it (never give it as an argument: others can see those).")
@click.pass_context
def add(ctx: click.Context, name: str, role: str, department: str | None,
        scope: str | None, email: str, password_stdin: bool) -> None:
    """Add a user who signs in to govcloud serve with a password (at least 12 characters;
    stored as an argon2 hash).

    \b
    Example:
      govcloud users add admin --role operator
      printf '%s\\n' "$PW" | govcloud users add li.wei --role member --department finance \\
        --password-stdin
      govcloud users add wang.fang --role operator --scope shinan
    """
    from govcloud.access import users as user_records
    from govcloud.applying import engine
    from govcloud.estate.organisations import in_directory
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        person = user_records.add(store, set(estate.plans), name, role, department,
                                  _password(name, password_stdin), holder_id(), email=email,
                                  scope=_scope(scope), organisations=in_directory(store))
    where = f" of {person.department}" if person.department else \
        f" of everything under {person.subtree}" if person.subtree else ""
    click.echo(f"Added {person.name}, {person.role}{where}.")


@users.command("list")
@output_option("text", "json")
@click.pass_context
def list_(ctx: click.Context, output: str) -> None:
    """List the users: name, role, department, origin (local, or keystone: signs in with
    Keystone), whether disabled, their second factor (enrolled, with the recovery codes
    left; begun: shown a secret, not confirmed; "-": none yet), when changed.

    \b
    Example:
      govcloud users list -o json
    """
    from govcloud.access import second_factor
    from govcloud.access import users as user_records
    from govcloud.applying import engine

    with engine.records(root(ctx)) as (_, store):
        found = user_records.people(store)
        factors = second_factor.enrolments(store)
    if output == "json":
        emit_json([p.as_dict() | {"second_factor": _factor(factors.get(p.name))}
                   for p in found])
        return
    if not found:
        click.echo("No users yet: add the first operator with govcloud users add NAME "
                   "--role operator.")
        return
    click.echo(table(["user", "role", "department", "e-mail", "origin", "state",
                      "second factor", "changed"],
                     [[p.name, p.role, p.department or (p.subtree and f"{p.subtree}/*"),
                       p.email, p.origin,
                       "disabled" if p.disabled else "active",
                       _factor_text(factors.get(p.name)), p.changed_at[:19]]
                      for p in found]))


def _factor(found: second_factor.Enrolment | None) -> dict[str, Any] | None:
    return None if found is None else {"enrolled_at": found.enrolled_at or None,
                                       "recovery_codes_left": found.recovery_left}


def _factor_text(found: second_factor.Enrolment | None) -> str:
    if found is None:
        return "-"
    if not found.enrolled_at:
        return "begun"
    return f"enrolled {found.enrolled_at[:10]} ({found.recovery_left} recovery codes left)"


@users.group("second-factor")
def second_factor_() -> None:
    """A person's second factor (TOTP), which the roles in portal.second_factor give after
    their password in govcloud serve.

    \b
    Example:
      govcloud users second-factor reset li.wei --reason "lost their phone"
    """


@second_factor_.command("reset")
@click.argument("name")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@click.pass_context
def reset_factor(ctx: click.Context, name: str, reason: str) -> None:
    """Forget a person's second factor (a lost device; their recovery codes too): they
    enrol a new one at their next sign-in. Audited with the reason. Their sessions go on:
    end them with govcloud users end-session.

    \b
    Example:
      govcloud users second-factor reset li.wei --reason "lost their phone"
    """
    from govcloud.access import second_factor
    from govcloud.access import users as user_records
    from govcloud.applying import engine
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        second_factor.reset(store, name, holder_id(), reason)
        asked = second_factor.required(user_records.existing(store, name),
                                       frozenset(estate.settings.second_factor))
    then = "they enrol again at their next sign-in" if asked else \
        "their role is not asked for one (portal.second_factor), so they sign in without it"
    click.echo(f"Reset the second factor of {name}: {then}.")


@users.command("disable")
@click.argument("name")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@click.pass_context
def disable(ctx: click.Context, name: str, reason: str) -> None:
    """Disable a user: they can no longer sign in. Audited with the reason.

    \b
    Example:
      govcloud users disable li.wei --reason "left the department"
    """
    from govcloud.access import users as user_records
    from govcloud.applying import engine
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (_, store):
        user_records.disable(store, name, holder_id(), reason)
    click.echo(f"Disabled {name}.")


@users.command("role")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(list(ROLES)), help="The new role.")
@click.option("--department", help="The department (members and approvers only).")
@click.option("--scope", default=None, help="The organisation whose subtree limits them "
              "(none: the whole estate).")
@click.option("--reason", required=True, help="Why (recorded in the audit trail).")
@click.pass_context
def role(ctx: click.Context, name: str, role: str, department: str | None,
         scope: str | None, reason: str) -> None:
    """Change a user's role (and department). Audited with before, after and the reason.

    \b
    Example:
      govcloud users role li.wei --role approver --department finance --reason "new head"
    """
    from govcloud.access import users as user_records
    from govcloud.applying import engine
    from govcloud.estate.organisations import in_directory
    from govcloud.state.store import holder_id

    with engine.records(root(ctx)) as (estate, store):
        person = user_records.set_role(store, set(estate.plans), name, role, department,
                                       holder_id(), reason, scope=_scope(scope),
                                       organisations=in_directory(store))
    where = f" of {person.department}" if person.department else \
        f" of everything under {person.subtree}" if person.subtree else ""
    click.echo(f"{person.name} is now {person.role}{where}.")


def _sessions() -> Any:
    try:
        from govcloud.portal import sessions
    except ImportError as exc:
        raise MissingExtra("govcloud users sessions", "portal", exc.name or "itsdangerous") \
            from exc
    return sessions


@users.command("sessions")
@click.argument("name", required=False)
@output_option("text", "json")
@click.pass_context
def sessions_(ctx: click.Context, name: str | None, output: str) -> None:
    """List the portal's live sessions (of NAME, or everyone's): handle, person, when they
    signed in, when the session ends at the latest (idle or lifetime), and its second
    factor (waiting: the password only so far; given; - not asked). Never a token.

    \b
    Example:
      govcloud users sessions li.wei
    """
    from govcloud.access import users as user_records
    from govcloud.applying import engine

    kept = _sessions()
    with engine.records(root(ctx)) as (_, store):
        if name is not None:
            user_records.existing(store, name)  # an unknown name is named, not "no sessions"
        found = kept.listing(store, name)
    if output == "json":
        emit_json([vars(s) for s in found])
        return
    if not found:
        click.echo("No live sessions" + (f" of {name}." if name else "."))
        return
    click.echo(table(["session", "user", "signed in", "ends at the latest", "second factor"],
                     [[s.handle, s.name, s.created_at[:19], s.expires_at[:19],
                       s.second_factor or "-"] for s in found]))


@users.command("end-session")
@click.argument("handle")
@click.pass_context
def end_session(ctx: click.Context, handle: str) -> None:
    """End a portal session at once (its person must sign in again). Audited.

    \b
    Example:
      govcloud users end-session 3f9a1c2e4b5d
    """
    from govcloud.applying import engine
    from govcloud.state.store import holder_id

    kept = _sessions()
    with engine.records(root(ctx)) as (_, store):
        ended = kept.end_listed(store, handle, holder_id())
    click.echo(f"Ended session {ended.handle} of {ended.name}.")


def _scope(scope: str | None) -> str:
    """``--scope`` as given ("" when left out); an empty one is a mistake (a script's unset
    variable), not the whole estate."""
    if scope is not None and not scope.strip():
        raise click.BadParameter("is empty — give an organisation's code (govcloud directory "
                                 "sync lists them), or leave --scope out for the whole estate",
                                 param_hint="--scope")
    return scope or ""
