"""A saved plan checked against the plan made now: apply refuses a file that differs from it.

A saved plan is data to check, not to trust (see ``core.planning``): :func:`check_saved`
refuses a plan file made against a cloud that has moved on, or from other plans, policies or
settings, or edited or damaged in any part, naming the first difference it finds.
"""

from __future__ import annotations

import json
from typing import Any

from govcloud.core import jsontext
from govcloud.core.planning import PLAN_FORMAT, Plan
from govcloud.errors import GovcloudError, PlanMismatch, StalePlan

# The order a saved plan's parts are compared in, so the first difference named is the one
# that explains the most: the cloud moved, the inputs changed, then the changes themselves.
_PARTS = ("format", "state_fingerprint", "inputs_fingerprint", "prune", "delete_unmanaged",
          "changes", "orphans",
          "unmanaged", "decisions", "catalogue", "warnings", "summary", "cost")
_MISSING = object()


def check_saved(saved: Any, fresh: Plan, name: str) -> None:
    """Refuse a saved plan (parsed JSON) unless it is exactly ``fresh``, the plan made now
    from the same cloud, plans, policies and settings; the error names the first difference.
    Applying ``fresh`` then does exactly what the saved file shows."""
    redo = "make a new plan with govcloud plan --out FILE and review it; nothing was applied"
    if not isinstance(saved, dict) or saved.get("format") != PLAN_FORMAT:
        raise GovcloudError(f"{name} is not a saved govcloud plan of format {PLAN_FORMAT}",
                            "save a plan with govcloud plan --out FILE")
    if saved.get("state_fingerprint") != fresh.state_fingerprint:
        raise StalePlan("the saved plan was made against a state that has changed since",
                        "run govcloud plan again and apply the new plan")
    if saved.get("inputs_fingerprint") != fresh.inputs_fingerprint:
        raise PlanMismatch(f"{name} was made from other plans, policies or settings than the "
                           "estate's current ones", redo)
    want = json.loads(jsontext.dumps(fresh.as_dict()))
    found = _first_difference(saved, want, _PARTS)
    if found is None and _canonical(saved) != _canonical(want):  # 1 for 1.0 or true
        found = _first_difference(saved, want, _PARTS, quick=False)
    if found is not None:
        where, have, should = found
        raise PlanMismatch(f"{name} differs from the plan the current plans, policies and "
                           f"cloud give, first at {_where(where, want)}: "
                           f"{_shown(have)} in the file, {_shown(should)} in a fresh plan "
                           "(the file was edited or damaged)", redo)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _first_difference(have: Any, want: Any, order: tuple[str, ...] = (), quick: bool = True
                      ) -> tuple[list[str | int], Any, Any] | None:
    """The path of the first place ``have`` and ``want`` differ, with both values there;
    None when they are the same. ``quick`` skips parts Python finds equal (it takes 1 for
    1.0 and true); without it types count too."""
    if quick and type(have) is type(want) and have == want:
        return None
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [], have, want
        keys = [k for k in order if k in want or k in have]
        keys += [k for k in want if k not in keys] + [k for k in have if k not in want and
                                                       k not in keys]
        for k in keys:
            found = _first_difference(have.get(k, _MISSING), want.get(k, _MISSING), (), quick)
            if found is not None:
                return [k, *found[0]], found[1], found[2]
        return None
    if isinstance(want, list):
        if not isinstance(have, list):
            return [], have, want
        for i in range(max(len(have), len(want))):
            found = _first_difference(have[i] if i < len(have) else _MISSING,
                                      want[i] if i < len(want) else _MISSING, (), quick)
            if found is not None:
                return [i, *found[0]], found[1], found[2]
        return None
    same = type(have) is type(want) and (have == want or have != have and want != want)
    return None if same else ([], have, want)


def _where(path: list[str | int], want: dict[str, Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    if len(path) > 1 and path[0] == "changes" and isinstance(path[1], int) and \
            path[1] < len(want["changes"]):
        text += f" (change of {want['changes'][path[1]]['key']})"
    return text


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
