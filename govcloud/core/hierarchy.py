"""Subtrees of the organisation tree (pure): which departments a person scoped to an
organisation reaches, and which organisation is a department's ancestor at a level.

The tree is each organisation's parent's code, as the directory sync recorded it
(``estate.organisations.parents``: code → parent, "" at the top). A person's scope is one
organisation: that organisation and everything under it. No scope ("") is the whole estate.
A department the tree does not know is under no organisation but the top: only an unscoped
person (or one scoped to the department itself) reaches it. A loop of parents ends where it
would repeat.

Levels are counted from the top: a city at 0, its districts at 1, their departments at 2.
``directory.levels`` in govcloud.yaml names them (default ``city``, ``district``), so an
approval rule can say ``approver@district``: the approver scoped to the department's
ancestor at level 1 signs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Parents = Mapping[str, str]  # organisation code → its parent's code ("": the top)
LEVELS = ("city", "district")  # the default names of the levels, from the top


def chain(code: str, parents: Parents) -> tuple[str, ...]:
    """``code`` and its ancestors, nearest first, up to the top."""
    out = [code]
    seen = {code}
    up = parents.get(code, "")
    while up and up not in seen:
        out.append(up)
        seen.add(up)
        up = parents.get(up, "")
    return tuple(out)


def inside(department: str, scope: str, parents: Parents) -> bool:
    """Whether ``department`` is in the subtree of ``scope`` ("" : everything)."""
    return not scope or scope in chain(department, parents)


def reach(scope: str, departments: Iterable[str], parents: Parents) -> frozenset[str] | None:
    """The departments a person scoped to ``scope`` reaches; None: unscoped, every one."""
    if not scope:
        return None
    return frozenset(d for d in departments if inside(d, scope, parents))


def at_level(department: str, level: int, parents: Parents) -> str:
    """The organisation at ``level`` (0: the top) above or at ``department``; "" when the
    department's chain is not that deep."""
    path = chain(department, parents)[::-1]  # from the top down
    return path[level] if 0 <= level < len(path) else ""
