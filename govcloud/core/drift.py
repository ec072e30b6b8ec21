"""Drift: what changed in the cloud behind govcloud's back since the last apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from govcloud.core.desired import Resource
from govcloud.core.planning import diff_attrs


@dataclass(frozen=True)
class Drift:
    key: str
    department: str
    kind: str
    what: str  # changed | deleted | added
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "department": self.department, "kind": self.kind,
                "what": self.what, "detail": self.detail}


def find_drift(actual: list[Resource], applied: Mapping[str, Resource],
               desired: Mapping[str, Resource]) -> list[Drift]:
    """Out-of-band changes: the cloud against the last applied state (and the plans). Each
    applied resource is looked up once (``applied`` may decode it when asked)."""
    out: list[Drift] = []
    seen = set()
    for res in actual:
        seen.add(res.key)
        before = applied.get(res.key)
        if before is None:
            where = "in a plan" if res.key in desired else "in no plan"
            out.append(Drift(res.key, res.department, res.kind, "added",
                             f"exists in the cloud but govcloud never applied it ({where})"))
            continue
        delta = diff_attrs(res.attrs, before.attrs)
        if delta or res.protected != before.protected:
            shown = ", ".join(f"{k}: applied {b!r}, cloud has {a!r}"
                              for k, (a, b) in sorted(delta.items()))
            out.append(Drift(res.key, res.department, res.kind, "changed",
                             shown or "protection flag changed"))
    for key in applied:
        if key not in seen:
            before = applied[key]
            out.append(Drift(key, before.department, before.kind, "deleted",
                             "applied by govcloud, now missing from the cloud"))
    out.sort(key=lambda d: (d.department, d.key))
    return out
