"""Keystone role assignments to portal roles (govcloud.core.grants): a table of cases, each
the grants a person holds and the role, department or refusal they sign in with."""

from __future__ import annotations

import pytest

from govcloud.core.grants import DEPARTMENT_ROLES, OVERSIGHT_ROLES, Grant, KeystoneSettings, decide

DEPARTMENTS = {"finance", "health", "police"}
DEFAULTS = KeystoneSettings()
CUSTOM = KeystoneSettings(department_roles={"dept-user": "member", "dept-head": "approver"},
                          oversight_roles={"billing": "finance", "ops": "operator"})


def g(role: str, department: str | None = None) -> Grant:
    return Grant(role, department)


CASES = [
    # id, grants, settings, role, department, words of the refusal
    ("member on own project", [g("member", "finance")], DEFAULTS, "member", "finance", ""),
    ("reader is a member", [g("reader", "health")], DEFAULTS, "member", "health", ""),
    ("approver outranks member", [g("member", "finance"), g("reader", "finance"),
                                  g("govcloud-approver", "finance")], DEFAULTS, "approver",
     "finance", ""),
    ("admin on the domain is operator", [g("admin"), g("member"), g("reader")], DEFAULTS,
     "operator", None, ""),
    ("finance role", [g("govcloud-finance")], DEFAULTS, "finance", None, ""),
    ("auditor role", [g("govcloud-auditor"), g("reader")], DEFAULTS, "auditor", None, ""),
    ("operator outranks finance and auditor",
     [g("govcloud-auditor"), g("govcloud-finance"), g("govcloud-operator")], DEFAULTS,
     "operator", None, ""),
    ("oversight outranks a department role", [g("member", "finance"), g("govcloud-finance")],
     DEFAULTS, "finance", None, ""),
    ("no grants", [], DEFAULTS, None, None, "holds no role"),
    ("unmapped roles only", [g("manager", "finance"), g("service"), g("reader")], DEFAULTS,
     None, None, "holds no role"),
    ("admin on a department project is a member (admin implies member)",
     [g("admin", "finance"), g("member", "finance"), g("reader", "finance")], DEFAULTS,
     "member", "finance", ""),
    ("a department role on the domain gives nothing", [g("member"), g("govcloud-approver")],
     DEFAULTS, None, None, "holds no role"),
    ("an oversight role on a department project gives nothing",
     [g("govcloud-finance", "finance"), g("govcloud-operator", "health")], DEFAULTS, None,
     None, "holds no role"),
    ("a project of a department not in the estate", [g("member", "parks")], DEFAULTS, None,
     None, "holds no role"),
    ("two departments are refused", [g("member", "finance"), g("reader", "health")],
     DEFAULTS, None, None, "several departments (finance, health)"),
    ("member of one, approver of another", [g("member", "finance"),
                                            g("govcloud-approver", "police")],
     DEFAULTS, None, None, "several departments (finance, police)"),
    ("custom names", [g("dept-head", "police"), g("dept-user", "police")], CUSTOM,
     "approver", "police", ""),
    ("custom oversight", [g("billing")], CUSTOM, "finance", None, ""),
    ("defaults do not apply once replaced", [g("member", "finance"), g("admin")], CUSTOM,
     None, None, "holds no role"),
]


@pytest.mark.parametrize(("grants", "settings", "role", "department", "refusal"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_role_of_grants(grants: list[Grant], settings: KeystoneSettings, role: str | None,
                        department: str | None, refusal: str) -> None:
    decision = decide(grants, settings, DEPARTMENTS)
    assert (decision.role, decision.department) == (role, department)
    if refusal:
        assert refusal in decision.refusal and decision.fix, decision
    else:
        assert decision.refusal == "" and decision.fix == ""


def test_the_order_of_grants_does_not_matter() -> None:
    held = [g("member", "finance"), g("govcloud-approver", "finance"), g("reader", "finance")]
    assert {decide(order, DEFAULTS, DEPARTMENTS) for order in
            (held, held[::-1], held[1:] + held[:1])} == {decide(held, DEFAULTS, DEPARTMENTS)}


def test_the_documented_defaults() -> None:
    assert dict(DEPARTMENT_ROLES) == {"member": "member", "reader": "member",
                                      "govcloud-approver": "approver"}
    assert dict(OVERSIGHT_ROLES) == {"admin": "operator", "govcloud-operator": "operator",
                                     "govcloud-finance": "finance",
                                     "govcloud-auditor": "auditor"}
    assert KeystoneSettings().user_domain == "Default"
    assert KeystoneSettings().oversight_project == ""
