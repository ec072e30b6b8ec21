"""What several command modules share, defined once: the estate session of a command, the
``report`` group, and the options for a month and an output file.

``report`` holds the security report (services) and the finance reports (reports); both
modules import it from here, so neither depends on the other being loaded first.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from govcloud.cli import cli
from govcloud.finance.pricebook import check_period
from govcloud.runtime import engine

F = TypeVar("F", bound=Callable[..., Any])

report = click.Group("report", help="Reports per department: security findings, "
                     "utilization, chargeback, savings.\n\n\b\nExample:\n"
                     "  govcloud report security")
cli.add_command(report)


def root(ctx: click.Context) -> Path:
    """The estate folder given with -C/--estate (or the current folder)."""
    return ctx.find_root().obj or Path(".")


@contextmanager
def session(ctx: click.Context) -> Iterator[engine.Session]:
    """The command's estate, opened with its state store and driver."""
    with engine.session(root(ctx)) as s:
        yield s


def _this_month() -> str:
    return datetime.date.today().strftime("%Y-%m")


def period_option(f: F) -> F:
    return click.option("--period", "-p", default=_this_month, show_default="this month",
                        callback=lambda ctx, param, v: check_period(v),
                        help="Month, YYYY-MM.")(f)


def out_option(f: F) -> F:
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="File for --output xlsx (default govcloud-PERIOD.xlsx).")(f)
