"""Finance commands: usage collect, report utilization|chargeback|unit-costs|savings|html|
publish,
statement close|reopen|rerate|adjust|audit, and the Prometheus exporter."""

from __future__ import annotations

from pathlib import Path

import click

from govcloud.cli.commands import Lazy
from govcloud.cli.options import (
    PORT,
    out_file,
    out_folder,
    out_option,
    period_option,
    root,
    session,
    span_of,
    span_options,
)
from govcloud.cli.output import emit_json, emit_report, output_option
from govcloud.finance.period import Month

FORMATS = ("text", "json", "csv", "xlsx")
BY = click.option("--by", type=click.Choice(["department", "organisation"]),
                  default="department", show_default=True,
                  help="One row per department, or per organisation at every level of the "
                  "directory's tree as it stood at the month's end (each level's total its "
                  "own departments' plus its child organisations', to the fen).")

# The security and backup reports are the services' (cli/services); the others are below.
report = click.Group("report", commands=Lazy({
    "backup": "govcloud.cli.services:report_backup",
    "security": "govcloud.cli.services:report_security"}),
    help="Reports per department: security findings, utilization, chargeback, savings.\n\n"
         "\b\nExample:\n  govcloud report security")


def _report(ctx: click.Context, kind: str, period: Month, output: str, out: Path | None,
            detail: bool = False, by: str = "department") -> None:
    from govcloud.books import accounts

    with session(ctx) as s:
        if by == "organisation":
            from govcloud.books.rollups import rollup_report

            rep = rollup_report(s.estate, s.store, kind, period)
        elif kind == "budgets":
            from govcloud.books.budgets import budget_report

            rep = budget_report(s.estate, s.store, period)
        else:
            rep = accounts.report(s.estate, s.store, kind, period, detail, output == "xlsx")
    emit_report(rep, output, out, Path(f"govcloud-{period}.xlsx"))


@report.command()
@period_option
@output_option(*FORMATS)
@out_option
@BY
@click.pass_context
def utilization(ctx: click.Context, period: Month, output: str, out: Path | None,
                by: str) -> None:
    """Per department: allocated vCPU, RAM, disk, volumes, sites, backup GB, antivirus seats,
    and measured use, for one month (from the state store; no cloud needed). By
    organisation: each level's allocated and used vCPU, RAM and disk, and its utilization
    recomputed from them.

    \b
    Example:
      govcloud usage collect --period 2026-10 && govcloud report utilization --period 2026-10
      govcloud report utilization --period 2026-10 --by organisation
    """
    _report(ctx, "utilization", period, output, out, by=by)


@report.command()
@period_option
@span_options
@output_option(*FORMATS)
@out_option
@BY
@click.pass_context
def chargeback(ctx: click.Context, period: Month, from_month: Month | None,
               to_month: Month | None, output: str, out: Path | None, by: str) -> None:
    """Each department's share of the platform's cost for one month, pool by pool, with idle
    capacity as its own line. Charges + idle = platform cost, to the fen. With --from/--to:
    each department's charge month by month and in total — months recorded as recorded, the
    month under way to date, months not begun as a forecast (each labelled) — and for a span
    from January the year's figure (forecast method stated).

    \b
    Example:
      govcloud report chargeback --period 2026-10 --output csv > chargeback-2026-10.csv
      govcloud report chargeback --from 2026-01 --to 2026-12
      govcloud report chargeback --period 2026-10 --by organisation
    """
    from govcloud.books import spans

    span = span_of(ctx, from_month, to_month)
    if span is None:
        _report(ctx, "chargeback", period, output, out, by=by)
        return
    if by == "organisation":
        raise click.BadParameter("the roll-up is of one month: give --period YYYY-MM "
                                 "instead of --from/--to", param_hint="--by organisation")
    with session(ctx) as s:
        rep = spans.span_report(s.estate, s.store, span)
    emit_report(rep, output, out, Path(f"govcloud-{span}.xlsx"))


@report.command("unit-costs")
@period_option
@output_option(*FORMATS)
@out_option
@BY
@click.pass_context
def unit_costs(ctx: click.Context, period: Month, output: str, out: Path | None,
               by: str) -> None:
    """What one unit of each billed item (a vCPU-month, a GB of backup, a website, an
    antivirus seat) really cost in a month after the shared pools: each usage pool's cost
    with its idle spread over the units used, the fixed pools spread in proportion, and what
    departments paid per unit. Unit cost × units = cost, and the costs add up to the
    platform's cost, to the fen. By organisation: what each level's departments paid per
    unit, from its rolled-up charges and units (idle stays the platform's own row).

    \b
    Example:
      govcloud report unit-costs --period 2026-10
      govcloud report unit-costs --period 2026-10 --by organisation
    """
    _report(ctx, "unit-costs", period, output, out, by=by)


@report.command()
@period_option
@output_option(*FORMATS)
@out_option
@BY
@click.pass_context
def budgets(ctx: click.Context, period: Month, output: str, out: Path | None,
            by: str) -> None:
    """Each department's budget for the year (prices.yaml budgets) against its charges from
    January to the month, what is left and the share used. By organisation: each month's
    charges under the organisation the department was in that month.

    \b
    Example:
      govcloud report budgets --period 2026-10
      govcloud report budgets --period 2026-10 --by organisation
    """
    _report(ctx, "budgets", period, output, out, by=by)


@report.command()
@period_option
@output_option(*FORMATS)
@out_option
@click.option("--detail", is_flag=True, help="Also list every legacy cost line with the plan "
              "and price lines it came from.")
@BY
@click.pass_context
def savings(ctx: click.Context, period: Month, output: str, out: Path | None,
            detail: bool, by: str) -> None:
    """What consolidation saved each department against running its own servers, with every
    figure traceable to a plan line and a price line, and the assumptions.

    \b
    Example:
      govcloud report savings --period 2026-10 --detail
      govcloud report savings --period 2026-10 --by organisation
    """
    if detail and by == "organisation":
        raise click.BadParameter("the legacy lines are per department: drop --detail, or "
                                 "--by organisation", param_hint="--detail")
    _report(ctx, "savings", period, output, out, detail, by)


@report.command("html")
@period_option
@out_file("HTML file to write (default govcloud-report-PERIOD.html).")
@click.pass_context
def html_report(ctx: click.Context, period: Month, out: Path | None) -> None:
    """Write one self-contained HTML report with charts: cost per department, savings,
    utilization over time, hosts before and after.

    \b
    Example:
      govcloud report html --period 2026-10 --out report.html
    """
    from govcloud.books import accounts
    from govcloud.estate.files import write_bytes

    with session(ctx) as s:
        page = accounts.html_page(s.estate, s.store, period)
    path = out or Path(f"govcloud-report-{period}.html")
    write_bytes(path, page.encode("utf-8"))
    click.echo(f"Wrote {path}.")


@report.command("statement")
@period_option
@click.option("--department", default=None, help="Department id.")
@click.option("--organisation", default=None, help="Organisation code (a district…): its "
              "statement, a line per child organisation and per department of its own.")
@out_file("HTML file to write (default statement-DEPARTMENT-PERIOD.html).")
@click.pass_context
def statement_report(ctx: click.Context, period: Month, department: str | None,
                     organisation: str | None, out: Path | None) -> None:
    """Write a department's monthly statement as a printable HTML page: its share of every
    pool, adjustments, total and saving, with the statement's digest. With --organisation,
    an organisation's (a district's): its total, each child organisation's line and each of
    its own departments' (as on their statements), adding up to the fen, by the tree as it
    stood at the month's end.

    \b
    Example:
      govcloud report statement --period 2026-10 --department finance
      govcloud report statement --period 2026-10 --organisation shinan
    """
    from govcloud.books import accounts
    from govcloud.books.rollups import organisation_statement
    from govcloud.estate.files import write_bytes

    if (department is None) == (organisation is None):
        raise click.UsageError("give --department ID or --organisation CODE (one of them)")
    with session(ctx) as s:
        if organisation is not None:
            page = organisation_statement(s.estate, s.store, period, organisation)
        else:
            page = accounts.statement_page(s.estate, s.store, period, str(department))
    path = out or Path(f"statement-{organisation or department}-{period}.html")
    write_bytes(path, page.encode("utf-8"))
    click.echo(f"Wrote {path}.")


@report.command()
@period_option
@out_folder("open-data", "Folder for the open-data files.")
@BY
@click.pass_context
def publish(ctx: click.Context, period: Month, out: Path, by: str) -> None:
    """Write the open-data release of a closed month's per-department spending and savings: a
    Frictionless data package (datapackage.json, CSV with the idle row, JSON), leaving out
    everything not meant for the public. By organisation: also a table with each
    organisation's charge, adjustments, legacy cost and saving at every level.

    \b
    Example:
      govcloud report publish --period 2026-10 --out open-data/
      govcloud report publish --period 2026-10 --out open-data/ --by organisation
    """
    from govcloud.books import closing

    with session(ctx) as s:
        files = closing.publish(s.store, period, out, by == "organisation")
    for f in files:
        click.echo(f"Wrote {f}")


@click.group()
def statement() -> None:
    """Monthly statements: close a finished month so nothing can change it; reopen it, re-rate
    an open month, adjust a department's charge, and read the audit trail.

    \b
    Example:
      govcloud statement close --period 2026-10
    """


@statement.command("close")
@period_option
@click.pass_context
def statement_close(ctx: click.Context, period: Month) -> None:
    """Freeze a finished month: its chargeback, savings and utilization, the price book's
    digest and the price lines they cite. Later price or plan edits cannot change it.
    Recorded in the finance audit trail and the audit trail (govcloud audit), with who.

    \b
    Example:
      govcloud statement close --period 2026-10
    """
    from govcloud.books import closing

    with session(ctx) as s:
        c = closing.close(s.estate, s.store, period)
    st = c.statement
    adjusted = (f", adjustments {st.adjusted():+,.2f} (billed {st.billed() - st.idle:,.2f})"
                if st.adjustments else "")
    click.echo(f"Closed {period}: platform cost {st.platform_cost:,.2f} yuan, charged "
               f"{st.shared():,.2f}, idle {st.idle:,.2f}{adjusted} (at {c.closed_at}; "
               f"price book {c.book_digest}).")


@statement.command("rerate")
@period_option
@click.option("--yes", is_flag=True, help="Record the new rating (audited); without it, a dry "
              "run that only shows the diff.")
@click.option("--reason", default=None, help="Why it is re-rated (needed with --yes; kept in "
              "the audit trail).")
@output_option("text", "json", "csv")
@click.pass_context
def statement_rerate(ctx: click.Context, period: Month, yes: bool, reason: str | None,
                     output: str) -> None:
    """Re-rate an open month with today's price book and usage: per department the charge
    and every pool's share old → new, and why (the rates, cost lines and price lines that
    changed), against the month's last recorded rating (or its closed figures, after a
    reopen). A dry run unless --yes; audited.

    \b
    Example:
      govcloud statement rerate --period 2026-11
      govcloud statement rerate --period 2026-11 --yes --reason "power tariff corrected"
    """
    from govcloud.books import accounts, closing

    if yes and not (reason or "").strip():
        raise click.BadParameter("--yes records the re-rate: give --reason \"…\" too",
                                 param_hint="--reason")
    from govcloud.reports.views import rerate

    with session(ctx) as s:
        change, _ = closing.rerate(s.estate, s.store, period, reason if yes else None)
        rep = rerate(accounts.names_of(s.estate, s.store, period), change, yes)
    emit_report(rep, output, None, Path(f"govcloud-rerate-{period}.xlsx"))


@statement.command("reopen")
@period_option
@click.option("--reason", required=True, help="Why it is reopened (kept in the audit trail).")
@click.pass_context
def statement_reopen(ctx: click.Context, period: Month, reason: str) -> None:
    """Reopen a closed month, so its usage can be collected again and it re-rated; audited.

    \b
    Example:
      govcloud statement reopen --period 2026-10 --reason "backup GB counted twice"
    """
    from govcloud.books import closing

    with session(ctx) as s:
        closing.reopen(s.store, period, reason)
    click.echo(f"Reopened {period} ({reason}).")


@statement.command("adjust")
@period_option
@click.option("--department", required=True, help="Department id.")
@click.option("--yuan", required=True, help="Amount to the fen: negative a credit, positive "
              "a debit.")
@click.option("--reason", required=True, help="Why (kept on the statement and audited).")
@click.option("--allow-credit-balance", "credit_balance", metavar="WHY", default=None,
              help="Let a credit take the department's bill below zero, and why (audited); "
              "without it such a credit is refused.")
@click.pass_context
def statement_adjust(ctx: click.Context, period: Month, department: str, yuan: str,
                     reason: str, credit_balance: str | None) -> None:
    """Add a credit or debit line to a department's charge in an open month, for any
    department billed that month (one that has left the estate since included); audited.
    Adjustments are neither usage nor savings: every report shows them as their own line.

    \b
    Example:
      govcloud statement adjust --period 2026-11 --department finance --yuan -120.50 \\
        --reason "October outage credit"
    """
    from govcloud.books import closing
    from govcloud.core.patterns import visible

    with session(ctx) as s:
        a = closing.adjust(s.estate, s.store, period, department, yuan, reason,
                           credit_balance)
    click.echo(f"Adjusted {department} in {period} by {a.yuan:+,.2f} yuan "
               f"({visible(a.reason)}).")


@statement.command("audit")
@click.option("--period", "-p", default=None, help="Only this month, YYYY-MM.")
@output_option("text", "json")
@click.pass_context
def statement_audit(ctx: click.Context, period: str | None, output: str) -> None:
    """The finance audit trail: every close, reopen, re-rate and adjustment, with who, when and why.

    \b
    Example:
      govcloud statement audit --period 2026-10
    """
    from govcloud.books import records
    from govcloud.core.patterns import visible

    with session(ctx) as s:
        rows = records.audit_trail(s.store, Month.parse(period) if period else None)
    if output == "json":
        emit_json(rows)
    else:
        for r in rows:
            click.echo(visible(f"{r['at']}  {r['period']}  {r['action']}  {r['who']}  "
                               f"{r['reason']}  {r['digest']}".rstrip()))


@click.group("usage")
def usage_group() -> None:
    """Usage records in the state store, the input of every finance report.

    \b
    Example:
      govcloud usage collect --period 2026-10
    """


@usage_group.command("collect")
@period_option
@output_option("text", "json")
@click.pass_context
def usage_collect(ctx: click.Context, period: Month, output: str) -> None:
    """Read allocations and measured use from the cloud into the state store for a month.

    \b
    Example:
      govcloud usage collect --period 2026-10
    """
    from govcloud.books import metering

    with session(ctx) as s:
        result = metering.collect(s.estate, s.store, s.driver, period)
    if output == "json":
        emit_json(result)
    else:
        click.echo(f"Recorded {result['records']} usage records for {result['departments']} "
                   f"departments in {result['label']}; shared hosts (counted by the "
                   f"{result['hosts_source']}): {result['hosts_in_use']} running servers, "
                   f"{result['hosts_idle_on']} idle but powered on, {result['hosts_off']} "
                   f"parked; the placement needs {result['hosts_needed']}.")


@click.command()
@click.option("--port", type=PORT, default=9464, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--interval", type=click.FloatRange(0, 86400), default=10.0, show_default=True,
              help="Rebuild the metrics at most once per this many seconds, and only when the "
              "state store changed; scrapes in between get the last ones.")
@click.option("--max-age", type=click.FloatRange(0, 86400), default=300.0, show_default=True,
              help="Rebuild the metrics at least this often even when the store did not "
              "change (the cloud's drift and the backups' age move outside it).")
@click.option("--jobs", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Also serve when each periodic job last succeeded and failed: the times of "
              "DIR/<timer>.succeeded and DIR/<timer>.failed, which the deploy playbook's job "
              "units touch (docs/operations.md).")
@click.pass_context
def exporter(ctx: click.Context, port: int, host: str, interval: float, max_age: float,
             jobs: Path | None) -> None:
    """Serve Prometheus metrics: per-department resources, quota, cost and savings, the last
    apply, drift and host utilization (and the periodic jobs' last outcomes, with --jobs).

    Scrapes are answered from a snapshot rebuilt at most once per --interval when the state
    store changed (at least once per --max-age), by one event loop with a cap on open
    connections; slow or half-open clients are dropped after a few
    seconds. A state store that cannot be read shows as govcloud_state_ok 0.

    \b
    Example:
      govcloud exporter --port 9464
      govcloud exporter --jobs /var/lib/govcloud/jobs
    """
    from govcloud.metrics.exporter import serve

    serve(root(ctx), host, port, interval, jobs, max_age, serving=lambda: click.echo(
        f"Serving metrics on http://{host}:{port}/metrics", err=True))
