"""What several command modules share, defined once: the estate session of a command and
the options for a month and an output file. Light to import (a command's help imports it):
the engine is imported when a session opens."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from govcloud.clock import clock
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month, Span

if TYPE_CHECKING:
    from govcloud.applying import engine

F = TypeVar("F", bound=Callable[..., Any])


def root(ctx: click.Context) -> Path:
    """The estate folder given with -C/--estate (or the current folder)."""
    return ctx.find_root().obj or Path(".")


@contextmanager
def session(ctx: click.Context) -> Iterator[engine.EstateSession]:
    """The command's estate, opened with its state store and driver."""
    from govcloud.applying import engine

    with engine.session(root(ctx)) as s:
        yield s


class Whole(click.ParamType):  # type: ignore[type-arg]
    """A whole number from ``low`` to ``high``. Anything else is a GovcloudError (exit 1, one
    line naming the option, the value and the range), never an overflow further down (a
    port beyond 65535, a count beyond what SQLite holds)."""

    name = "integer"

    def __init__(self, low: int, high: int, what: str, more: str = "") -> None:
        self.low, self.high, self.what, self.more = low, high, what, more

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            number = int(text) if re.fullmatch(r"[+-]?[0-9]{1,30}", text) else None
        named = _named(param)
        if number is None or not self.low <= number <= self.high:
            said = f"{str(value)[:40]!r} is not a whole number" if number is None else \
                f"{number} is out of range"
            raise GovcloudError(f"{named} {said}", f"give {self.what} from {self.low:,} to "
                                f"{self.high:,}{self.more}")
        return number


def _named(param: click.Parameter | None) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return (param.human_readable_name if param else "the value").upper()


PORT = Whole(1, 65535, "a TCP port")
SQL_INTEGER = 2**63 - 1  # the largest number a SQLite or PostgreSQL row holds


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


def _out_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    if value is not None:
        from govcloud.estate.files import not_a_file

        not_a_file(value)  # before any work: the write checks again (estate/files)
    return value


def out_file(help_text: str) -> Callable[[F], F]:
    """``--out FILE``, as every command has it: written by ``estate/files.write_bytes`` (a
    regular file, created or replaced atomically); a link, named pipe, device, socket or
    folder there is refused before the command does anything, and left as it was."""
    return click.option("--out", type=click.Path(path_type=Path), callback=_out_file,
                        metavar="FILE", help=help_text)


def _out_folder(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    try:
        st = os.lstat(value)
    except FileNotFoundError:
        return value
    except OSError as exc:
        raise GovcloudError(f"cannot write into {value}: {exc.strerror}",
                            "choose a writable folder with --out") from exc
    if not stat.S_ISDIR(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
        raise GovcloudError(f"cannot write into {value}: it is {what}, and govcloud writes "
                            "a release only into a real folder (never through a link); it "
                            "was left as it was",
                            "give --out a folder's own path, or a new one")
    return value


def out_folder(default: str, help_text: str) -> Callable[[F], F]:
    """``--out FOLDER``: a folder of its own (never a link to one), made when missing; each
    file in it written as ``out_file``'s is."""
    return click.option("--out", type=click.Path(path_type=Path), default=default,
                        show_default=True, callback=_out_folder, metavar="DIR",
                        help=help_text)


out_option = out_file("Write the report to this file, in the --output format (default: "
                      "standard output; an xlsx to govcloud-PERIOD.xlsx).")


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
    now = Month.of(clock())
    try:
        span = Span(from_month, to_month or now)
    except GovcloudError as exc:
        raise click.BadParameter(exc.render()) from None
    furthest = _months_after(now, FORECAST_MONTHS)
    if span.last > furthest or _months_after(span.first, SPAN_MONTHS - 1) < span.last:
        raise GovcloudError(f"--from {span.first} --to {span.last} is further than a report "
                            f"reaches: at most {SPAN_MONTHS} months, forecast up to "
                            f"{FORECAST_MONTHS} months ahead",
                            f"give --to {furthest} at the latest, and --from no more than "
                            f"{SPAN_MONTHS} months before --to")
    return span


FORECAST_MONTHS = 60  # --to at most five years ahead of this month
SPAN_MONTHS = 120  # one report spans at most ten years


def _months_after(month: Month, n: int) -> Month:
    index = month.year * 12 + month.month - 1 + n
    return Month(index // 12, index % 12 + 1)
