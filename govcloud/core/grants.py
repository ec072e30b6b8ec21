"""Which govcloud role a Keystone user signs in to the portal with (pure).

With the openstack driver people sign in with their Keystone name and password; govcloud
keeps no password of theirs. What they may do follows from their Keystone role assignments
(groups and implied roles included), read as :class:`Grant` values by the driver:

- a role on a department's project (the project govcloud's openstack driver made for it,
  tagged ``gc-dept-<id>`` in the govcloud domain) maps through ``department_roles`` to a
  department role (member, approver) of that department;
- a role on the govcloud domain itself, or on the project named by ``oversight_project``,
  maps through ``oversight_roles`` to operator, finance or auditor.

An oversight role outranks a department role; among several, the one listed first in
``RANK`` wins. Department roles on more than one department's project are refused: a member
or approver belongs to one department. No mapped role at all is refused too, with the way
to get one. The defaults are in :data:`DEPARTMENT_ROLES` and :data:`OVERSIGHT_ROLES` and
are overridden by ``portal.keystone`` in govcloud.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from govcloud.core.roles import DEPARTMENT_ROLES as BOUND

# Keystone role on a department's project -> govcloud role.
DEPARTMENT_ROLES: Mapping[str, str] = {"member": "member", "reader": "member",
                                       "govcloud-approver": "approver"}
# Keystone role on the govcloud domain (or the oversight project) -> govcloud role.
OVERSIGHT_ROLES: Mapping[str, str] = {"admin": "operator", "govcloud-operator": "operator",
                                      "govcloud-finance": "finance",
                                      "govcloud-auditor": "auditor"}
# Which role wins when a person holds several.
RANK = ("operator", "finance", "auditor", "approver", "member")


@dataclass(frozen=True)
class KeystoneSettings:
    """The ``portal.keystone`` section of govcloud.yaml."""

    user_domain: str = "Default"  # the Keystone domain people's users live in
    oversight_project: str = ""  # "": oversight roles are read on the govcloud domain
    department_roles: Mapping[str, str] = field(default_factory=lambda: dict(DEPARTMENT_ROLES))
    oversight_roles: Mapping[str, str] = field(default_factory=lambda: dict(OVERSIGHT_ROLES))


@dataclass(frozen=True)
class Grant:
    """One Keystone role assignment of a person, as govcloud reads it: the role's name and
    the department whose project it is on (None: on the govcloud domain or the oversight
    project)."""

    role: str
    department: str | None = None


@dataclass(frozen=True)
class Identity:
    """A Keystone user whose name and password Keystone accepted, with their grants."""

    user_id: str
    name: str
    grants: tuple[Grant, ...]
    email: str = ""


@dataclass(frozen=True)
class Refused:
    """Keystone refused a name and password; ``known``: the name is a user of the domain
    (an unknown name is not recorded: people type their password there by mistake);
    ``name``: that user's name as Keystone spells it (Keystone may match names whatever
    their letter case, so the failure counts against the account, not the spelling)."""

    known: bool
    name: str = ""
    disabled: bool = False  # the user is disabled in Keystone (which refuses it any password)
    # Keystone took the password but asks this user for more (its own multi-factor rules:
    # a receipt and the missing methods), which the portal's form cannot give it
    more: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleDecision:
    """The govcloud role a person signs in with, or why they cannot (``refusal``)."""

    role: str | None
    department: str | None = None
    refusal: str = ""
    fix: str = ""
    subtree: str = ""  # the organisation whose subtree limits them ("": everything)


def decide(grants: Iterable[Grant], settings: KeystoneSettings,
           departments: Iterable[str]) -> RoleDecision:
    """The role of a person holding ``grants``, given the estate's ``departments``."""
    known = set(departments)
    held: dict[str, set[str | None]] = {}
    for g in grants:
        if g.department is None:
            role = settings.oversight_roles.get(g.role)
            if role is not None and role not in BOUND:
                held.setdefault(role, set()).add(None)
        elif g.department in known:
            role = settings.department_roles.get(g.role)
            if role is not None and role in BOUND:
                held.setdefault(role, set()).add(g.department)
    oversight = [r for r in RANK if r in held and r not in BOUND]
    if oversight:
        return RoleDecision(oversight[0])
    bound = {d for r in BOUND for d in held.get(r, set()) if d is not None}
    if len(bound) > 1:
        return RoleDecision(None, refusal="you hold roles on the projects of several departments "
                        f"({', '.join(sorted(bound))}); a member or approver belongs to one",
                        fix="ask the cloud's administrators to keep your role on one "
                        "department's project")
    if bound:
        department = bound.pop()
        role = next(r for r in RANK if department in held.get(r, set()))
        return RoleDecision(role, department)
    return RoleDecision(None, refusal="your Keystone account holds no role that gives access to "
                    "this portal",
                    fix="ask the cloud's administrators for a role on your department's "
                    "project (e.g. member)")
