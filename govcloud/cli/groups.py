"""Command groups shared by several command modules, each defined once here.

``report`` holds the security report (services) and the finance reports (reports); both
modules import it from here, so neither depends on the other being loaded first.
"""

from __future__ import annotations

import click

from govcloud.cli import cli

report = click.Group("report", help="Reports per department: security findings, "
                     "utilization, chargeback, savings.\n\n\b\nExample:\n"
                     "  govcloud report security")
cli.add_command(report)
