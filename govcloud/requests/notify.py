"""E-mail about requests: to the people a request waits for, and to its requester once it is
decided (``notify:`` in govcloud.yaml; no SMTP host, no mail). A mail names the request, its
department, kind, reason, monthly cost and state, and who can act on it, with a link to the
portal: never a password, a token or a session. A failure to send never stops a request; it
is returned for the audit trail."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formataddr

from govcloud.access import users
from govcloud.core.approvals import Acting, Escalation
from govcloud.core.model import NotifySettings
from govcloud.requests import deciders
from govcloud.requests.records import Request
from govcloud.state.store import Store

STATE_WORDS = {"waiting": "等待您审批 / waiting for your approval",
               "approved": "已批准 / approved", "rejected": "已驳回 / rejected",
               "returned": "已退回 / sent back"}


def recipients(store: Store, request: Request) -> list[users.Person]:
    """Who hears of the request now: everyone who can take the step it waits for
    (``deciders``: the department's own approvers, or the next role up when only the
    requester could); once decided, its requester; nobody while it only waits to be
    written."""
    everyone = [p for p in users.people(store) if not p.disabled and p.email]
    if request.unwritten():
        return []
    takes = deciders.taker(store, request)
    if takes is None:
        return [p for p in everyone if p.name == request.requester]
    return [p for p in everyone if p.name in takes.names]


def message(settings: NotifySettings, request: Request, to: list[users.Person],
            overdue: str = "", takes: Acting | None = None) -> EmailMessage:
    """The mail about ``request``; ``overdue``: why it is escalated (then that is its
    state); ``takes``: who can take the step it waits for."""
    state = overdue or STATE_WORDS.get(request.state, request.state)
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(formataddr((p.name, p.email)) for p in to)
    msg["Subject"] = f"[govcloud] 申请 #{request.id} ({request.department}, {request.kind}): " \
                     f"{state}"
    link = f"{settings.portal_url.rstrip('/')}/departments/{request.department}/requests/" \
           f"{request.id}" if settings.portal_url else ""
    lines = [f"申请 Request #{request.id}", f"部门 Department: {request.department}",
             f"类型 Kind: {request.kind}", f"申请人 Requester: {request.requester}",
             f"原因 Reason: {request.payload.get('reason', '')}",
             f"每月费用 Monthly cost: {request.verdict.get('cost_delta', '')} 元/yuan",
             f"状态 State: {state}"]
    if takes is not None:
        lines.append(f"可审批 Who can act: {', '.join(takes.names) or '-'} ({takes.role})"
                     + (f": {takes.why}" if takes.why else ""))
    if request.note:
        lines.append(f"说明 Note: {request.note}")
    if link:
        lines.append(f"\n{link}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send(settings: NotifySettings, store: Store, request: Request) -> str:
    """Mail the people who should hear of the request now; "" or what went wrong."""
    if not settings.smtp_host:
        return ""
    to = recipients(store, request)
    takes = deciders.taker(store, request)
    return _deliver(settings, to, message(settings, request, to, takes=takes)) if to else ""


def send_escalation(settings: NotifySettings, store: Store, request: Request,
                    escalation: Escalation) -> tuple[list[str], str]:
    """Tell everyone of the role a request is escalated to (the department's own approvers)
    that it is overdue: the names mailed, and "" or what went wrong."""
    if not settings.smtp_host:
        return [], ""
    role = escalation.to
    to = [p for p in users.people(store) if not p.disabled and p.email and p.role == role
          and p.name != request.requester
          and (role != "approver" or p.department == request.department)]
    if not to:
        return [], ""
    why = (f"已超时 / overdue: 等待 {escalation.step} 审批已 {escalation.waited_days} 天 / "
           f"waiting {escalation.waited_days} days for {escalation.step} (rule "
           f"{escalation.rule}: {escalation.after_days} days)")
    problem = _deliver(settings, to, message(settings, request, to, why,
                                             deciders.taker(store, request)))
    return ([] if problem else [p.name for p in to]), problem


def _deliver(settings: NotifySettings, to: list[users.Person], msg: EmailMessage) -> str:
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.starttls:
                smtp.starttls()
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"e-mail to {', '.join(p.name for p in to)} failed: {exc}"[:300]
    return ""
