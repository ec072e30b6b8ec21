"""Rules are handed only the keys of a plan they read (``expressions.reads``): a rule sees the
same values, so every finding is the one the whole plan gives."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest

from govcloud.core import policy
from govcloud.core.checks import Checked
from govcloud.core.documents import Document, parse
from govcloud.core.expressions import ELEMENT, pick, reads, tree
from govcloud.core.schema import PLAN_SCHEMA, with_defaults
from govcloud.estate.files import read_document
from govcloud.estate.loader import _settings, load_rules

ROOT = Path(__file__).resolve().parents[2]  # the example estate
ROOTS = {"plan": (), "item": ("servers", ELEMENT)}


@pytest.mark.parametrize(("source", "paths"), [
    ("plan.quota.cores >= totals.vcpus", [("quota", "cores")]),
    ("plan . quota . cores > 0", [("quota", "cores")]),
    ("size(plan.servers) == 0 || plan.services.backup.enabled",
     [("servers", ELEMENT), ("services", "backup", "enabled")]),
    ("plan.servers.size() > 0", [("servers", ELEMENT)]),
    ("item.flavor in catalogue.flavors", [("servers", ELEMENT, "flavor")]),
    ("plan.servers.all(s, s.load.cpu < 1.0)", [("servers",)]),  # a method reads it whole
    ("plan.servers[0].flavor == 'x'", [("servers",)]),
    ("has(plan.legacy.servers)", [("legacy", "servers")]),
    ("'zone' in plan.department", [("department",)]),
    ("'plan.x' == item.name && x.plan.y", [("servers", ELEMENT, "name")]),
    ("plan", None), ("plan['quota'].cores > 0", None), ("item == {}", None),
    ("plan.x // a comment", None), ("plan.`odd-key` > 0", None),
])
def test_reads(source: str, paths: list[tuple[str, ...]] | None) -> None:
    assert reads(source, ROOTS) == paths


def test_tree_and_pick() -> None:
    keys = tree([("quota", "cores"), ("servers", ELEMENT), ("servers", ELEMENT, "flavor"),
                 ("department", "zone"), ("department",), ("name", ELEMENT)])
    assert keys == {"quota": {"cores": None}, "servers": {ELEMENT: {"flavor": None}},
                    "department": None, "name": {ELEMENT: {}}}
    plan = {"quota": {"cores": 4, "ram_gb": 8}, "servers": [{"flavor": "a", "count": 2}, {}],
            "department": {"zone": "intranet", "id": "x"}, "name": "text", "legacy": {}}
    assert pick(plan, keys) == {"quota": {"cores": 4}, "servers": [{"flavor": "a"}, {}],
                                "department": {"zone": "intranet", "id": "x"}, "name": "text"}


def _engine() -> policy.PolicyEngine:
    out = Checked(ROOT)
    settings = _settings(ROOT, out)
    rules, problems = load_rules(ROOT / "policies", ROOT)
    assert settings is not None and rules and not problems
    return policy.PolicyEngine(rules, settings)


def _broken(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The plan with a few things the default rules refuse or warn about."""
    data = copy.deepcopy(data)
    for _ in range(3):
        pick_one = rng.randrange(7)
        if pick_one == 0 and data["servers"]:
            rng.choice(data["servers"])["flavor"] = "m9.huge"
        elif pick_one == 1 and data["servers"]:
            s = rng.choice(data["servers"])
            s["count"], s["anti_affinity"] = 1, True
        elif pick_one == 2:
            data["quota"]["cores"] = 1
        elif pick_one == 3:
            data["department"]["zone"] = "intranet"
        elif pick_one == 4 and data["websites"]:
            rng.choice(data["websites"])["domain"] = "www.example.com"
        elif pick_one == 5 and data["servers"]:
            rng.choice(data["servers"])["antivirus"] = False
        else:
            data["services"]["backup"]["retention"]["daily"] = 1
    return data


def test_findings_are_those_of_the_whole_plan() -> None:
    engine = _engine()
    assert engine.reads is not None  # the shipped rules read key by key
    # their messages read more than their expressions (a server's name): a failing rule's
    # message is rendered from the larger view
    assert engine.checked_reads != engine.reads
    rng = random.Random(10)
    plans = []
    for path in sorted((ROOT / "plans").glob("*.yaml")):
        doc, _ = read_document(path, f"plans/{path.name}", ROOT)
        assert doc is not None
        data = with_defaults(doc.data, PLAN_SCHEMA)
        plans += [(doc, data)] + [(doc, _broken(data, rng)) for _ in range(4)]
    whole = _engine()
    whole.reads = whole.checked_reads = None  # the whole plan, as before
    found = [engine.evaluate(doc, data) for doc, data in plans]
    assert found == [whole.evaluate(doc, data) for doc, data in plans]
    assert sum(len(f) for f in found) > len(plans)  # the broken plans did break rules
    names = {s["name"] for _, data in plans for s in data["servers"]}
    assert any(n in d.message for f in found for d in f for n in names)  # rendered names


def _plans(seed: int, copies: int) -> list[tuple[Document, dict[str, Any]]]:
    """The example's plans, each as it is and broken ``copies`` times."""
    rng = random.Random(seed)
    plans = []
    for path in sorted((ROOT / "plans").glob("*.yaml")):
        doc, _ = read_document(path, f"plans/{path.name}", ROOT)
        assert doc is not None
        data = with_defaults(doc.data, PLAN_SCHEMA)
        plans += [(doc, data)] + [(doc, _broken(data, rng)) for _ in range(copies)]
    return plans


def _with(rules_yaml: str) -> list[policy.Rule]:
    doc, problems = parse(rules_yaml, "policies/extra.yaml")
    assert doc is not None and not problems
    rules, problems = policy.compile_rules([doc])
    assert rules and not problems
    return rules


def test_equal_servers_are_judged_once_with_the_same_findings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules over servers that read only the server and the catalogue (the shipped ones) judge
    each distinct server once per engine (#24: a third of a plan's policy time at 10,000
    departments); the findings are those of judging every server in its own plan, a failing
    server named at its own line of its own file however often its like was judged."""
    engine = _engine()
    assert set(engine.by_item) == {"servers"}  # a website rule reads the plan's zone
    monkeypatch.setattr(policy, "ITEM_ONLY", frozenset())
    each = _engine()
    assert not each.by_item
    plans = _plans(24, 6)
    found = [engine.evaluate(doc, data) for doc, data in plans]
    assert found == [each.evaluate(doc, data) for doc, data in plans]
    servers = sum(len(data["servers"]) for _, data in plans)
    assert 0 < len(engine.verdicts) < servers / 3
    failing = [d for f in found for d in f if d.rule == "flavor-in-catalogue"]
    assert len({(d.file, d.line) for d in failing}) > 1  # one judged server, every place named


def test_a_server_rule_that_cannot_be_evaluated_is_named_for_each_server(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that fails to evaluate on some servers (a division by zero on single ones) is
    evaluated rule by rule on those, as when every server was judged in its plan; a rule over
    servers that reads the plan is judged server by server, in its plan."""
    extra = _with("""
rules:
  - id: volume-per-replica
    each: servers
    expression: item.volume_gb / (item.count - 1) >= 0
    message: "cannot split {{ item.volume_gb }}"
  - id: fits-the-zone
    each: servers
    expression: plan.department.zone == 'intranet' || item.count < 4
    message: "{{ item.name }} is too many for the extranet"
""")
    rules, problems = load_rules(ROOT / "policies", ROOT)
    settings = _settings(ROOT, Checked(ROOT))
    assert not problems and settings is not None
    only_item = [r for r in extra if r.id == "volume-per-replica"]
    engine = policy.PolicyEngine(rules + only_item, settings)
    assert set(engine.by_item) == {"servers"}
    assert not policy.PolicyEngine(rules + extra, settings).by_item  # fits-the-zone reads plan
    monkeypatch.setattr(policy, "ITEM_ONLY", frozenset())
    each = policy.PolicyEngine(rules + only_item, settings)
    plans = _plans(7, 2)
    found = [engine.evaluate(doc, data) for doc, data in plans]
    assert found == [each.evaluate(doc, data) for doc, data in plans]
    assert any("volume-per-replica" in d.path and "cannot be evaluated" in d.message
               for f in found for d in f)
