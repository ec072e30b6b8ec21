"""The organisations, people and roles an LDAP directory holds, as govcloud reads them (pure).

The ``directory`` section of govcloud.yaml names the directory (``DirectorySettings``) and
which attributes hold what (the mappings). Its entries, read by ``access.directory``, come
here as values: an :class:`Organisation` (its stable code, name, cost centre and parent's
code: each keeps its parent, so the hierarchy can be followed up to the city) and a
:class:`Member` (a person and the groups they are in). :func:`plan_sync` compares the
directory's organisations with what govcloud recorded at the last sync and returns the
changes (add, rename, move, retire, return) and the entries it refuses, with why;
:func:`decide` gives a person their portal role from their groups (``core.grants``' rules,
as for Keystone).

One gate: an organisation's code becomes a department id only when it passes the same
rule validate applies to ``department.id`` (``patterns.fits(IDENT, …)``); its name and cost
centre likewise (``TEXT``, ``COST_CENTRE``). A department is an organisation with a cost
centre; one without (the city, a district) groups the organisations below it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from govcloud.core import grants
from govcloud.core.patterns import COST_CENTRE, HINTS, IDENT, TEXT, fits, shown
from govcloud.core.roles import DEPARTMENT_ROLES

# Group name (its cn) -> portal role: the defaults of directory.groups.roles.
GROUP_ROLES: Mapping[str, str] = {"govcloud-operators": "operator",
                                  "govcloud-finance": "finance",
                                  "govcloud-auditors": "auditor",
                                  "govcloud-approvers": "approver",
                                  "govcloud-members": "member"}
# Group name -> the role it gives limited to the person's own organisation and everything
# under it (core.hierarchy): a district's operators, its head, its finance officer, its
# auditor. The defaults of directory.groups.scoped_roles.
SCOPED_GROUP_ROLES: Mapping[str, str] = {"govcloud-org-operators": "operator",
                                         "govcloud-org-approvers": "approver",
                                         "govcloud-org-finance": "finance",
                                         "govcloud-org-auditors": "auditor"}
ROLES = ("operator", "finance", "auditor", "approver", "member")
MAX_NAME = 80  # the plan schema's longest department.name
LOOPBACK = ("localhost",)


@dataclass(frozen=True)
class OrganisationMapping:
    """Which entries are organisations and which of their attributes hold what."""

    object_class: str = "govcloudOrganisation"
    name: str = "ou"
    code: str = "govcloudCode"
    cost_centre: str = "govcloudCostCentre"
    parent: str = ""  # "": the entry above; else an attribute holding the parent's code


@dataclass(frozen=True)
class PeopleMapping:
    object_class: str = "inetOrgPerson"
    login: str = "uid"  # what people type to sign in
    name: str = "cn"
    email: str = "mail"
    organisation: str = "departmentNumber"  # holds the code of the person's organisation


@dataclass(frozen=True)
class GroupMapping:
    object_class: str = "groupOfNames"
    name: str = "cn"
    member: str = "member"  # holds the DN of each member
    roles: Mapping[str, str] = field(default_factory=lambda: dict(GROUP_ROLES))
    scoped_roles: Mapping[str, str] = field(default_factory=lambda: dict(SCOPED_GROUP_ROLES))


@dataclass(frozen=True)
class DirectorySettings:
    """The ``directory`` section of govcloud.yaml; ``url`` empty: no directory."""

    url: str = ""
    start_tls: bool = False
    ca_file: str = ""  # the CA that signed the directory's certificate ("": the system's)
    bind_dn: str = ""
    password_env: str = ""  # the environment variable holding the bind password
    password_file: str = ""  # or the file holding it (relative to the estate or absolute)
    organisations_base: str = ""
    people_base: str = ""
    groups_base: str = ""
    organisations: OrganisationMapping = OrganisationMapping()
    people: PeopleMapping = PeopleMapping()
    groups: GroupMapping = GroupMapping()
    reread_seconds: int = 60  # how often a signed-in person's groups are read again
    levels: tuple[str, ...] = ("city", "district")  # the levels' names, from the top
    timeout_seconds: int = 10

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def settings_from(data: Mapping[str, Any]) -> DirectorySettings:
    """The settings from the checked section (defaults filled in)."""
    if not data:
        return DirectorySettings()
    return DirectorySettings(**{
        **{k: v for k, v in data.items() if k not in ("organisations", "people", "groups",
                                                      "levels")},
        "levels": tuple(data.get("levels", ("city", "district"))),
        "organisations": OrganisationMapping(**data["organisations"]),
        "people": PeopleMapping(**data["people"]),
        "groups": GroupMapping(**data["groups"])})


def problems(data: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str, str]]:
    """What is wrong with a schema-valid ``directory`` section beyond its schema: (the key
    path under it, what, how to fix it)."""
    if not data or not data.get("url"):
        return []
    out: list[tuple[tuple[str, ...], str, str]] = []
    scheme, host = address(data["url"])[:2]
    if scheme == "ldaps" and data["start_tls"]:
        out.append((("start_tls",), "start_tls is on for an ldaps:// URL, which is TLS "
                    "from the start", "use ldap:// with start_tls: true, or ldaps:// alone"))
    if scheme == "ldap" and not data["start_tls"] and not _loopback(host):
        out.append((("url",), f"{data['url']} is plain LDAP without start_tls: people's "
                    "passwords would cross the network in clear",
                    "use ldaps://, or set start_tls: true"))
    if bool(data["password_env"]) == bool(data["password_file"]):
        out.append((("password_env",), "the bind password needs one source: password_env "
                    "or password_file (never the password itself in govcloud.yaml)",
                    "set password_env: GOVCLOUD_DIRECTORY_PASSWORD (an environment "
                    "variable) or password_file: a file outside git"))
    for key in ("bind_dn", "organisations_base", "people_base", "groups_base"):
        if not data[key]:
            out.append(((key,), f"{key} is empty", "name the DN, e.g. "
                        "ou=people,dc=qingdao,dc=gov,dc=cn"))
    return out


URL = re.compile(r"(ldaps?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?/?")


def address(url: str) -> tuple[str, str, int | None]:
    """The scheme, host and port (None: the scheme's) of a directory URL the schema took."""
    found = URL.fullmatch(url)
    if found is None:
        raise ValueError(f"not a directory URL: {url!r}")
    return found[1], found[2], int(found[3]) if found[3] else None


def _loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Organisation:
    """An organisation as the directory holds it: ``code`` its stable code (the department
    id), ``parent`` its parent's code ("" for the top), ``cost_centre`` "" unless it is a
    department, ``dn`` where it is in the directory."""

    code: str
    name: str
    parent: str
    cost_centre: str
    dn: str

    @property
    def department(self) -> bool:
        return bool(self.cost_centre)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Entry:
    """An organisation's entry as read: its DN, the DN above it, and its attributes' first
    values ("" when missing)."""

    dn: str
    above: str
    name: str
    code: str
    cost_centre: str
    parent_code: str = ""


@dataclass(frozen=True)
class Rejected:
    dn: str
    code: str
    why: str


def organisations(entries: Iterable[Entry], by_dn_parent: bool = True
                  ) -> tuple[list[Organisation], list[Rejected]]:
    """The organisations of the directory's entries, and those refused with why: a code
    that is no department id (the one gate validate applies), a code used twice, a name or
    cost centre a plan could not hold."""
    entries = list(entries)
    code_of = {dn_key(e.dn): e.code for e in entries}
    holders: dict[str, list[str]] = {}
    for e in entries:
        holders.setdefault(e.code, []).append(e.dn)
    found: list[Organisation] = []
    rejected: list[Rejected] = []
    for e in entries:
        why = _unfit(e)
        if not why and len(holders[e.code]) > 1:  # neither is taken: which is meant?
            others = "; ".join(d for d in holders[e.code] if d != e.dn)
            why = f"its code {e.code!r} is also the code of {others}"
        if why:
            rejected.append(Rejected(e.dn, e.code, why))
            continue
        parent = code_of.get(dn_key(e.above), "") if by_dn_parent else e.parent_code
        found.append(Organisation(e.code, e.name, parent, e.cost_centre, e.dn))
    found, looping = _without_loops(found)
    rejected += looping
    taken = {o.code for o in found}
    return [o if o.parent in taken or not o.parent else
            Organisation(o.code, o.name, "", o.cost_centre, o.dn) for o in found], rejected


def _without_loops(found: list[Organisation]) -> tuple[list[Organisation], list[Rejected]]:
    """``found`` without the organisations whose parents loop back to them (a parent
    attribute can say a is under b and b under a), each of those refused with its loop."""
    parent = {o.code: o.parent for o in found}
    looping: dict[str, list[str]] = {}
    for start in parent:
        path, code = [start], parent[start]
        while code in parent and code not in path:
            path.append(code)
            code = parent[code]
        if code in path:  # the walk came back: the nodes from there on are the loop
            loop = path[path.index(code):]
            for i, member in enumerate(loop):
                looping.setdefault(member, [*loop[i:], *loop[:i], member])
    refused = [Rejected(o.dn, o.code, f"its parents loop: {' → '.join(looping[o.code])}")
               for o in found if o.code in looping]
    return [o for o in found if o.code not in looping], refused


def _unfit(e: Entry) -> str:
    if not fits(IDENT, e.code):
        return f"its code {shown(e.code)!r} is not a department id: {HINTS[IDENT]}"
    if not e.name or len(e.name) > MAX_NAME or not fits(TEXT, e.name):
        return f"its name {shown(e.name)!r} cannot be a department's name: 1-{MAX_NAME} " \
            f"characters; {HINTS[TEXT]}"
    if e.cost_centre and not fits(COST_CENTRE, e.cost_centre):
        return f"its cost centre {shown(e.cost_centre)!r} is not one: {HINTS[COST_CENTRE]}"
    return ""


def dn_key(dn: str) -> str:
    """A DN compared as the directory does: RDNs without spaces around ',' and '=', in
    lower case (attribute names and most values are case-insensitive)."""
    return ",".join("=".join(p.strip() for p in rdn.split("=", 1))
                    for rdn in dn.split(",")).lower()


@dataclass(frozen=True)
class Known:
    """An organisation as govcloud recorded it at the last sync; ``left``: when it was
    found gone from the directory ("" while it is there)."""

    organisation: Organisation
    left: str = ""


@dataclass(frozen=True)
class Change:
    """One change of an organisation: ``action`` add, rename, move, retire or return."""

    action: str
    code: str
    before: Organisation | None
    after: Organisation | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "code": self.code, "reason": self.reason,
                "before": self.before.as_dict() if self.before else None,
                "after": self.after.as_dict() if self.after else None}


def plan_sync(found: Iterable[Organisation], known: Mapping[str, Known],
              held: Iterable[str] = ()) -> list[Change]:
    """What a sync changes: the directory's organisations (``found``) against govcloud's
    record of them (``known``, by code). A code is the identity: a new name under the same
    code is a rename, a new parent a move; a code no longer in the directory retires its
    organisation (flagged, nothing deleted) and one seen again returns. ``held``: codes
    still in the directory whose entries were refused (left as they are until fixed, not
    retired)."""
    held = set(held)
    out: list[Change] = []
    now = {o.code: o for o in found}
    for code, o in sorted(now.items()):
        was = known.get(code)
        if was is None:
            out.append(Change("add", code, None, o, "new in the directory"))
            continue
        b, first = was.organisation, len(out)
        if was.left:
            out.append(Change("return", code, b, o, f"back in the directory (left {was.left})"))
        if b.name != o.name:
            out.append(Change("rename", code, b, o, f"named {b.name!r}, now {o.name!r}"))
        if b.parent != o.parent:
            out.append(Change("move", code, b, o, f"under {b.parent or '(top)'!r}, now "
                              f"{o.parent or '(top)'!r}"))
        if b.cost_centre != o.cost_centre:
            out.append(Change("update", code, b, o, f"cost centre {b.cost_centre or '(none)'}"
                              f", now {o.cost_centre or '(none)'}"))
        elif b.dn != o.dn and len(out) == first:
            out.append(Change("update", code, b, o, "its entry moved in the directory"))
    for code, was in sorted(known.items()):
        if code not in now and code not in held and not was.left:
            out.append(Change("retire", code, was.organisation, None,
                              "no longer in the directory: flagged, its resources kept"))
    return out


@dataclass(frozen=True)
class Member:
    """A person in the directory: how they sign in (``login``), their entry's DN, display
    name, e-mail, the code of their organisation and the names of their groups."""

    login: str
    dn: str
    name: str
    email: str
    organisation: str
    groups: tuple[str, ...]


def decide(member: Member, settings: DirectorySettings, departments: Iterable[str],
           organisations: Iterable[str] = ()) -> grants.RoleDecision:
    """The portal role ``member``'s groups give them (``core.grants.decide``'s rules: an
    oversight role outranks a department role; a department role is in the person's own
    organisation, which must be a department of the estate). A group of
    ``groups.scoped_roles`` gives its role limited to the person's organisation's subtree;
    an unscoped oversight role outranks it, and it outranks a department role. The
    person's organisation must be one govcloud knows (``organisations``: the synced ones
    still in the directory, or a department): a scope govcloud cannot read is refused."""
    departments = set(departments)
    scoped = _scoped(member, settings, departments | set(organisations))
    if scoped is not None and not any(
            settings.groups.roles.get(g) in ROLES and settings.groups.roles.get(g)
            not in DEPARTMENT_ROLES for g in member.groups):
        return scoped
    held = []
    for group in member.groups:
        role = settings.groups.roles.get(group)
        if role is None:
            continue
        held.append(grants.Grant(role, member.organisation if role in DEPARTMENT_ROLES
                                 else None))
    rules = grants.KeystoneSettings(
        department_roles={r: r for r in DEPARTMENT_ROLES},
        oversight_roles={r: r for r in ROLES if r not in DEPARTMENT_ROLES})
    decision = grants.decide(held, rules, departments)
    if decision.role is None and not decision.refusal.startswith("you hold roles"):
        return grants.RoleDecision(
            None, refusal="your directory account is in no group that gives access to this "
            "portal, or your organisation has no department here",
            fix="ask the directory's administrators to add you to a govcloud group "
            f"({', '.join(sorted({*settings.groups.roles, *settings.groups.scoped_roles}))})"
            ", with your organisation's code")
    return decision


def _scoped(member: Member, settings: DirectorySettings, known: set[str]
            ) -> grants.RoleDecision | None:
    """The role a scoped group gives ``member``, limited to their organisation (the first
    of ``grants.RANK`` they hold); None: no scoped group, or no organisation to scope to; a
    refusal when their organisation is not one of ``known``."""
    held = {settings.groups.scoped_roles[g] for g in member.groups
            if g in settings.groups.scoped_roles}
    if not held or not member.organisation:
        return None
    if member.organisation not in known:
        return grants.RoleDecision(
            None, refusal=f"your organisation {member.organisation[:64]!r} (the directory's "
            f"{settings.people.organisation}) is not one govcloud knows",
            fix="ask an operator to run govcloud directory sync, or the directory's "
            "administrators to correct your organisation's code")
    role = next(r for r in grants.RANK if r in held)
    return grants.RoleDecision(role, None, subtree=member.organisation)
