"""The ``govcloud`` command: a thin shell over the engine.

Each command parses options, calls one engine function and renders the result. Errors from
the engine arrive as ``GovcloudError`` and are printed as one plain sentence with the fix;
anything else is an internal bug, reported with the path of a log holding the traceback.
Each command's module is imported when that command runs (``cli/commands``), so a command
line pays only for what it uses.
"""

from govcloud.cli.app import cli, main

__all__ = ["cli", "main"]
