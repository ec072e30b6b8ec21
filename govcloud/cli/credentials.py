"""Department-scoped cloud credentials for department IT staff."""

from __future__ import annotations

import click

from govcloud.cli.options import session
from govcloud.cli.output import emit_json, output_option
from govcloud.errors import GovcloudError


@click.group()
def credentials() -> None:
    """Cloud credentials for a department's IT staff (openstack driver).

    \b
    Example:
      govcloud credentials issue --department finance
    """


@credentials.command("issue")
@click.option("--department", "-d", required=True, help="Department id from its plan.")
@click.option("--days", default=90, show_default=True, type=click.IntRange(0, 3650),
              help="Days until the credential expires (0: never).")
@output_option("text", "json")
@click.pass_context
def issue(ctx: click.Context, department: str, days: int, output: str) -> None:
    """Create an application credential scoped to the department's project only.

    The secret is shown once, here, and stored nowhere: hand it to the department.

    \b
    Example:
      govcloud credentials issue --department finance --days 30
    """
    with session(ctx) as s:
        if department not in s.estate.plans:
            raise GovcloudError(f"no department '{department}' in plans/",
                                "use a department id from a tenancy plan")
        cred = s.driver.issue_credential(department, days or None)
    if output == "json":
        emit_json(cred)
        return
    click.echo(f"Application credential for department {department} (project "
               f"{cred['project_id']}), expires {cred['expires_at']}.")
    click.echo("Shown once; govcloud keeps no copy of the secret:")
    click.echo(f"  auth_type: v3applicationcredential\n  auth_url: {cred['auth_url']}\n"
               f"  application_credential_id: {cred['id']}\n"
               f"  application_credential_secret: {cred['secret']}")
