"""Where each command lives, so a command line imports only the module of the command it runs.

The ``govcloud`` group (and ``report``, whose commands live in two modules) holds its
commands as a ``Lazy`` mapping: every name is known at once (``--help`` and shell completion
list them), and a command's module is imported only when that command is looked up. This is
click's documented lazy-loading group, kept in ``Group.commands`` itself (click accepts any
mutable mapping there), so ``group.commands[name]`` still gives the command.

``govcloud --version`` imports no command module; ``govcloud plan`` imports ``cli/plan``
alone, and a command module imports the operations it calls inside the command
(``tests/architecture/test_startup.py`` holds both).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click

# name -> "module:attribute" of every command of the ``govcloud`` group, in help order.
COMMANDS = {
    "apply": "govcloud.cli.plan:apply",
    "audit": "govcloud.cli.audit:audit",
    "backup": "govcloud.cli.services:backup_group",
    "capacity": "govcloud.cli.capacity:capacity_command",
    "consolidate": "govcloud.cli.capacity:consolidate",
    "credentials": "govcloud.cli.credentials:credentials",
    "directory": "govcloud.cli.directory:directory",
    "drift": "govcloud.cli.plan:drift",
    "exporter": "govcloud.cli.reports:exporter",
    "history": "govcloud.cli.plan:history",
    "init": "govcloud.cli.onboarding:init",
    "inventory": "govcloud.cli.services:inventory",
    "new": "govcloud.cli.onboarding:new",
    "plan": "govcloud.cli.plan:plan",
    "report": "govcloud.cli.reports:report",
    "request": "govcloud.cli.requests:request_",
    "schema": "govcloud.cli.plan:schema",
    "serve": "govcloud.cli.serve:serve",
    "services": "govcloud.cli.services:services_group",
    "show": "govcloud.cli.plan:show",
    "state": "govcloud.cli.state:state",
    "statement": "govcloud.cli.reports:statement",
    "tokens": "govcloud.cli.tokens:tokens",
    "usage": "govcloud.cli.reports:usage_group",
    "users": "govcloud.cli.users:users",
    "validate": "govcloud.cli.plan:validate",
}


class Lazy(MutableMapping[str, click.Command]):
    """A group's commands by name: ``where`` names each one's ``module:attribute``, imported
    on first use; a command added later (``group.add_command``) is kept as it is."""

    def __init__(self, where: dict[str, str]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, _, attribute = self._where[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._where.setdefault(name, "")
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, name: object) -> bool:
        return name in self._where
