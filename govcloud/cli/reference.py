"""The README's command table, rendered from the click commands themselves.

Every command (``govcloud --help`` order: sorted within each group) becomes one row: its path
with a summary of its arguments and options, and the first paragraph of its help. Options
that show a default list it there. A choice is written default first, so the README can say
"a choice lists its default first" and be right.

Run ``python3 -m govcloud.cli.reference`` in the repository root to rewrite the table between
``<!-- commands:start -->`` and ``<!-- commands:end -->`` in README.md; ``--check`` only
compares and exits 1 when the table is stale. ``tests/architecture/test_readme_reference.py``
runs the same comparison, so the table cannot drift from the code.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

from govcloud.cli.app import cli
from govcloud.errors import GovcloudError

START = "<!-- commands:start -->"
END = "<!-- commands:end -->"
FIX = "PYTHONPATH=$PWD python3 -m govcloud.cli.reference"
NOTE = (f"<!-- Generated from the commands' help by `{FIX}`: edit the help text, not this "
        "table. -->")
HEADER = ["command (a choice lists its default first)", "what it does"]


def commands(group: click.Group = cli, prefix: tuple[str, ...] = ("govcloud",)
             ) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command that runs something (not the groups), with its path, in help order."""
    ctx = click.Context(group, info_name=prefix[-1])
    out: list[tuple[tuple[str, ...], click.Command]] = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        if isinstance(cmd, click.Group):
            out += commands(cmd, (*prefix, name))
        else:
            out.append(((*prefix, name), cmd))
    return out


def _choices(param: click.Parameter) -> list[str]:
    assert isinstance(param.type, click.Choice)
    values = [str(c) for c in param.type.choices]
    default = param.default if not callable(param.default) else None
    if default is not None and str(default) in values:
        values.remove(str(default))
        values.insert(0, str(default))
    return values


def _metavar(param: click.Parameter) -> str:
    """The placeholder: the parameter's own metavar, a choice's values, FILE or DIR for an
    option's path, else the parameter's name (``--journal APPLY_ID``, ``PLAN_FILE``)."""
    if param.metavar:
        return param.metavar
    if isinstance(param.type, click.Choice):
        return "|".join(_choices(param))
    if isinstance(param, click.Option) and isinstance(param.type, click.Path):
        kind = param.type
        return "DIR" if not kind.file_okay else "FILE" if not kind.dir_okay else "PATH"
    return (param.name or "value").upper()


def _long(option: click.Option) -> str:
    return next((o for o in option.opts if o.startswith("--")), option.opts[0])


def usage(path: tuple[str, ...], cmd: click.Command) -> str:
    """``govcloud plan [--prune] [--out FILE] ...``: arguments and options, [optional]."""
    words = list(path)
    for param in cmd.params:
        if isinstance(param, click.Argument):
            word = _metavar(param) + ("..." if param.nargs == -1 else "")
            words.append(word if param.required else f"[{word}]")
        elif isinstance(param, click.Option) and not param.hidden:
            name = _long(param)
            if param.is_flag and not param.count:
                word = "/".join([name, *param.secondary_opts])
            else:
                word = f"{name} {_metavar(param)}"
            word = word if param.required else f"[{word}]"
            words.append(word + ("..." if param.multiple else ""))
    return " ".join(words)


def summary(cmd: click.Command) -> str:
    """The first paragraph of the command's help, on one line."""
    text = inspect.cleandoc(cmd.help or "").replace("\b\n", "")
    return " ".join(text.split("\n\n")[0].split())


def defaults(cmd: click.Command) -> list[str]:
    """``--port 9464`` for each option that shows its default (choices say it by order)."""
    out = []
    for p in cmd.params:
        if not isinstance(p, click.Option) or p.is_flag or isinstance(p.type, click.Choice):
            continue
        if isinstance(p.show_default, str):
            out.append(f"{_long(p)} {p.show_default}")
        elif p.show_default and p.default is not None and not callable(p.default):
            out.append(f"{_long(p)} {p.default}")
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table() -> str:
    """The Markdown table of every command."""
    lines = [f"| {' | '.join(HEADER)} |", "| --- | --- |"]
    for path, cmd in commands():
        what = summary(cmd)
        shown = defaults(cmd)
        if shown:
            what += " Defaults: " + ", ".join(f"`{d}`" for d in shown) + "."
        lines.append(f"| `{_cell(usage(path, cmd))}` | {_cell(what)} |")
    return "\n".join(lines)


def block() -> str:
    """What stands between the markers: the note, the table, blank lines around them."""
    return f"{START}\n{NOTE}\n\n{table()}\n\n{END}"


def replace_table(readme: str, where: str = "README.md") -> str:
    """``readme`` with the text between the markers replaced by the current table."""
    starts, ends = readme.count(START), readme.count(END)
    if starts != 1 or ends != 1 or readme.index(START) > readme.index(END):
        raise GovcloudError(f"{where} must hold {START} once, then {END} once (found "
                            f"{starts} and {ends})",
                            "put the two markers around the command table")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + block() + tail


@click.command()
@click.option("--readme", type=click.Path(dir_okay=False, path_type=Path),
              default="README.md", show_default=True, help="The file holding the markers.")
@click.option("--check", is_flag=True, help="Change nothing; exit 1 when the table is stale.")
def main(readme: Path, check: bool) -> None:
    """Render the command table into README.md between its marker comments.

    \b
    Example:
      PYTHONPATH=$PWD python3 -m govcloud.cli.reference --check
    """
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot read {readme}: {exc.strerror}; run this in the "
                                   "repository root or pass --readme PATH") from exc
    try:
        new = replace_table(text, str(readme))
    except GovcloudError as exc:
        raise click.ClickException(exc.render()) from exc
    if new == text:
        click.echo(f"{readme}: the command table is current.")
        return
    if check:
        click.echo(f"{readme}: the command table is stale; rewrite it with: {FIX}", err=True)
        sys.exit(1)
    readme.write_text(new, encoding="utf-8")
    click.echo(f"{readme}: rewrote the command table ({len(commands())} commands).")


if __name__ == "__main__":
    main()
