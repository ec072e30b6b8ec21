"""The ``govcloud`` click group and ``main()``, the entry point that keeps every traceback
from the user. The group's commands are named in ``cli/commands`` and each one's module is
imported only when that command runs (or its help is shown)."""


from __future__ import annotations

import errno
import gc
import sys
from pathlib import Path
from typing import NoReturn

import click

from govcloud import __version__
from govcloud.cli.commands import COMMANDS, Lazy
from govcloud.errors import GovcloudError, ValidationFailed


@click.group(commands=Lazy(COMMANDS),
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="govcloud")
@click.option("--estate", "-C", "estate", type=click.Path(file_okay=False, path_type=Path),
              default=".", show_default=True, envvar="GOVCLOUD_ESTATE",
              help="Estate folder (holds govcloud.yaml, plans/, policies/, inventories/).")
@click.pass_context
def cli(ctx: click.Context, estate: Path) -> None:
    """govcloud: department tenancy plans to a shared government cloud.

    \b
    Example:
      govcloud validate && govcloud plan && govcloud apply --yes && govcloud show
    """
    ctx.obj = estate


def _estate_of(argv: list[str] | None) -> Path | None:
    """The estate folder a command line names (for the crash log), without running it."""
    try:
        args = sys.argv[1:] if argv is None else argv
        ctx = cli.make_context("govcloud", list(args), resilient_parsing=True)
        return Path(ctx.params.get("estate") or ".")
    except Exception:  # noqa: BLE001 - only a hint for where to write the log
        return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: no traceback ever reaches the user."""
    # A command is one short process that builds large, acyclic data (plans, resources, their
    # JSON): the cyclic collector's passes over it find nothing to free, so they run rarely.
    gc.set_threshold(100_000, 50, 100)
    try:
        rc = cli.main(args=argv, prog_name="govcloud", standalone_mode=False)
    except ValidationFailed as exc:
        click.echo(exc.render(), err=True)
        click.echo("Error: the estate does not validate; nothing was done — fix the errors "
                   "above (govcloud validate lists them)", err=True)
        sys.exit(1)
    except GovcloudError as exc:
        click.echo(f"Error: {exc.render()}", err=True)
        sys.exit(1)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click's wrapping of Ctrl-C
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except OSError as exc:
        said = _disk_said(exc)
        if said is None:
            _crashed(exc, argv)
        click.echo(f"Error: {said}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        _crashed(exc, argv)
    sys.exit(rc if isinstance(rc, int) else 0)


def _crashed(exc: BaseException, argv: list[str] | None) -> NoReturn:
    from govcloud.state import crashlog

    log = crashlog.write(exc, _estate_of(argv))
    where = f"the details are in {log}. Please report it with that file" if log else \
        "no log could be written (set GOVCLOUD_LOG_DIR to a writable folder)"
    click.echo(f"Internal error: {exc!r}. This is a bug in govcloud; {where}.", err=True)
    sys.exit(70)


# A file or folder the system would not let govcloud write is the machine's problem, not a
# bug: said with the file and the fix (exit 1), whichever command met it.
_DISK = {
    errno.EROFS: "is on a read-only file system",
    errno.ENOSPC: "could not be written: the disk is full",
    errno.EDQUOT: "could not be written: the disk quota is used up",
    errno.EACCES: "may not be written by this user",
    errno.EPERM: "may not be written by this user",
}
_DISK_FIX = {
    errno.EROFS: "remount it read-write (or copy the estate to a writable disk) and run the "
                 "command again",
    errno.ENOSPC: "free space on that disk and run the command again",
    errno.EDQUOT: "free space within the quota and run the command again",
    errno.EACCES: "give the user running govcloud write access to it and run the command again",
    errno.EPERM: "give the user running govcloud write access to it and run the command again",
}


def _disk_said(exc: OSError) -> str | None:
    """One sentence for an OSError of the disk (read-only, full, not permitted) that names
    the file and the fix; None for any other (a bug, reported as one)."""
    if exc.errno not in _DISK or not exc.filename:
        return None
    return f"{exc.filename} {_DISK[exc.errno]} ({exc.strerror}) — {_DISK_FIX[exc.errno]}"
