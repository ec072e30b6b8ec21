"""Shared-service commands: inventory, services run, report security, backup verify|restore."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from govcloud.cli.options import session
from govcloud.cli.output import emit_json, output_option, table
from govcloud.errors import GovcloudError

if TYPE_CHECKING:
    from govcloud.services import playbooks


def _progress(text: str) -> None:
    click.echo(text, err=True)


def _check_runs(ctx: click.Context, runs: list[playbooks.PlaybookRun]) -> None:
    failed = [r for r in runs if not r.ok]
    for r in failed:
        click.echo(r.render_failure(), err=True)
    if failed:
        ctx.exit(1)


@click.command()
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
    from govcloud.services import playbooks

    with session(ctx) as s:
        inv = playbooks.build_inventory(s.estate, s.store)
    if host:
        emit_json(inv["_meta"]["hostvars"].get(host, {}))
    else:
        emit_json(inv)


@click.group("services")
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
    from govcloud.applying import engine
    from govcloud.requests import life
    from govcloud.services import playbooks

    with session(ctx) as s, engine.locked(s, lock_timeout, doing="services run"):
        deps = list(departments) or sorted(s.estate.plans)
        unknown = [d for d in deps if d not in s.estate.plans]
        if unknown:
            raise GovcloudError(f"no department {', '.join(unknown)} in the estate",
                                "use department ids from plans/")
        outcome = playbooks.run_services(s.estate, s.store, deps,
                                        _progress if output == "text" else None)
        life.converged(s.store, {d: "" if outcome.ok else outcome.error or "a service "
                                 "playbook failed" for d in outcome.departments},
                       "services run")  # the requests it carried to live
    if output == "json":
        emit_json(outcome.as_dict())
    else:
        click.echo(outcome.render())
    if not outcome.ok:
        ctx.exit(1)


@click.command("security")
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
    from govcloud.services import playbooks
    from govcloud.services.scans import security_report

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


@click.group("backup")
def backup_group() -> None:
    """Disaster-recovery backups: restore drills and restores.

    \b
    Example:
      govcloud backup verify --department finance
    """


SITE = click.Choice(("primary", "dr", "both"))  # services/backup.SITE_CHOICES (a test holds it)


@backup_group.command("verify")
@click.option("--department", "-d", help="Only this department (default: all with backup).")
@click.option("--site", type=SITE, default="primary", show_default=True,
              help="Drill the primary copy, the disaster-recovery copy, or both.")
@output_option("text", "json")
@click.pass_context
def backup_verify(ctx: click.Context, department: str | None, site: str, output: str) -> None:
    """Restore drill: restore the latest snapshot into a scratch folder on the backup host
    and compare every file with the checksums taken at backup time. Exit 1 on a failure.

    \b
    Example:
      govcloud backup verify --department finance --site both
    """
    from govcloud.services import backup as backups

    with session(ctx) as s:
        drills, runs = backups.verify(s.estate, s.store, department, site=site)
    _check_runs(ctx, runs)
    if output == "json":
        emit_json([d.as_dict() for d in drills])
    else:
        click.echo(table(["department", "site", "host", "snapshot", "files", "restore s",
                          "result"],
                         [(d.department, d.site, d.host, d.snapshot or "-", d.files,
                           "-" if d.restore_seconds is None else f"{d.restore_seconds:.1f}",
                           d.status) for d in drills], "llllrrl"))
        for d in drills:
            for m in d.mismatches:
                click.echo(f"{d.department} ({d.site}): {m}", err=True)
    if not all(d.ok for d in drills):
        ctx.exit(1)


@backup_group.command("restore")
@click.option("--department", "-d", required=True, help="The department to restore.")
@click.option("--to", "target",
              help="Folder on the site's backup host to restore into ('/' puts files back); "
              "not with --rehearse.")
@click.option("--site", type=click.Choice(["primary", "dr"]), default="primary",
              show_default=True, help="Restore from the primary copy or the "
              "disaster-recovery copy (only that site's backup host is contacted).")
@click.option("--rehearse", is_flag=True, help="Restore into a scratch folder on the "
              "backup host instead, check every file and report the time taken.")
@output_option("text", "json")
@click.pass_context
def backup_restore(ctx: click.Context, department: str, target: str | None, site: str,
                   rehearse: bool, output: str) -> None:
    """Restore a department's latest snapshot into a folder on the backup host.

    \b
    Example:
      govcloud backup restore --department finance --to /srv/restore/finance
      govcloud backup restore --department finance --site dr --rehearse
    """
    from govcloud.services import backup as backups

    if rehearse == (target is not None):
        raise click.UsageError("give either --to FOLDER or --rehearse")
    say = _progress if sys.stderr.isatty() else None
    with session(ctx) as s:
        if rehearse:
            done, runs = backups.rehearse(s.estate, s.store, department, site, say)
        else:
            run = backups.restore(s.estate, s.store, department, str(target), say, site)
    if not rehearse:
        _check_runs(ctx, [run])
        if output == "json":
            emit_json({"department": department, "site": site, "target": target,
                       "seconds": round(run.seconds, 2), "artifacts": str(run.artifacts)})
        else:
            click.echo(f"Restored {department}'s latest {site} snapshot into {target} in "
                       f"{run.seconds:.1f}s (artifacts {run.artifacts}).")
        return
    _check_runs(ctx, runs)
    d = done.drill
    if output == "json":
        emit_json(done.as_dict())
    else:
        restic_part = "" if d.restore_seconds is None else \
            f" (the restore itself {d.restore_seconds:.1f}s, {d.restored_bytes} bytes)"
        click.echo(f"Rehearsal of {department} from the {site} site: {d.status}, "
                   f"{d.files} file(s) checked; measured recovery time {done.seconds:.1f}s"
                   f"{restic_part}.")
    if not d.ok:
        ctx.exit(1)


@click.command("backup")
@click.option("--department", "-d", help="Only this department (default: all with backup).")
@output_option("text", "json")
@click.pass_context
def report_backup(ctx: click.Context, department: str | None, output: str) -> None:
    """Backups per department and site: the newest snapshot and its age against the
    department's RPO, the last restore drill and its result, the repository size.
    Exit code 2 when a site breaches a department's RPO.

    \b
    Example:
      govcloud report backup --output json
    """
    from govcloud.services import backup as backups
    from govcloud.services.recovery import human_bytes

    with session(ctx) as s:
        rows, runs = backups.status(s.estate, s.store, department)
    _check_runs(ctx, runs)
    if output == "json":
        emit_json([r.as_dict() for r in rows])
    else:
        click.echo(table(
            ["department", "site", "last snapshot", "age h", "RPO h", "", "last drill",
             "drill", "size"],
            [(r.department, r.site, r.last_snapshot[:19] or "-",
              "-" if r.age_hours is None else f"{r.age_hours:.1f}", r.rpo_hours,
              "BREACH" if r.breach else "ok", r.drill_at or "-",
              {None: "never", True: "ok", False: "FAILED"}[r.drill_ok],
              human_bytes(r.size_bytes)) for r in rows], "lllrrllll"))
        for r in rows:
            if r.error:
                click.echo(f"{r.department} ({r.site}): {r.error}", err=True)
    if any(r.breach for r in rows):
        ctx.exit(2)
