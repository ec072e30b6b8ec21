"""What a request's change does, read from the plans before and after it and from the changes
it makes, not from what the request is called: what it destroys, shrinks, weakens and exposes,
and how many running resources it touches (pure).

The approval rules read these as ``verdict.destroys``, ``verdict.shrinks``,
``verdict.weakens``, ``verdict.exposes`` (lists of sentences, empty when the change does none
of it), ``verdict.destroyed_gb`` and ``verdict.blast_radius``. A rule that approves at once
(``approve: auto``) must require the four lists to be empty (``required_empty``): a rule that
does not test them would let a request that deletes a database replica, cuts the backups or
publishes a site pass with nobody involved, whatever the request is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govcloud.core.expressions import _after_string as after_string
from govcloud.core.model import Flavor, ServerSpec, TenancyPlan, Website
from govcloud.core.planning import Change

EFFECTS = ("destroys", "shrinks", "weakens", "exposes")
# The conditions an auto rule may write for "effect X is empty", spaces left out.
EMPTY_FORMS = ("size(verdict.{0})==0", "verdict.{0}.size()==0", "verdict.{0}==[]",
               "0==size(verdict.{0})", "[]==verdict.{0}")
TOUCHING = ("update", "resize", "replace", "delete")


@dataclass(frozen=True)
class Effects:
    """What a change does to a department's running estate, in sentences a person reads."""

    destroys: tuple[str, ...] = ()
    destroyed_gb: int = 0
    shrinks: tuple[str, ...] = ()
    weakens: tuple[str, ...] = ()
    exposes: tuple[str, ...] = ()
    blast_radius: int = 0

    @property
    def harmless(self) -> bool:
        return not (self.destroys or self.shrinks or self.weakens or self.exposes)

    def facts(self) -> dict[str, Any]:
        """As the approval rules read them (``verdict.destroys`` …)."""
        return {"destroys": list(self.destroys), "destroyed_gb": self.destroyed_gb,
                "shrinks": list(self.shrinks), "weakens": list(self.weakens),
                "exposes": list(self.exposes), "blast_radius": self.blast_radius}


def effects(before: TenancyPlan, after: TenancyPlan, changes: Sequence[Change],
            flavors: Mapping[str, Flavor], rpo_default: int) -> Effects:
    """What changing the department's plan ``before`` into ``after`` does; ``changes`` are the
    plan's changes for the department, ``rpo_default`` the estate's backup RPO."""
    gone = [c for c in changes if c.action in ("delete", "replace")]
    return Effects(
        tuple(_destroyed(c) for c in gone),
        sum(_gb(c) for c in gone),
        tuple(_shrunk(before, after, flavors)),
        tuple(_weakened(before, after, rpo_default)),
        tuple(_exposed(before.websites, after.websites)),
        sum(1 for c in changes if c.action in TOUCHING))


def _gb(c: Change) -> int:
    attrs = c.before.attrs if c.before else {}
    return int(attrs.get("size_gb", 0) if c.kind == "volume" else
               attrs.get("storage_gb", 0) if c.kind == "website" else 0)


def _destroyed(c: Change) -> str:
    name = c.key.split("/", 2)[2]
    gb = _gb(c)
    size = f" ({gb:,} GB)" if gb else ""
    how = " (replaced: deleted and made anew)" if c.action == "replace" else ""
    return f"{c.kind} {name}{size}{how}"


def _shrunk(before: TenancyPlan, after: TenancyPlan, flavors: Mapping[str, Flavor]
            ) -> Iterable[str]:
    for k, old in vars(before.quota).items():
        new = getattr(after.quota, k)
        if new < old:
            yield f"quota {k} {old} → {new}"
    was = {s.name: s for s in before.servers}
    for new_s in after.servers:
        old_s = was.get(new_s.name)
        if old_s is None:
            continue
        if new_s.count < old_s.count:
            yield f"server {new_s.name}: replicas {old_s.count} → {new_s.count}"
        if new_s.volume_gb < old_s.volume_gb:
            yield f"server {new_s.name}: volume_gb {old_s.volume_gb} → {new_s.volume_gb}"
        smaller = _smaller(flavors.get(old_s.flavor), flavors.get(new_s.flavor))
        if smaller:
            yield f"server {new_s.name}: flavour {old_s.flavor} → {new_s.flavor} ({smaller})"
    sites = {w.domain: w for w in before.websites}
    for w in after.websites:
        if w.domain in sites and w.storage_gb < sites[w.domain].storage_gb:
            yield f"website {w.domain}: storage_gb {sites[w.domain].storage_gb} → " \
                  f"{w.storage_gb}"


def _smaller(old: Flavor | None, new: Flavor | None) -> str:
    """Which of a flavour's sizes go down ('' when none does; an unknown flavour shrinks)."""
    if old is None or new is None:
        return "" if old == new else "sizes unknown"
    return ", ".join(f"{k} {getattr(old, k):g} → {getattr(new, k):g}"
                     for k in ("vcpus", "ram_gb", "disk_gb") if getattr(new, k) < getattr(old, k))


def _weakened(before: TenancyPlan, after: TenancyPlan, rpo_default: int) -> Iterable[str]:
    for service in ("antivirus", "backup"):
        old, new = getattr(before, service), getattr(after, service)
        if old.enabled and not new.enabled:
            yield f"{service} turned off for the department"
        if old.schedule != new.schedule:
            yield f"{service} schedule {old.schedule!r} → {new.schedule!r} (it may run less " \
                  "often)"
    yield from _backup_weakened(before, after, rpo_default)
    was = {s.name: s for s in before.servers}
    for s in after.servers:
        yield from _server_weakened(was.get(s.name), s)
    sites = {w.domain: w for w in before.websites}
    for w in after.websites:
        if w.domain in sites and sites[w.domain].protected and not w.protected:
            yield f"website {w.domain}: no longer protected"


def _backup_weakened(before: TenancyPlan, after: TenancyPlan, rpo_default: int
                     ) -> Iterable[str]:
    old, new = before.backup, after.backup
    for k, kept in vars(old.retention).items():
        if getattr(new.retention, k) < kept:
            yield f"backup retention {k} {kept} → {getattr(new.retention, k)}"
    rpo_old, rpo_new = old.rpo_hours or rpo_default, new.rpo_hours or rpo_default
    if rpo_new > rpo_old:
        yield f"backup rpo_hours {rpo_old} → {rpo_new}"
    if old.paths != new.paths:
        removed = ", ".join(p for p in old.paths if p not in new.paths) or "none"
        added = ", ".join(p for p in new.paths if p not in old.paths) or "none"
        yield f"backup paths changed (no longer backed up: {removed}; newly copied to the " \
              f"backup host: {added})"


def _server_weakened(old: ServerSpec | None, new: ServerSpec) -> Iterable[str]:
    for service in ("antivirus", "backup"):
        if not getattr(new, service) and (old is None or getattr(old, service)):
            yield f"server {new.name}: {service} off"
    if new.exemption and (old is None or old.exemption != new.exemption):
        yield f"server {new.name}: exemption {new.exemption!r}"
    if old is not None and old.protected and not new.protected:
        yield f"server {new.name}: no longer protected"


def _exposed(before: Sequence[Website], after: Sequence[Website]) -> Iterable[str]:
    was = {w.domain: w for w in before}
    for w in after:
        if w.public and w.domain not in was:
            yield f"website {w.domain}: new, published on the internet"
        elif w.public and not was[w.domain].public:
            yield f"website {w.domain}: made public (published on the internet)"


# --- what an approval rule requires --------------------------------------------------------


def required_empty(source: str) -> set[str]:
    """The effects (of ``EFFECTS``) that the CEL expression ``source`` can only be true
    without: those one of its top-level ``&&`` conditions tests as empty in one of the
    ``EMPTY_FORMS`` (``size(verdict.destroys) == 0``). A small scanner, not a parser: under a
    top-level ``||`` or ``?:``, or with a comment, nothing is required."""
    out: set[str] = set()
    for part in _conjuncts(source):
        flat = "".join(part.split())
        out |= {e for e in EFFECTS if flat in (f.format(e) for f in EMPTY_FORMS)}
    return out


def _conjuncts(source: str) -> list[str]:
    """The top-level ``&&`` operands of ``source``, outer brackets taken off (and the operands
    of a bracketed ``&&`` inside, level by level, without recursion: an expression may nest
    thousands of brackets); an operand whose top level holds ``||``, ``?`` or a comment is
    kept whole."""
    out: list[str] = []
    todo = [source]
    while todo:
        text = todo.pop().strip()
        inner = _unwrapped(text)
        while inner is not None:
            text = inner.strip()
            inner = _unwrapped(text)
        parts = _split_and(text)
        if len(parts) == 1:
            out.append(text)
        else:
            todo.extend(parts)
    return out


def _split_and(text: str) -> list[str]:
    """``text`` cut at its top-level ``&&``; ``[text]`` when its top level holds ``||``, ``?``
    or a comment (then no operand alone decides it)."""
    cuts, depth, i = [], 0, 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            i = after_string(text, i)
            continue
        if text.startswith("//", i):
            return [text]
        depth += (c in "([{") - (c in ")]}")
        if depth == 0 and (text.startswith("||", i) or c == "?"):
            return [text]
        if depth == 0 and text.startswith("&&", i):
            cuts.append(i)
            i += 1
        i += 1
    bounds = zip([-2, *cuts], [*cuts, len(text)], strict=True)
    return [text[a + 2:b] for a, b in bounds]


def _unwrapped(text: str) -> str | None:
    """What is inside the brackets that enclose the whole of ``text``, if they do."""
    if not (text.startswith("(") and text.endswith(")")):
        return None
    depth, i = 0, 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            i = after_string(text, i)
            continue
        depth += (c in "([{") - (c in ")]}")
        if depth == 0 and i < len(text) - 1:
            return None
        i += 1
    return text[1:-1]
