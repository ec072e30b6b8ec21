"""Who can act on a request now, and its state as a person should read it. The step a request
waits for is taken by the people of its role (the department's own approvers), other than
the requester and whoever took an earlier step; when there is nobody, by the next role up
(``core.approvals.acting``). The people are the active accounts govcloud knows (local ones,
and Keystone people once they have signed in)."""

from __future__ import annotations

from govcloud.access import tokens, users
from govcloud.core.approvals import Acting, Holder, Tree, acting
from govcloud.estate import organisations

__all__ = ["Acting", "Holder", "holders", "shown_state", "taker"]
from govcloud.core.roles import with_article
from govcloud.requests.records import Request
from govcloud.state.store import Store


def holders(store: Store) -> list[Holder]:
    """Everyone who may take a step, by role."""
    return [Holder(p.name, p.role, p.department, p.subtree) for p in users.people(store)
            if not p.disabled]


def taker(store: Store, request: Request, people: list[Holder] | None = None
          ) -> Acting | None:
    """Who takes the step the request waits for; None when it waits for no step."""
    step = request.waiting_for()
    if step is None:
        return None
    # a token counts as its owner (separation of duties, access.tokens.principal)
    depth = request.verdict.get("chain", {}).get("levels", {})
    # the tree as recorded now: a request of a department moved meanwhile goes to its new
    # district's approver
    people = holders(store) if people is None else people
    tree = Tree(organisations.parents(store) if depth or any(h.subtree for h in people)
                else {}, depth)
    return acting(step, request.department, tokens.principal(store, request.requester),
                  [tokens.principal(store, a["by"]) for a in request.approvals], people, tree)


STAGES = {
    "approved": "approved: the plan file is changed; it still has to be applied (an "
                "operator's apply)",
    "applied": "applied; its services are not converged yet (govcloud services run)",
    "live": "live: applied and its services converged",
    "failed": "failed: the apply or its service run failed (the next apply tries again)",
}


def shown_state(request: Request, takes: Acting | None, brief: bool = False,
                stage: str | None = None) -> str:
    """The request's state in words: whom it waits for (``brief``: the role only), or that it
    is approved and waits to be written (and why), or where its life is (``stage``: approved
    and still to be applied, applied, live, failed), or its state."""
    if request.unwritten():
        return "approved, waiting to be written" + (
            f": {request.note}" if request.note and not brief else "")
    if takes is None:
        if request.state == "approved":
            shown = STAGES.get(stage or "approved", STAGES["approved"])
            return shown.split(":")[0].split(";")[0] if brief else shown
        return request.state
    if brief:
        return f"waiting for {takes.role}"
    return f"waiting for {with_article(takes.role)} ({', '.join(takes.names) or 'nobody'})" \
        + (f": {takes.why}" if takes.why else "")
