"""The portal's one route table: every page, form, download and API endpoint, with the roles
allowed to use it and whether it is department-scoped. The application is built from this
table (``app.py``), so is its OpenAPI description (``openapi.py``) and so is the
authorization-matrix test: a route that is not here does not exist, and a new one is in the
test the moment it is added.

Department-scoped means the path names a department (``{department}``): members and approvers
reach only their own; operators, finance and auditors reach every one, or, scoped to an
organisation (``core.hierarchy``), every one under it (so does a district's approver).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from govcloud.core.roles import DEPARTMENT_ROLES, ROLES

Kind = Literal["page", "form", "download", "api", "asset"]
EVERYONE = frozenset(ROLES)
PUBLIC: frozenset[str] = frozenset()  # no sign-in needed
OVERSIGHT = frozenset({"operator", "finance", "auditor"})
FILERS = frozenset({"member", "approver", "operator"})  # who files requests
DECIDERS = frozenset({"approver", "finance", "operator"})  # who approves or rejects them
CLOSERS = frozenset({"finance"})  # who closes a month
COMMENTERS = FILERS | DECIDERS  # who comments on a request (an auditor reads)
LIST_QUERY = ("q", "page")  # a list's search and page (views.paging)
REQUEST_QUERY = ("q", "state", "page")
AUDIT_QUERY = ("action", "department", "person", "from", "to", "q", "sign_ins", "page")


@dataclass(frozen=True)
class Route:
    path: str
    name: str  # also its view's name in ``views.registry.VIEWS`` and its page's template
    kind: Kind
    roles: frozenset[str]
    summary: str
    method: str = "GET"
    scoped: bool = False
    query: tuple[str, ...] = ()  # the query string's parameters it reads (e.g. period)
    whole: bool = False  # acts on the whole estate: never for a person scoped to a subtree

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def takes_tokens(self) -> bool:
        """Whether a program may call it with an API token instead of the session cookie
        (then without a CSRF token): the API's routes that need a sign-in."""
        return self.kind == "api" and not self.public


ROUTES: tuple[Route, ...] = (
    Route("/login", "login_form", "page", PUBLIC, "The sign-in form."),
    Route("/login", "login", "form", PUBLIC, "Sign in with a user name and password.",
          method="POST"),
    Route("/login/second-factor", "second_factor_form", "page", EVERYONE,
          "After the password, for the roles in portal.second_factor: enrol a second factor "
          "(its secret shown until it is confirmed), or give its code."),
    Route("/login/second-factor", "second_factor", "form", EVERYONE,
          "Give the second factor's code (or a recovery code); enrolling, the first code "
          "confirms it and the recovery codes are shown once.", method="POST"),
    Route("/static/portal.css", "stylesheet", "asset", PUBLIC, "The portal's style sheet."),
    Route("/api/openapi.json", "openapi", "api", PUBLIC,
          "This API's OpenAPI description."),
    Route("/logout", "logout", "form", EVERYONE, "Sign out.", method="POST"),
    Route("/", "home", "page", EVERYONE, "Where each role starts."),
    Route("/notices", "notices", "page", EVERYONE,
          "What happened to the requests of the person's department (or that they filed) "
          "since they last looked, and what waits for them."),
    Route("/departments", "departments", "page", EVERYONE,
          "The departments the signed-in person may see, a page at a time (?q= searches id "
          "and name, ?page=).", query=LIST_QUERY),
    Route("/departments.csv", "departments_csv", "download", EVERYONE,
          "The departments the signed-in person may see that match ?q=, as CSV.",
          query=("q",)),
    Route("/departments/{department}", "department", "page", EVERYONE,
          "A department: its servers, sites, quota against use, this month's bill, the last "
          "twelve months' bills, its backup drills and antivirus findings.", scoped=True),
    Route("/departments/{department}/statements/{period}.html", "department_statement",
          "download", EVERYONE, "A department's printable statement of a month (govcloud "
          "report statement), opened in the browser.", scoped=True),
    Route("/departments/{department}/bill.csv", "department_bill_csv", "download", EVERYONE,
          "A department's bill of this month, pool by pool, as CSV.", scoped=True),
    Route("/estate", "estate", "page", OVERSIGHT,
          "The estate: departments, servers, sites, hosts in use, the last apply."),
    Route("/operations", "operations", "page", frozenset({"operator", "auditor"}),
          "The recent applies, drift (the cloud against the last apply) and the hosts the "
          "estate needs."),
    Route("/operations/apply", "apply_review", "page", frozenset({"operator"}),
          "The plan of the whole estate (as govcloud plan shows it), to confirm and apply.",
          whole=True),
    Route("/operations/apply", "apply_start", "form", frozenset({"operator"}),
          "Apply the plan confirmed on the page (refused if it has changed since, or while "
          "another apply holds the lock).", method="POST", whole=True),
    Route("/operations/apply/progress", "apply_progress", "page",
          frozenset({"operator", "auditor"}),
          "The newest apply's journal as it happens (the page refreshes until it is done); "
          "?apply=ID: that apply's (a request's life links to it).", query=("apply",)),
    Route("/finance/savings", "savings", "page", OVERSIGHT,
          "What consolidation saved each department in a month (?period=YYYY-MM, this month "
          "without it).", query=("period",)),
    Route("/finance/unit-costs", "unit_costs", "page", OVERSIGHT,
          "A month's unit costs (?period=YYYY-MM): what each billed item costs the platform "
          "per unit, idle capacity included, against what departments pay.",
          query=("period",)),
    Route("/finance/chargeback", "chargeback", "page", OVERSIGHT,
          "A month's chargeback (?period=YYYY-MM, this month without it; a closed month's "
          "as frozen): every department's share of the platform's cost.",
          query=("period",)),
    Route("/finance/chargeback.csv", "chargeback_csv", "download", OVERSIGHT,
          "This month's chargeback as CSV."),
    Route("/finance/chargeback.xlsx", "chargeback_xlsx", "download", OVERSIGHT,
          "This month's chargeback workbook (the sheets of govcloud report chargeback -o "
          "xlsx)."),
    Route("/finance/statements", "statements", "page", OVERSIGHT,
          "The monthly statements: every month's state (closed, open, month to date), who "
          "closed it and when, its figures and downloads."),
    Route("/finance/statements/{period}/chargeback.csv", "statement_csv", "download",
          OVERSIGHT, "A month's chargeback as CSV (frozen once the month is closed)."),
    Route("/finance/statements/{period}/chargeback.xlsx", "statement_xlsx", "download",
          OVERSIGHT, "A month's chargeback workbook (frozen once the month is closed)."),
    Route("/finance/statements/{period}/close", "statement_close_form", "page", CLOSERS,
          "What closing a month freezes, and the form that closes it.", whole=True),
    Route("/finance/statements/{period}/close", "statement_close", "form", CLOSERS,
          "Close a month (govcloud statement close), as the signed-in person.",
          method="POST", whole=True),
    Route("/operations/consolidation", "consolidation", "page",
          frozenset({"operator", "auditor"}),
          "The live migrations govcloud consolidate proposes (read only)."),
    Route("/audit", "audit", "page", frozenset({"auditor"}),
          "The audit trail, newest first, a page at a time, found by action, department, "
          "person (who did it), days (from, to: YYYY-MM-DD) and text (q); sign-ins only "
          "with sign_ins=1; and whether its chain is whole.", query=AUDIT_QUERY),
    Route("/audit.csv", "audit_csv", "download", frozenset({"auditor"}),
          "The audit records that match the same filters as the page, all of them, as CSV.",
          query=AUDIT_QUERY[:-1]),
    Route("/users", "users", "page", frozenset({"operator", "auditor"}),
          "The portal's accounts."),
    Route("/departments/{department}/requests", "requests", "page", EVERYONE,
          "A department's requests, newest first, a page at a time (?q= searches, ?state=).",
          scoped=True, query=REQUEST_QUERY),
    Route("/departments/{department}/requests.csv", "requests_csv", "download", EVERYONE,
          "A department's requests that match ?q= and ?state=, as CSV.", scoped=True,
          query=REQUEST_QUERY[:-1]),
    Route("/departments/{department}/requests/new", "request_form", "page", FILERS,
          "The kinds of request to choose from; with ?kind= that kind's form, filled with "
          "the department's current settings.", scoped=True, query=("kind",)),
    Route("/departments/{department}/requests/check", "request_check", "form", FILERS,
          "A request's verdict before it is filed.", method="POST", scoped=True),
    Route("/departments/{department}/requests", "request_file", "form", FILERS,
          "File a request (only a valid one is filed).", method="POST", scoped=True),
    Route("/departments/{department}/requests/{number}", "request", "page", EVERYONE,
          "One request: what was asked, its verdict, approvals and state, its life and "
          "comments.", scoped=True, query=("done",)),
    Route("/departments/{department}/requests/{number}/withdraw", "request_withdraw", "form",
          FILERS, "Withdraw one's own request while it waits.", method="POST", scoped=True),
    Route("/departments/{department}/requests/{number}/resubmit", "request_resubmit", "form",
          FILERS, "File one's own request again, edited, after it was sent back.",
          method="POST", scoped=True),
    Route("/departments/{department}/requests/{number}/comment", "request_comment", "form",
          COMMENTERS, "Add to a request's comment thread.", method="POST", scoped=True),
    Route("/departments/{department}/requests/{number}/approve", "request_approve", "form",
          DECIDERS, "Approve the stage a request waits for.", method="POST", scoped=True),
    Route("/departments/{department}/requests/{number}/reject", "request_reject", "form",
          DECIDERS, "Reject a request, or send it back, with a reason.", method="POST",
          scoped=True),
    Route("/requests", "queue", "page", frozenset({"operator", "finance", "approver",
                                                   "auditor"}),
          "The requests waiting for the signed-in person's role, a page at a time (?q=).",
          query=LIST_QUERY),
    Route("/requests.csv", "queue_csv", "download", frozenset({"operator", "finance",
                                                               "approver", "auditor"}),
          "The requests waiting for the signed-in person's role that match ?q=, as CSV.",
          query=("q",)),
    Route("/sessions", "sessions", "page", EVERYONE,
          "The signed-in person's live sessions (an operator's: everyone's), each with an "
          "End button."),
    Route("/sessions/{handle}/end", "session_end", "form", EVERYONE,
          "End a session: one's own; an operator's, anyone's.", method="POST"),
    Route("/api/me", "me", "api", EVERYONE, "The signed-in person: name, role, department."),
    Route("/api/sessions", "sessions", "api", EVERYONE,
          "The signed-in person's live sessions (an operator's: everyone's)."),
    Route("/api/sessions/{handle}/end", "session_end", "api", EVERYONE,
          "End a session: one's own; an operator's, anyone's.", method="POST"),
    Route("/api/notices", "notices", "api", EVERYONE,
          "What happened to the caller's department's requests since they last looked, and "
          "what waits for them."),
    Route("/api/departments", "departments", "api", EVERYONE,
          "The departments the caller may see, a page at a time (?q=, ?page=).",
          query=LIST_QUERY),
    Route("/api/departments/{department}", "department", "api", EVERYONE,
          "A department: servers, sites, quota against use, this month's bill.", scoped=True),
    Route("/api/estate", "estate", "api", OVERSIGHT, "The estate overview."),
    Route("/api/operations", "operations", "api", frozenset({"operator", "auditor"}),
          "The recent applies, drift and capacity."),
    Route("/api/operations/plan", "apply_review", "api", frozenset({"operator"}),
          "The plan of the whole estate and its digest (to pass to POST /api/operations/apply).",
          whole=True),
    Route("/api/operations/apply", "apply_start", "api", frozenset({"operator"}),
          "Apply the plan whose digest is sent ({\"digest\": …}); 409 if the plan has changed "
          "or another apply holds the lock.", method="POST", whole=True),
    Route("/api/operations/apply", "apply_progress", "api", frozenset({"operator", "auditor"}),
          "The newest apply (?apply=ID: that one): its record, journal steps so far, whether "
          "it still runs.", query=("apply",)),
    Route("/api/finance/savings", "savings", "api", OVERSIGHT,
          "A month's savings (?period=YYYY-MM, this month without it), as govcloud report "
          "savings -o json prints it.", query=("period",)),
    Route("/api/finance/unit-costs", "unit_costs", "api", OVERSIGHT,
          "A month's unit costs (?period=YYYY-MM), as govcloud report unit-costs -o json "
          "prints it.", query=("period",)),
    Route("/api/finance/chargeback", "chargeback", "api", OVERSIGHT,
          "A month's chargeback (?period=YYYY-MM, this month without it), as govcloud "
          "report chargeback -o json prints it.", query=("period",)),
    Route("/api/finance/statements", "statements", "api", OVERSIGHT,
          "The monthly statements: state, who closed each and when, figures."),
    Route("/api/finance/statements/{period}/close", "statement_close", "api", CLOSERS,
          "Close a month (govcloud statement close), as the caller.", method="POST",
          whole=True),
    Route("/api/operations/consolidation", "consolidation", "api",
          frozenset({"operator", "auditor"}),
          "The consolidation proposal, as govcloud consolidate -o json prints it."),
    Route("/api/audit", "audit", "api", frozenset({"auditor"}),
          "The audit records, newest first, a page at a time, found as on the audit page "
          "(action, department, person, from, to, q, sign_ins, page), and whether the "
          "chain is whole.", query=AUDIT_QUERY),
    Route("/api/users", "users", "api", frozenset({"operator", "auditor"}),
          "The portal's accounts."),
    Route("/api/departments/{department}/requests", "requests", "api", EVERYONE,
          "A department's requests, a page at a time (?q=, ?state=, ?page=).", scoped=True,
          query=REQUEST_QUERY),
    Route("/api/departments/{department}/requests/dry-run", "request_dry_run", "api", FILERS,
          "The whole verdict of a request (JSON body) without filing it: validation, the "
          "plan diff, the monthly cost delta, capacity and the approval chain.",
          method="POST", scoped=True),
    Route("/api/departments/{department}/requests", "request_file", "api", FILERS,
          "File a request (JSON body); 422 with field-level errors when it is invalid.",
          method="POST", scoped=True),
    Route("/api/departments/{department}/requests/{number}", "request", "api", EVERYONE,
          "One request.", scoped=True),
    Route("/api/departments/{department}/requests/{number}/approve", "request_approve", "api",
          DECIDERS, "Approve the stage a request waits for.", method="POST", scoped=True),
    Route("/api/departments/{department}/requests/{number}/reject", "request_reject", "api",
          DECIDERS, "Reject a request (send_back: true to send it back), with a reason.",
          method="POST", scoped=True),
    Route("/api/departments/{department}/requests/{number}/withdraw", "request_withdraw",
          "api", FILERS, "Withdraw one's own waiting request (reason: optional).",
          method="POST", scoped=True),
    Route("/api/departments/{department}/requests/{number}/resubmit", "request_resubmit",
          "api", FILERS, "File one's own request again after a send-back (JSON body: the "
          "whole request, edited).", method="POST", scoped=True),
    Route("/api/departments/{department}/requests/{number}/comment", "request_comment",
          "api", COMMENTERS, "Add to a request's comment thread (text).", method="POST",
          scoped=True),
)


def allowed(route: Route, role: str, own: str | None, department: str | None,
            reach: Collection[str] | None = None) -> bool:
    """May a person with ``role`` (of department ``own``; limited to the departments in
    ``reach`` when they are scoped to an organisation, None: not scoped) use ``route`` on
    ``department`` (the path's department, if it names one)?"""
    if route.public:
        return True
    if role not in route.roles:
        return False
    if reach is not None and route.whole:
        return False  # the whole estate's apply or month: not a subtree's to act on
    if not route.scoped:
        return True
    if reach is not None:
        return department is not None and department in reach
    if role in DEPARTMENT_ROLES:
        return department is not None and department == own
    return True
