"""The views by route name (``routes.Route.name``): the one table the endpoints read to find
the data of a page or of its API twin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from govcloud.errors import GovcloudError
from govcloud.portal.context import Portal
from govcloud.portal.views import (
    applies,
    departments,
    finance,
    home,
    notices,
    operations,
    oversight,
    requests,
)

log = logging.getLogger(__name__)

VIEWS: dict[str, Callable[..., Any]] = {
    # home
    "me": home.me, "home": home.home, "sessions": home.sessions,
    "session_end": home.session_end, "notices": notices.notices,
    # departments
    "departments": departments.departments, "department": departments.department,
    "departments_csv": departments.departments_csv,
    "department_bill_csv": departments.department_bill_csv,
    "department_statement": departments.department_statement,
    # requests
    "requests": requests.requests, "request_form": requests.request_form,
    "request_check": requests.request_check, "request_dry_run": requests.request_dry_run,
    "request_file": requests.request_file, "request": requests.request,
    "request_approve": requests.request_approve, "request_reject": requests.request_reject,
    "request_withdraw": requests.request_withdraw,
    "request_resubmit": requests.request_resubmit,
    "request_comment": requests.request_comment,
    "queue": requests.queue, "requests_csv": requests.requests_csv,
    "queue_csv": requests.queue_csv,
    # finance
    "savings": finance.savings, "chargeback": finance.chargeback,
    "unit_costs": finance.unit_costs,
    "chargeback_csv": finance.chargeback_csv, "chargeback_xlsx": finance.chargeback_xlsx,
    "statements": finance.statements, "statement_csv": finance.statement_csv,
    "statement_xlsx": finance.statement_xlsx,
    "statement_close_form": finance.statement_close_form,
    "statement_close": finance.statement_close,
    # operations
    "estate": operations.estate, "operations": operations.operations,
    "consolidation": operations.consolidation,
    "apply_review": applies.apply_review, "apply_start": applies.apply_start,
    "apply_progress": applies.apply_progress,
    # oversight
    "audit": oversight.audit, "audit_csv": oversight.audit_csv, "users": oversight.users,
}


def warm(p: Portal) -> None:
    """The figures of the whole estate that the most used pages read, made as a worker starts
    (``govcloud serve``), so that its first requests do not wait for them: at a province's
    size they take tens of seconds (issue #24). What fails here is left to the pages, which
    say what is wrong: the portal starts all the same."""
    try:
        departments.warm(p)
        operations.warm(p)
    except GovcloudError as exc:
        log.warning("figures not made at start: %s", exc.render())
    except Exception:  # noqa: BLE001 - a bug: logged with its traceback, the pages show it
        log.exception("figures not made at start")
