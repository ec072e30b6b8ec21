"""The ``govcloud`` command: a thin shell over the engine.

Each command parses options, calls one engine function and renders the result. Errors from
the engine arrive as ``GovcloudError`` and are printed as one plain sentence with the fix;
anything else is an internal bug, reported with the path of a log holding the traceback.
"""

# Command modules register themselves on ``cli`` when imported.
from govcloud.cli import (
    audit,  # noqa: F401
    capacity,  # noqa: F401
    credentials,  # noqa: F401
    directory,  # noqa: F401
    onboarding,  # noqa: F401
    plan,  # noqa: F401
    reports,  # noqa: F401
    requests,  # noqa: F401
    serve,  # noqa: F401
    services,  # noqa: F401
    state,  # noqa: F401
    tokens,  # noqa: F401
    users,  # noqa: F401
)
from govcloud.cli.app import cli, main

__all__ = ["cli", "main"]
