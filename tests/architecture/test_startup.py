"""A command line imports only what it uses (issue #24): ``govcloud --version`` and a shell
completion import no command module, and no command's ``--help`` imports an operation (the
engine, the store, the books, the requests' work, the services), YAML or SQLite. Checked on
what a real process has imported, not on how long it took (benchmarks/startup.py times it).
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from govcloud.cli import cli
from govcloud.cli.commands import COMMANDS
from tests.support.cli import _env

# What `govcloud --version` and a completion may import of govcloud.
BARE = {"govcloud", "govcloud.cli", "govcloud.cli.app", "govcloud.cli.commands",
        "govcloud.errors"}
# What every command's --help may import besides: the command modules (not cli/render, which
# renders the operations' results), the options' own values (a month, the roles, a request's
# states) and their packages.
HELP = BARE | {f"govcloud.cli.{m.split(':')[0].rsplit('.', 1)[1]}" for m in COMMANDS.values()} \
    | {"govcloud.cli.options", "govcloud.cli.output", "govcloud.clock", "govcloud.core",
       "govcloud.core.roles", "govcloud.finance", "govcloud.finance.period",
       "govcloud.requests", "govcloud.requests.records"}
HEAVY = ("yaml", "sqlite3", "jsonschema", "orjson", "openstack", "ansible_runner", "starlette")

RUN = """
import json, sys
from govcloud.cli import main
for args in json.loads(sys.argv[1]):
    try:
        main(args)
    except SystemExit:
        pass
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


def _imported(*command_lines: list[str], env: dict[str, str] | None = None) -> set[str]:
    """The modules one fresh process has imported after running these command lines."""
    proc = subprocess.run([sys.executable, "-c", RUN, json.dumps(command_lines)],
                          capture_output=True, text=True, timeout=120, env=_env(env),
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return set(json.loads(proc.stdout.rsplit("MODULES ", 1)[1]))


def _unexpected(modules: set[str], allowed: set[str]) -> list[str]:
    ours = {m for m in modules if m == "govcloud" or m.startswith("govcloud.")}
    return sorted(ours - allowed) + sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_version_imports_no_command_module() -> None:
    assert _unexpected(_imported(["--version"]), BARE) == []


@pytest.mark.parametrize("words", ["govcloud pl", "govcloud report ch", "govcloud "])
def test_completion_imports_only_what_it_completes(words: str) -> None:
    env = {"_GOVCLOUD_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    assert _unexpected(_imported([], env=env), HELP) == []


def test_no_command_help_imports_an_operation() -> None:
    """Every command's and group's --help, in one process: the union of their imports."""
    lines = [[name, "--help"] for name in COMMANDS] + [["--help"]]
    lines += [[name, sub, "--help"] for name in COMMANDS
              if isinstance(cmd := cli.commands[name], click.Group) for sub in cmd.commands]
    assert len(lines) > 60
    assert _unexpected(_imported(*lines), HELP) == []


def test_every_named_command_is_the_command_of_that_name() -> None:
    """``cli/commands.COMMANDS`` points at each command as it is named, in help order."""
    assert list(COMMANDS) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.commands[name]
        assert isinstance(command, click.Command) and command.name == name, name
    report = cli.commands["report"]
    assert isinstance(report, click.Group)
    assert {"security", "backup", "chargeback"} <= set(report.commands)
    for name in report.commands:
        assert report.commands[name].name == name


def test_the_backup_site_choice_is_the_services_own() -> None:
    """``backup verify --site`` names its choices without importing services/backup."""
    from govcloud.services import backup

    group = cli.commands["backup"]
    assert isinstance(group, click.Group)
    (site,) = [p for p in group.commands["verify"].params if p.name == "site"]
    assert isinstance(site.type, click.Choice)
    assert tuple(site.type.choices) == backup.SITE_CHOICES
