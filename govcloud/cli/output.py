"""Output formats shared by every command: text for people, json (and csv) for machines."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from govcloud.reports.views import Report

__all__ = ["csv_text", "emit_csv", "emit_json", "emit_report", "output_option", "table"]

F = TypeVar("F", bound=Callable[..., Any])


def output_option(*formats: str) -> Callable[[F], F]:
    """Add ``--output`` with the given formats (the first is the default)."""
    choices = formats or ("text", "json")
    return click.option("--output", "-o", "output", type=click.Choice(list(choices)),
                        default=choices[0], show_default=True,
                        help="Output format.")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A plain text table (``reports/text.table``, imported when a command prints one: the
    reports package imports the finance it renders)."""
    from govcloud.reports.text import table as text_table

    return text_table(header, rows, align)


def emit_json(data: Any) -> None:
    """JSON for machines, compact (orjson: a 2,000-department plan in a tenth of a second);
    indented only for a person at a terminal. ``data`` may hold ``jsontext.Lazy`` lists
    (``Plan.as_dict(lazy=True)``): they are made a chunk at a time as the text is."""
    from govcloud.core import jsontext

    out = sys.stdout
    parts = [jsontext.dumps(jsontext.whole(data), indent=True)] if out.isatty() else \
        jsontext.dumps_parts(data)
    # Written as it is: click.echo would scan the whole text for colour codes to strip.
    raw = getattr(out, "buffer", None)
    if raw is None:  # a text-only stream (an embedding program's)
        out.write(b"".join(parts).decode() + "\n")
        out.flush()
        return
    out.flush()
    for part in parts:  # one write() each: writelines() on a stream that copies what is
        raw.write(part)  # written (click's CliRunner) skips its write() and loses the text
    raw.write(b"\n")  # the line's end apart: copying the text to add it cost (#24)
    raw.flush()


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV starting with a UTF-8 BOM so Excel on Chinese Windows reads the names
    (csv.DictReader and pandas read it with encoding utf-8-sig)."""
    buf = io.StringIO("\ufeff")
    buf.seek(0, io.SEEK_END)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def emit_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """CSV on stdout (``csv_text``)."""
    click.echo(csv_text(header, rows), nl=False)


def emit_report(rep: Report, output: str, out: Path | None, workbook: Path) -> None:
    """A finance report in the format asked for: on standard output, or in the file ``out``
    when given (every format, written as every ``--out`` is: ``write_bytes``); an XLSX always
    goes to a file, ``out`` or else ``workbook``."""
    from govcloud.core import jsontext
    from govcloud.estate.files import write_bytes

    if output == "xlsx":
        from govcloud.reports.xlsx import workbook as render

        path = out or workbook
        write_bytes(path, render(list(rep.sheets.items()), list(rep.notes),
                                 active=next(iter(rep.sheets))))
        click.echo(f"Wrote {path} ({', '.join(rep.sheets)}).")
        return
    if out is None:
        if output == "json":
            emit_json(rep.data)
        elif output == "csv":
            emit_csv(*_csv_of(rep))
        else:
            click.echo(rep.text)
        return
    data = jsontext.dumps(rep.data) + b"\n" if output == "json" else \
        csv_text(*_csv_of(rep)).encode("utf-8") if output == "csv" else \
        (rep.text + "\n").encode("utf-8")
    write_bytes(out, data)
    click.echo(f"Wrote {out}.")


def _csv_of(rep: Report) -> tuple[Sequence[str], list[list[Any]]]:
    from govcloud.reports.text import csv_cell

    header, rows = rep.main
    return header, [[csv_cell(v) for v in r] for r in rows]
