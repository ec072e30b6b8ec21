"""Who may sign in to the portal and with what role: the roles, and the checks of a new
account's name, role, department and password (pure; the accounts live in the state store,
``govcloud.access.users``).

- operator: runs the estate, works the request queue, applies.
- member: a department's staff; reads their department and files requests for it.
- approver: a department's head; signs off their department's requests before operators see
  them.
- finance: every cost, statements, closing a month.
- auditor: reads everything, including the audit trail; changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Literal

Role = Literal["operator", "member", "approver", "finance", "auditor"]
ROLES: tuple[Role, ...] = ("operator", "member", "approver", "finance", "auditor")
# Roles bound to one department; the others see every department, or the subtree of the
# organisation they are scoped to (``core.hierarchy``). An approver is bound to a
# department or scoped to an organisation (a district's head); a member only to a department.
DEPARTMENT_ROLES = frozenset({"member", "approver"})
SCOPED_ROLES = frozenset({"operator", "approver", "finance", "auditor"})
NAME = re.compile(r"[a-z][a-z0-9._-]{1,62}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes any length; a cap keeps one sign-in cheap to refuse
# An API token (access/tokens) acts with its owner's role, reading only or also writing, and
# expires TOKEN_DAYS after it was made unless made for fewer.
SCOPES = ("read", "write")
TOKEN_DAYS = 90


EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+")


def check_account(name: str, role: str, department: str | None,
                  departments: frozenset[str] | set[str], email: str = "",
                  scope: str = "", organisations: Collection[str] = ()) -> list[str]:
    """Every problem with a new (or changed) account, each with its fix; empty: it is fine.
    ``scope``: the organisation whose subtree the account is limited to ("": everything),
    one of ``organisations`` (the synced organisations' codes) or ``departments``."""
    problems = []
    if email and not EMAIL.fullmatch(email):
        problems.append(f"{email[:80]!r} is not an e-mail address — e.g. 'li.wei@czj.gov.cn'")
    if not NAME.fullmatch(name):
        problems.append(f"user name {name!r} is not allowed — use 2 to 63 lowercase letters, "
                        "digits, '.', '_' or '-', starting with a letter, e.g. 'li.wei'")
    if role not in ROLES:
        problems.append(f"role {role!r} is unknown — one of: {', '.join(ROLES)}")
    elif scope:
        problems += _scope_problems(role, department, scope, departments, organisations)
    elif role in DEPARTMENT_ROLES:
        if not department:
            problems.append(f"{with_article(role)} belongs to one department — "
                            "give --department ID" + (" (or --scope ORG: an approver of "
                                                      "every department under it)"
                                                      if role in SCOPED_ROLES else ""))
        elif department not in departments:
            known = ", ".join(sorted(departments)[:8]) or "none yet"
            problems.append(f"department {department!r} is not in the estate — one of: "
                            f"{known}")
    elif department:
        problems.append(f"{with_article(role)} sees every department — leave out --department"
                        " (--scope ORG limits them to an organisation's subtree)")
    return problems


def _scope_problems(role: str, department: str | None, scope: str,
                    departments: Collection[str], organisations: Collection[str]
                    ) -> list[str]:
    if role not in SCOPED_ROLES:
        return [f"{with_article(role)} belongs to one department, not to an organisation's "
                "subtree — leave out --scope, give --department ID"]
    if department:
        return ["give --department or --scope, not both — --department binds an approver to "
                "one department, --scope ORG to every department under ORG"]
    if scope not in organisations and scope not in departments:
        known = ", ".join(sorted(organisations)[:8]) or "none synced yet"
        return [f"organisation {scope!r} is not known — one of: {known} (govcloud directory "
                "sync brings the directory's organisations in)"]
    return []


def with_article(role: str) -> str:
    """'a member', 'an operator'."""
    return ("an " if role[:1] in ("a", "e", "i", "o", "u") else "a ") + role


def check_password(name: str, password: str) -> list[str]:
    """Problems with a new password (length, not the user's name)."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"the password is shorter than {MIN_PASSWORD} characters — use a "
                        "longer passphrase")
    if len(password) > MAX_PASSWORD:
        problems.append(f"the password is longer than {MAX_PASSWORD} characters")
    if password.strip().lower() == name.lower() or name.lower() in password.lower():
        problems.append("the password contains the user name — choose another")
    if password != password.strip():
        problems.append("the password starts or ends with white space — remove it")
    return problems
