"""Shared-service commands: inventory, services run, report security, backup verify|restore."""

from __future__ import annotations

import sys

import click

from govcloud.cli import cli
from govcloud.cli.options import report, session
from govcloud.cli.output import emit_json, output_option, table
from govcloud.errors import GovcloudError
from govcloud.runtime import engine
from govcloud.services import backup as backups
from govcloud.services import playbooks
from govcloud.services.scans import security_report


def _progress(text: str) -> None:
    click.echo(text, err=True)


def _check_runs(ctx: click.Context, runs: list[playbooks.PlaybookRun]) -> None:
    failed = [r for r in runs if not r.ok]
    for r in failed:
        click.echo(r.render_failure(), err=True)
    if failed:
        ctx.exit(1)


@cli.command()
@click.option("--list", "list_", is_flag=True, help="Print the whole inventory as Ansible "
              "dynamic-inventory JSON (the default).")
@click.option("--host", help="Print one host's variables (dynamic-inventory protocol).")
@click.pass_context
def inventory(ctx: click.Context, list_: bool, host: str | None) -> None:
    """The Ansible inventory the service playbooks run with: inventories/ plus the
    departments' sites, antivirus and backup settings from the state store.

    Usable as a dynamic inventory script by ansible itself.

    \b
    Example:
      govcloud inventory --list
    """
    with session(ctx) as s:
        inv = playbooks.build_inventory(s.estate, s.store)
    if host:
        emit_json(inv["_meta"]["hostvars"].get(host, {}))
    else:
        emit_json(inv)


@cli.group("services")
def services_group() -> None:
    """Run the shared-service playbooks (web hosting, antivirus, backup) by hand.

    \b
    Example:
      govcloud services run --department finance
    """


@services_group.command("run")
@click.option("--department", "-d", "departments", multiple=True,
              help="Only this department (repeatable); default: every department.")
@click.option("--lock-timeout", type=float, default=0.0, show_default=True,
              help="Seconds to wait for a running apply's lock.")
@output_option("text", "json")
@click.pass_context
def services_run(ctx: click.Context, departments: tuple[str, ...], lock_timeout: float,
                 output: str) -> None:
    """Converge the services of every (or the given) department, changed or not.

    Use it after adding a web host or switching services.enabled on.

    \b
    Example:
      govcloud services run
    """
    with session(ctx) as s, engine.locked(s, lock_timeout):
        deps = list(departments) or sorted(s.estate.plans)
        unknown = [d for d in deps if d not in s.estate.plans]
        if unknown:
            raise GovcloudError(f"no department {', '.join(unknown)} in the estate",
                                "use department ids from plans/")
        outcome = playbooks.run_services(s.estate, s.store, deps,
                                        _progress if output == "text" else None)
    if output == "json":
        emit_json(outcome.as_dict())
    else:
        click.echo(outcome.render())
    if not outcome.ok:
        ctx.exit(1)


@report.command("security")
@click.option("--department", "-d", help="Only this department.")
@output_option("text", "json")
@click.pass_context
def report_security(ctx: click.Context, department: str | None, output: str) -> None:
    """Antivirus findings per department, from the latest scan on each host.

    Collects the scan logs from the web hosts (and department servers) first. Exit code 2
    when there is a finding.

    \b
    Example:
      govcloud report security --output json
    """
    with session(ctx) as s:
        deps = [department] if department else sorted(s.estate.plans)
        if department and department not in s.estate.plans:
            raise GovcloudError(f"no department '{department}' in the estate",
                                "use a department id from plans/")
        logs, runs = playbooks.collect_scans(s.estate, s.store, deps)
    _check_runs(ctx, runs)
    rows = security_report(logs, deps)
    if output == "json":
        emit_json([r.as_dict() for r in rows])
    else:
        lines = []
        for r in rows:
            state = f"{len(r.findings)} finding(s)" if r.findings else \
                ("clean" if r.last_scan else "never scanned")
            lines.append((r.department, r.last_scan or "-", ",".join(r.hosts) or "-", state))
        click.echo(table(["department", "last scan", "hosts", "result"], lines))
        for r in rows:
            for f in r.findings:
                click.echo(f"{f.department}: {f.host}:{f.path}: {f.signature}")
    if any(r.findings for r in rows):
        ctx.exit(2)


@cli.group("backup")
def backup_group() -> None:
    """Disaster-recovery backups: restore drills and restores.

    \b
    Example:
      govcloud backup verify --department finance
    """


@backup_group.command("verify")
@click.option("--department", "-d", help="Only this department (default: all with backup).")
@output_option("text", "json")
@click.pass_context
def backup_verify(ctx: click.Context, department: str | None, output: str) -> None:
    """Restore drill: restore the latest snapshot into a scratch folder on the backup host
    and compare every file with the checksums taken at backup time. Exit 1 on a failure.

    \b
    Example:
      govcloud backup verify --department finance
    """
    with session(ctx) as s:
        drills, runs = backups.verify(s.estate, s.store, department)
    _check_runs(ctx, runs)
    if output == "json":
        emit_json([d.as_dict() for d in drills])
    else:
        click.echo(table(["department", "host", "snapshot", "files", "result"],
                         [(d.department, d.host, d.snapshot or "-", d.files, d.status)
                          for d in drills], "lllr"))
        for d in drills:
            for m in d.mismatches:
                click.echo(f"{d.department}: {m}", err=True)
    if not all(d.ok for d in drills):
        ctx.exit(1)


@backup_group.command("restore")
@click.option("--department", "-d", required=True, help="The department to restore.")
@click.option("--to", "target", required=True,
              help="Folder on the backup host to restore into ('/' puts files back).")
@click.pass_context
def backup_restore(ctx: click.Context, department: str, target: str) -> None:
    """Restore a department's latest snapshot into a folder on the backup host.

    \b
    Example:
      govcloud backup restore --department finance --to /srv/restore/finance
    """
    with session(ctx) as s:
        run = backups.restore(s.estate, s.store, department, target,
                              _progress if sys.stderr.isatty() else None)
    _check_runs(ctx, [run])
    click.echo(f"Restored {department}'s latest snapshot into {target} "
               f"(artifacts {run.artifacts}).")
