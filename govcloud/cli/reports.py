"""Finance commands: usage collect, report utilization|chargeback|savings|html|publish,
statement close, and the Prometheus exporter."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from govcloud.cli import cli
from govcloud.cli.groups import report
from govcloud.cli.output import emit_csv, emit_json, output_option, table
from govcloud.finance.pricebook import check_period
from govcloud.reports import tables
from govcloud.runtime import accounts, engine
from govcloud.runtime.files import write_bytes


def _root(ctx: click.Context) -> Path:
    return ctx.find_root().obj or Path(".")


def _this_month() -> str:
    return datetime.date.today().strftime("%Y-%m")


def period_option(f: Any) -> Any:
    return click.option("--period", "-p", default=_this_month, show_default="this month",
                        callback=lambda ctx, param, v: check_period(v),
                        help="Month, YYYY-MM.")(f)


def _cell(v: Any) -> str:
    if isinstance(v, Decimal):
        return f"{v:,.2f}"
    if isinstance(v, float):
        return f"{v:,.6g}"
    return "" if v is None else str(v)


def _csv_cell(v: Any) -> Any:
    if isinstance(v, Decimal):
        return f"{v:.2f}"
    return "" if v is None else v


def _emit(kind: str, output: str, out: Path | None, period: str,
          sheets: list[tuple[str, tables.Table]], json_data: Any, text: str,
          notes: list[str]) -> None:
    if output == "json":
        emit_json(json_data)
    elif output == "csv":
        header, rows = sheets[0][1]
        emit_csv(header, [[_csv_cell(v) for v in r] for r in rows])
    elif output == "xlsx":
        from govcloud.reports.xlsx import workbook

        path = out or Path(f"govcloud-{period}.xlsx")
        write_bytes(path, workbook(sheets, notes, active=sheets[0][0]))
        click.echo(f"Wrote {path} ({', '.join(name for name, _ in sheets)}).")
    else:
        click.echo(text)


def _all_sheets(s: engine.Session, period: str) -> dict[str, Any]:
    util = accounts.utilization(s.estate, s.store, period)
    st = accounts.statement_for(s.estate, s.store, period)
    led = accounts.savings_for(s.estate, s.store, period)
    return {"util": util, "statement": st, "ledger": led,
            "sheets": {"Utilization": tables.utilization_table(util),
                       "Chargeback": tables.chargeback_table(s.estate, st),
                       "Savings": tables.savings_table(s.estate, led),
                       "Savings sources": tables.savings_detail(led),
                       "Platform cost": tables.cost_detail(st)}}


def _ordered(sheets: dict[str, tables.Table], first: str) -> list[tuple[str, tables.Table]]:
    return [(first, sheets[first])] + [(k, v) for k, v in sheets.items() if k != first]


out_option = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                          help="File for --output xlsx (default govcloud-PERIOD.xlsx).")


@report.command()
@period_option
@output_option("text", "json", "csv", "xlsx")
@out_option
@click.pass_context
def utilization(ctx: click.Context, period: str, output: str, out: Path | None) -> None:
    """Per department: allocated vCPU, RAM, disk, volumes, sites, backup GB, antivirus seats,
    and measured use, for one month (from the state store; no cloud needed).

    \b
    Example:
      govcloud usage collect --period 2026-10 && govcloud report utilization --period 2026-10
    """
    with engine.session(_root(ctx)) as s:
        if output == "xlsx":
            a = _all_sheets(s, period)
            _emit("utilization", output, out, period, _ordered(a["sheets"], "Utilization"),
                  None, "", list(a["ledger"].assumptions))
            return
        data = accounts.utilization(s.estate, s.store, period)
    header, rows = tables.utilization_table(data)
    in_use = sum(n for z in data["hosts_in_use"].values() for n in z.values())
    owned = sum(n for z in data["hosts_owned"].values() for n in z.values())
    short = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14]
    text = table([header[i] for i in short], [[_cell(r[i]) for i in short] for r in rows],
                 "llrrrrrrrrrrr")
    text += f"\n\n{len(rows)} departments on {in_use} of {owned} shared hosts ({period})."
    _emit("utilization", output, out, period, [("Utilization", (header, rows))],
          {"period": period, "departments": [r.as_dict() for r in data["rows"]],
           "hosts_in_use": data["hosts_in_use"], "hosts_owned": data["hosts_owned"]},
          text, [])


@report.command()
@period_option
@output_option("text", "json", "csv", "xlsx")
@out_option
@click.pass_context
def chargeback(ctx: click.Context, period: str, output: str, out: Path | None) -> None:
    """Each department's share of the platform's cost for one month, pool by pool, with idle
    capacity as its own line. Charges + idle = platform cost, to the fen.

    \b
    Example:
      govcloud report chargeback --period 2026-10 --output csv > chargeback-2026-10.csv
    """
    with engine.session(_root(ctx)) as s:
        if output == "xlsx":
            a = _all_sheets(s, period)
            _emit("chargeback", output, out, period, _ordered(a["sheets"], "Chargeback"),
                  None, "", list(a["ledger"].assumptions))
            return
        st = accounts.statement_for(s.estate, s.store, period)
        header, rows = tables.chargeback_table(s.estate, st)
    text = table(header, [[_cell(v) for v in r] for r in rows], "ll" + "r" * (len(header) - 2))
    status = f"closed {st.closed_at}" if st.closed_at else "open (prices may still change it)"
    text += (f"\n\nPeriod {period}, {status}. Pools: "
             + "; ".join(f"{p.name} split by {p.rule}" for p in st.pools)
             + f".\nCheck: charges {st.platform_cost - st.idle:,.2f} + idle {st.idle:,.2f} = "
             f"platform cost {st.platform_cost:,.2f}.")
    _emit("chargeback", output, out, period, [("Chargeback", (header, rows))], st.as_dict(),
          text, [])


@report.command()
@period_option
@output_option("text", "json", "csv", "xlsx")
@out_option
@click.option("--detail", is_flag=True, help="Also list every legacy cost line with the plan "
              "and price lines it came from.")
@click.pass_context
def savings(ctx: click.Context, period: str, output: str, out: Path | None,
            detail: bool) -> None:
    """What consolidation saved each department against running its own servers, with every
    figure traceable to a plan line and a price line, and the assumptions.

    \b
    Example:
      govcloud report savings --period 2026-10 --detail
    """
    with engine.session(_root(ctx)) as s:
        if output == "xlsx":
            a = _all_sheets(s, period)
            _emit("savings", output, out, period, _ordered(a["sheets"], "Savings"),
                  None, "", list(a["ledger"].assumptions))
            return
        led = accounts.savings_for(s.estate, s.store, period)
        header, rows = tables.savings_table(s.estate, led)
    text = table(header, [[_cell(v) for v in r] for r in rows], "llrrrrr")
    if detail:
        dh, drows = tables.savings_detail(led)
        text += "\n\n" + table(dh, [[_cell(v) for v in r] for r in drows], "llrll")
    text += (f"\n\nEstate saving {led.saving:,.2f} yuan a month, {led.saving * 12:,.2f} a year "
             f"({period}).\nAssumptions:\n" + "\n".join(f"  - {a}" for a in led.assumptions))
    _emit("savings", output, out, period, [("Savings", (header, rows))], led.as_dict(), text,
          list(led.assumptions))


@report.command("html")
@period_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML file to write (default govcloud-report-PERIOD.html).")
@click.pass_context
def html_report(ctx: click.Context, period: str, out: Path | None) -> None:
    """Write one self-contained HTML report with charts: cost per department, savings,
    utilization over time, hosts before and after.

    \b
    Example:
      govcloud report html --period 2026-10 --out report.html
    """
    from govcloud.reports.html import report as render

    with engine.session(_root(ctx)) as s:
        a = _all_sheets(s, period)
        hist = accounts.history(s.estate, s.store)
        page = render(s.estate, period, a["statement"], a["ledger"], a["util"], hist,
                      {"chargeback": a["sheets"]["Chargeback"],
                       "savings": a["sheets"]["Savings"],
                       "utilization": a["sheets"]["Utilization"],
                       "savings_detail": a["sheets"]["Savings sources"],
                       "cost_detail": a["sheets"]["Platform cost"]})
    path = out or Path(f"govcloud-report-{period}.html")
    write_bytes(path, page.encode("utf-8"))
    click.echo(f"Wrote {path}.")


@report.command()
@period_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default="open-data",
              show_default=True, help="Folder for the open-data files.")
@click.pass_context
def publish(ctx: click.Context, period: str, out: Path) -> None:
    """Write the open-data release of per-department spending and savings (CSV and JSON with
    a data dictionary), leaving out everything not meant for the public.

    \b
    Example:
      govcloud report publish --period 2026-10 --out open-data/
    """
    from govcloud.reports import publish as pub

    with engine.session(_root(ctx)) as s:
        st = accounts.statement_for(s.estate, s.store, period)
        led = accounts.savings_for(s.estate, s.store, period)
        files = [out / name for name in pub.release(s.estate, st, led)]
        for path, data in zip(files, pub.release(s.estate, st, led).values(), strict=True):
            write_bytes(path, data)
    for f in files:
        click.echo(f"Wrote {f}")
    if not st.closed_at:
        click.echo(f"Note: {period} is not closed; close it (govcloud statement close --period "
                   f"{period}) before publishing so the figures cannot change.", err=True)


@cli.group()
def statement() -> None:
    """Monthly statements: close a month so later price edits cannot change it.

    \b
    Example:
      govcloud statement close --period 2026-10
    """


@statement.command("close")
@period_option
@click.pass_context
def statement_close(ctx: click.Context, period: str) -> None:
    """Freeze the month's chargeback in the state store.

    \b
    Example:
      govcloud statement close --period 2026-10
    """
    with engine.session(_root(ctx)) as s:
        st = accounts.close(s.estate, s.store, period)
    click.echo(f"Closed {period}: platform cost {st.platform_cost:,.2f} yuan, charged "
               f"{st.platform_cost - st.idle:,.2f}, idle {st.idle:,.2f} (at {st.closed_at}).")


@cli.group("usage")
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
def usage_collect(ctx: click.Context, period: str, output: str) -> None:
    """Read allocations and measured use from the cloud into the state store for a month.

    \b
    Example:
      govcloud usage collect --period 2026-10
    """
    with engine.session(_root(ctx)) as s:
        result = accounts.collect(s.estate, s.store, s.driver, period)
    if output == "json":
        emit_json(result)
    else:
        click.echo(f"Recorded {result['records']} usage records for {result['departments']} "
                   f"departments in {period}; {result['hosts_in_use']} shared hosts in use "
                   f"(counted by the {result['hosts_source']}).")


@cli.command()
@click.option("--port", type=int, default=9464, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--interval", type=click.FloatRange(0, 86400), default=10.0, show_default=True,
              help="Rebuild the metrics at most once per this many seconds; scrapes in "
              "between get the last ones.")
@click.pass_context
def exporter(ctx: click.Context, port: int, host: str, interval: float) -> None:
    """Serve Prometheus metrics: per-department resources, quota, cost and savings, the last
    apply, drift and host utilization.

    Scrapes are answered from a snapshot rebuilt at most once per --interval, by one event
    loop with a cap on open connections; slow or half-open clients are dropped after a few
    seconds. A state store that cannot be read shows as govcloud_state_ok 0.

    \b
    Example:
      govcloud exporter --port 9464
    """
    from govcloud.runtime.exporter import serve

    click.echo(f"Serving metrics on http://{host}:{port}/metrics", err=True)
    serve(_root(ctx), host, port, interval)
