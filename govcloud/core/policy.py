"""Policies as data: rules in ``policies/*.yaml`` with CEL expressions over a tenancy plan.

A rule holds when its expression is true. ``each: servers`` (or ``websites``) evaluates it
once per item with ``item`` bound, so a failure points at that item's line. ``message`` and
``hint`` may embed ``{{ CEL }}`` placeholders, evaluated only when the rule fails.

Variables an expression sees:
  plan       the tenancy plan with every default filled in
  item       the current server or website (rules with ``each``)
  totals     what the plan asks for in all: instances, vcpus, ram_gb, volumes, volume_gb, websites
  catalogue  flavors (name -> vcpus, ram_gb, disk_gb), images (name -> os), website_suffixes
Functions: closest(value, names) -> "did you mean 'x'? " or "";
           has_suffix(domain, suffixes) -> bool; join(list) -> "a, b, c";
           whole(number) -> the smallest whole number at least it (for integer fields).

What an expression may cost is checked before it runs (``govcloud.core.expressions``): too
long or too deeply nested comprehensions are refused at compile time, and a rule that uses a
comprehension at all is marked unbounded; the engine reports each unbounded evaluation to a
``watch`` callback, through which the edge bounds its time and memory.
"""

from __future__ import annotations

import difflib
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govcloud.core import expressions, jsontext
from govcloud.core.documents import Document, Path_, dotted
from govcloud.core.model import Catalogue, Settings
from govcloud.core.patterns import IDENT, TEXT
from govcloud.core.schema import arr_of, check, obj_of, str_of, with_defaults
from govcloud.errors import Diagnostic

# The cel package's __init__ also imports its interactive shell (prompt_toolkit, pygments):
# a third of every govcloud command's start-up, for a REPL govcloud never opens. A stand-in
# for that one submodule keeps it out; the compiler and evaluator are untouched.
sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))
import cel  # noqa: E402

POLICY_SCHEMA: dict[str, Any] = obj_of("A policy file.", {
    "rules": arr_of("Rules.", obj_of("One rule.", {
        "id": str_of("Rule id, shown with every finding.", IDENT),
        "severity": {"type": "string", "enum": ["error", "warning"], "default": "error",
                     "description": "error blocks plan and apply; warning is shown."},
        "description": str_of("Why the rule exists.", None, default=""),
        "each": {"type": "string", "enum": ["plan", "servers", "websites"], "default": "plan",
                 "description": "Evaluate once per plan, or once per server or website."},
        "path": str_of("Key the finding points at (relative to the item).", r"^[a-z_.]*$",
                   default=""),
        "expression": str_of("CEL expression that is true when the plan complies.", None),
        "message": str_of("What is wrong; may hold {{ CEL }} placeholders.", None),
        "hint": str_of("How to fix it; may hold {{ CEL }} placeholders.", None, default=""),
    }, ["id", "expression", "message"])),
}, ["rules"])
_ = TEXT  # rule text is operator-written and shown as-is; it never reaches a template

_PLACEHOLDER = re.compile(r"\{\{(.+?)\}\}")


def _closest(value: Any, names: Any) -> str:
    match = difflib.get_close_matches(str(value), [str(n) for n in names], 1, 0.5)
    return f"did you mean '{match[0]}'? " if match else ""


def _has_suffix(domain: Any, suffixes: Any) -> bool:
    d = str(domain)
    return any(d == s or d.endswith("." + s) for s in suffixes)


def _join(values: Any) -> str:
    items = sorted(values) if isinstance(values, dict) else values
    return ", ".join(str(v) for v in items)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    each: str
    path: str
    expression: str
    message: str
    hint: str
    file: str
    line: int
    program: Any
    message_parts: tuple[Any, ...]
    hint_parts: tuple[Any, ...]
    bounded: bool = True  # no comprehension anywhere: cheap by construction
    variables: frozenset[str] = frozenset()


# Called with the rule before each evaluation of an unbounded rule, and with None after it.
Watch = Callable[[Rule | None], None]


def _template(text: str) -> tuple[Any, ...]:
    """Split text into literal strings and compiled CEL programs."""
    parts: list[Any] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        parts.append(text[pos:m.start()])
        parts.append(cel.compile(m.group(1).strip()))
        pos = m.end()
    parts.append(text[pos:])
    return tuple(p for p in parts if p != "")


def _render(parts: tuple[Any, ...], ctx: Any) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        else:
            try:
                value = p.execute(ctx)
            except Exception as exc:  # noqa: BLE001 - a broken placeholder must not hide the finding
                value = f"<{exc}>"
            out.append(_join(value) if isinstance(value, list) else _text(value))
    return "".join(out)


def _text(value: Any) -> str:
    """A value in a message as a plan writes it: true/false, 104 rather than 104.0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _whole(value: Any) -> int:
    """The smallest whole number at least ``value``: what an integer field must be set to."""
    number = float(value)
    return int(number) if number.is_integer() else int(number) + (number > 0)


def compile_rules(docs: list[Document]) -> tuple[list[Rule], list[Diagnostic]]:
    """Compile the rules of every parsed policy file; report every problem."""
    rules: list[Rule] = []
    problems: list[Diagnostic] = []
    seen: dict[str, str] = {}
    for doc in docs:
        name = doc.file
        found = check(doc, POLICY_SCHEMA)
        problems += found
        if found:
            continue
        data = with_defaults(doc.data, POLICY_SCHEMA)
        for i, r in enumerate(data["rules"]):
            where: Path_ = ("rules", i)
            if r["id"] in seen:
                problems.append(doc.diag((*where, "id"), f"rule id '{r['id']}' is already used "
                                         f"in {seen[r['id']]}", "give each rule its own id"))
                continue
            seen[r["id"]] = name
            sources = [("expression", r["expression"])] + [
                (key, m.group(1).strip()) for key in ("message", "hint")
                for m in _PLACEHOLDER.finditer(r[key])]
            costly = [(key, cost) for key, source in sources
                      if (cost := expressions.problem(source))]
            if costly:
                key, (what, fix) = costly[0]
                where_key = "the expression" if key == "expression" else f"a {key} placeholder"
                problems.append(doc.diag((*where, key), f"rule '{r['id']}': {where_key} {what}",
                                         fix))
                continue
            try:
                program = cel.compile(r["expression"])
                message_parts = _template(r["message"])
                hint_parts = _template(r["hint"])
            except ValueError as exc:
                problems.append(doc.diag((*where, "expression"),
                                         f"rule '{r['id']}' does not compile: "
                                         f"{str(exc).splitlines()[0]}",
                                         "fix the CEL expression (see policies/README.md)"))
                continue
            bounded = all(expressions.shape(source).comprehensions == 0
                          for _, source in sources)
            variables = frozenset(program.references()["variables"])
            rules.append(Rule(r["id"], r["severity"], r["each"], r["path"], r["expression"],
                              r["message"], r["hint"], name, doc.line(where), program,
                              message_parts, hint_parts, bounded, variables))
    return rules, problems


def _reads(rules: list[Rule], messages: bool = True) -> expressions.Reads | None:
    """What the rules read of a plan (their expressions, and with ``messages`` their messages
    and hints too); None when one of them may read more than key by key, so the whole plan is
    handed over."""
    paths: list[tuple[str, ...]] = []
    for r in rules:
        roots: dict[str, tuple[str, ...]] = {"plan": ()}
        if r.each != "plan":
            roots["item"] = (r.each, expressions.ELEMENT)
            paths.append((r.each, expressions.ELEMENT))  # the list its rules map over
        sources = [r.expression] + [m.group(1).strip() for text in (r.message, r.hint)
                                    for m in _PLACEHOLDER.finditer(text) if messages]
        for source in sources:
            found = expressions.reads(source, roots)
            if found is None:
                return None
            paths += found
    return expressions.tree(paths)


# What a rule of ``by_item`` may read: its item and the catalogue (the same for every plan).
ITEM_ONLY = frozenset({"item", "catalogue"})


def _item_reads(rules: list[Rule]) -> expressions.Reads | None:
    """What rules over one scope's items read of an item (None: the whole item)."""
    found = _reads(rules, messages=False)
    scope = found.get(rules[0].each) if found is not None else None
    return scope.get(expressions.ELEMENT) if scope is not None else None


def catalogue_view(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "flavors": {f.name: {"vcpus": f.vcpus, "ram_gb": f.ram_gb, "disk_gb": f.disk_gb}
                    for f in catalogue.flavors.values()},
        "images": {i.name: {"os": i.os} for i in catalogue.images.values()},
        "website_suffixes": list(catalogue.website_suffixes),
    }


def totals(plan: dict[str, Any], catalogue: dict[str, Any]) -> dict[str, Any]:
    """What a plan asks for in all, so rules can compare it with the quota."""
    flavors = catalogue["flavors"]
    vcpus = ram = instances = volumes = volume_gb = 0.0
    for s in plan["servers"]:
        f = flavors.get(s["flavor"])
        instances += s["count"]
        if f:
            vcpus += f["vcpus"] * s["count"]
            ram += f["ram_gb"] * s["count"]
        if s["volume_gb"]:
            volumes += s["count"]
            volume_gb += s["volume_gb"] * s["count"]
    return {"instances": int(instances), "vcpus": int(vcpus), "ram_gb": ram,
            "volumes": int(volumes), "volume_gb": int(volume_gb),
            "websites": len(plan["websites"])}


class PolicyEngine:
    """Evaluates compiled rules against plans.

    The bounded rules of one scope (the plan, each server, each website) are also compiled
    together into one program returning every verdict at once, so a plan costs a handful of
    CEL calls instead of one per rule and item; if that combined call fails, the rules are
    evaluated one by one to name the rule at fault. Unbounded rules are evaluated one by one,
    each announced to ``watch``. Where every rule over servers (or websites) reads only the
    item and the catalogue (``by_item``), their verdicts on an item are its own: each distinct
    item is judged once per engine, and a failing one rule by rule in its own plan.

    Without settings there is no catalogue to check against: the rules that read it are left
    out (``skipped``) rather than failing every server of every plan.
    """

    def __init__(self, rules: list[Rule], settings: Settings | None,
                 disabled: frozenset[str] = frozenset()) -> None:
        self.skipped = [] if settings else [r for r in rules if "catalogue" in r.variables]
        self.rules = [r for r in rules if r not in self.skipped and r.id not in disabled]
        self.unbounded = [r for r in self.rules if not r.bounded]
        self.catalogue = catalogue_view(settings.catalogue) if settings else \
            {"flavors": {}, "images": {}, "website_suffixes": []}
        self.scopes: dict[str, tuple[list[Rule], dict[str, int], Any]] = {}
        self._ctx: Any = None
        # Rules over each server (or website) that read nothing but the item and the
        # catalogue give equal items equal verdicts: each distinct item is evaluated once.
        self.by_item = {scope: _item_reads(members) for scope in ("servers", "websites")
                        if (members := [r for r in self.rules if r.each == scope])
                        and all(r.bounded and r.variables <= ITEM_ONLY for r in members)}
        self.verdicts: dict[tuple[str, bytes], Any] = {}
        # A plan is handed to CEL with only what the rules' expressions read (converting it is
        # most of a plan's policy time); when a rule fails, with what its message reads too.
        self.reads = _reads(self.rules)
        self.checked_reads = _reads([r for r in self.rules if r.each not in self.by_item],
                                    messages=False)
        for scope in ("plan", "servers", "websites"):
            members = [r for r in self.rules if r.each == scope]
            if not members:
                continue
            batch = [r for r in members if r.bounded]
            combined = None
            if batch:
                body = "[" + ", ".join(f"({r.expression})" for r in batch) + "]"
                source = body if scope in ("plan", *self.by_item) else \
                    f"plan.{scope}.map(item, {body})"
                try:
                    combined = cel.compile(source)
                except ValueError:
                    combined = None
            self.scopes[scope] = (members, {r.id: n for n, r in enumerate(batch)}, combined)

    def _context(self) -> Any:
        """The evaluation context: the catalogue and the functions, converted to CEL once
        per engine (only the plan changes from one evaluation to the next)."""
        if self._ctx is None:
            ctx = cel.Context({"catalogue": self.catalogue, "item": {}})
            ctx.add_function("closest", _closest)
            ctx.add_function("has_suffix", _has_suffix)
            ctx.add_function("join", _join)
            ctx.add_function("whole", _whole)
            self._ctx = ctx
        return self._ctx

    def evaluate(self, doc: Document, plan: dict[str, Any],
                 watch: Watch | None = None) -> list[Diagnostic]:
        """Every rule over one plan (not thread-safe: one engine evaluates one plan at a
        time)."""
        ctx = self._context()
        view: Any = plan if self.checked_reads is None else \
            expressions.pick(plan, self.checked_reads)
        whole: Any = None  # the view messages may read, made for the first failing rule
        ctx.add_variable("plan", view)
        ctx.add_variable("totals", totals(plan, self.catalogue))
        ctx.add_variable("item", {})
        out: list[Diagnostic] = []
        for scope, (members, batch, combined) in self.scopes.items():
            items = [None] if scope == "plan" else plan[scope] if scope in self.by_item \
                else view[scope]
            if not items:
                continue
            verdicts = None
            if scope in self.by_item:
                verdicts = [self._item_verdicts(scope, item, combined, ctx) for item in items]
            elif combined is not None:
                try:
                    verdicts = combined.execute(ctx)
                except Exception:  # noqa: BLE001 - fall back to rule-by-rule to name the culprit
                    verdicts = None
            if scope == "plan" and verdicts is not None:
                verdicts = [verdicts]
            only_bounded = len(batch) == len(members)
            for i, item in enumerate(items):
                row = verdicts[i] if verdicts is not None else None
                if only_bounded and row is not None and all(v is True for v in row):
                    continue
                if whole is None:
                    whole = view if self.reads == self.checked_reads else \
                        plan if self.reads is None else expressions.pick(plan, self.reads)
                    if whole is not view:
                        ctx.add_variable("plan", whole)
                if item is not None:
                    ctx.add_variable("item", whole[scope][i])
                base: Path_ = () if item is None else (scope, i)
                for rule in members:
                    if row is not None and rule.id in batch and row[batch[rule.id]] is True:
                        continue
                    if watch is None or rule.bounded:
                        self._one(rule, ctx, doc, base, out)
                        continue
                    watch(rule)
                    try:
                        self._one(rule, ctx, doc, base, out)
                    finally:
                        watch(None)
        return out

    def _item_verdicts(self, scope: str, item: Any, combined: Any, ctx: Any) -> Any:
        """The verdicts of a scope's rules that read only the item (``by_item``) on one item,
        evaluated once per distinct item (None when they cannot be evaluated together)."""
        seen = expressions.pick(item, self.by_item[scope])
        key = (scope, jsontext.dumps(seen, sort_keys=True))
        if key not in self.verdicts:
            ctx.add_variable("item", seen)
            try:
                self.verdicts[key] = combined.execute(ctx) if combined is not None else None
            except Exception:  # noqa: BLE001 - fall back to rule-by-rule to name the culprit
                self.verdicts[key] = None
            ctx.add_variable("item", {})
        return self.verdicts[key]

    def _one(self, rule: Rule, ctx: Any, doc: Document, base: Path_,
             out: list[Diagnostic]) -> None:
        try:
            ok = rule.program.execute(ctx)
        except Exception as exc:  # noqa: BLE001 - CEL raises plain KeyError/TypeError/ValueError
            out.append(Diagnostic(rule.file, rule.line, f"rule {rule.id}",
                                  f"rule cannot be evaluated on {doc.file}: {exc!r}",
                                  "fix the rule's expression", "error", rule.id))
            return
        if ok is True:
            return
        if ok is not False:
            out.append(Diagnostic(rule.file, rule.line, f"rule {rule.id}",
                                  f"expression returned {ok!r}, not true or false",
                                  "make the expression a boolean test", "error", rule.id))
            return
        path: Path_ = (*base, *[p for p in rule.path.split(".") if p])
        out.append(Diagnostic(doc.file, doc.line(path), dotted(path),
                              _render(rule.message_parts, ctx), _render(rule.hint_parts, ctx),
                              rule.severity, rule.id))  # type: ignore[arg-type]
