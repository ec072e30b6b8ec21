"""What several command modules share, defined once: the estate session of a command, the
``report`` group, and the options for a month and an output file.

``report`` holds the security report (services) and the finance reports (reports); both
modules import it from here, so neither depends on the other being loaded first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from govcloud.applying import engine
from govcloud.cli.app import cli
from govcloud.clock import clock
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month, Span

F = TypeVar("F", bound=Callable[..., Any])

report = click.Group("report", help="Reports per department: security findings, "
                     "utilization, chargeback, savings.\n\n\b\nExample:\n"
                     "  govcloud report security")
cli.add_command(report)


def root(ctx: click.Context) -> Path:
    """The estate folder given with -C/--estate (or the current folder)."""
    return ctx.find_root().obj or Path(".")


@contextmanager
def session(ctx: click.Context) -> Iterator[engine.EstateSession]:
    """The command's estate, opened with its state store and driver."""
    with engine.session(root(ctx)) as s:
        yield s


def _this_month() -> str:
    return str(Month.of(clock()))


def _month(ctx: click.Context, param: click.Parameter, value: str) -> Month:
    try:
        return Month.parse(value, f"--{param.name}")
    except GovcloudError as exc:
        raise click.BadParameter(exc.render()) from None


def period_option(f: F) -> F:
    """``--period`` as a :class:`Month`, parsed once here."""
    return click.option("--period", "-p", default=_this_month, show_default="this month",
                        callback=_month, help="Month, YYYY-MM (this month: month to date).")(f)


def out_option(f: F) -> F:
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="File for --output xlsx (default govcloud-PERIOD.xlsx).")(f)


def _optional_month(ctx: click.Context, param: click.Parameter, value: str | None
                    ) -> Month | None:
    return None if value is None else _month(ctx, param, value)


def span_options(f: F) -> F:
    """``--from``/``--to``: a range of months (``--to`` defaults to this month)."""
    f = click.option("--to", "to_month", callback=_optional_month, metavar="YYYY-MM",
                     help="Last month of a range (default: this month); months not begun "
                          "are shown as a forecast.")(f)
    return click.option("--from", "from_month", callback=_optional_month, metavar="YYYY-MM",
                        help="First month of a range: one column per month and the total, "
                             "e.g. --from 2026-01 for the year to date.")(f)


def span_of(ctx: click.Context, from_month: Month | None, to_month: Month | None
            ) -> Span | None:
    """The range --from/--to give, or None for --period's one month. --period beside them
    is refused by name; months not begun are the report's to forecast."""
    if from_month is None:
        if to_month is not None:
            raise click.BadParameter("--to needs --from", param_hint="--to")
        return None
    if ctx.get_parameter_source("period") is not click.core.ParameterSource.DEFAULT:
        raise click.BadParameter(f"--period {ctx.params['period']} and --from "
                                 f"{from_month} ask for different things — give one month "
                                 "with --period, or a range with --from/--to")
    try:
        return Span(from_month, to_month or Month.of(clock()))
    except GovcloudError as exc:
        raise click.BadParameter(exc.render()) from None
