"""Property: a random edit to a saved plan is either refused with a clear error, or the file
is still exactly the fresh plan and applying it does exactly what a fresh plan does; nothing a
policy forbids ever reaches the cloud.

A seeded mutator edits the JSON tree (numbers, strings, booleans, types, dropped and added
keys and items, reordered and duplicated changes, other actions) and, now and then, makes an
edit that changes nothing (keys reordered, re-indented), which must be accepted. Every edit
goes through ``engine.saved_plan`` in-process; an accepted one is applied to a copy of the
estate and the sim cloud checked; a sample goes through the real CLI. 1,000 edits in CI, fewer
elsewhere.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.errors import GovcloudError
from tests.support.cli import govcloud
from tests.support.estate import copy_estate, edit
from tests.support.paths import at, paths
from tests.support.pyramid import CI

EDITS = 1000 if CI else 150
SAMPLE_EVERY = 50 if CI else 40  # edits also tried through the CLI
KEEP = ("finance", "statistics", "health", "housing", "ecology")
ACTIONS = ["create", "update", "replace", "delete", "no-op", "destroy", ""]
STRINGS = ["m1.hacked", "m1.small", "r1.xlarge", "finance", "statistics/server/tj-warehouse",
           "", " ", "intranet", "extranet", "10.20.0.0/16", "0.0.0.0/0", "ingress tcp 22 from any",
           "../../etc/passwd", "x" * 300, "财政"]
NUMBERS = [0, -1, 1, 2, 48, 384, 99999, 10**18, 0.5, 1e308, -0.0, 3.0]


def _replace(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    at(doc, path[:-1])[path[-1]] = value
    return doc


def mutate(doc: dict[str, Any], rng: random.Random, nodes: list[tuple] | None = None
           ) -> tuple[Any, str, bool]:
    """One random edit of ``doc`` (a copy; ``nodes`` its paths): the new document, what was
    done, and whether the edit leaves the plan's content as it was."""
    kind = rng.choices(["value", "type", "drop", "add", "action", "reorder", "duplicate",
                        "harmless"], [40, 8, 12, 10, 8, 6, 6, 4])[0]
    changes = doc["changes"]
    if kind == "harmless":
        return dict(reversed(list(doc.items()))), "keys reordered", True
    if kind == "action":
        c = rng.choice(changes)
        c["action"] = rng.choice([a for a in ACTIONS if a != c["action"]])
        return doc, f"action of {c['key']} -> {c['action']!r}", False
    if kind == "reorder":
        i, j = rng.sample(range(len(changes)), 2)
        changes[i], changes[j] = changes[j], changes[i]
        return doc, f"changes {i} and {j} swapped", changes[i] == changes[j]
    if kind == "duplicate":
        c = copy.deepcopy(rng.choice(changes))
        changes.insert(rng.randrange(len(changes) + 1), c)
        return doc, f"change of {c['key']} duplicated", False
    path = rng.choice(nodes or paths(doc))
    old = at(doc, path)
    if kind == "drop" and path:
        parent = at(doc, path[:-1])
        del parent[path[-1]]
        return doc, f"{path} dropped", False
    if kind == "add":
        target = old if isinstance(old, dict | list) else at(doc, path[:-1]) if path else doc
        junk = rng.choice([True, 1, "x", None, {"protected": True}, ["m1.hacked"]])
        if isinstance(target, dict):
            name = rng.choice(["protected", "vcpus", "extra", "action", "after", "zzz"])
            same = name in target and type(target[name]) is type(junk) and target[name] == junk
            target[name] = junk
            return doc, f"key {name} set at {path}", same
        target.insert(rng.randrange(len(target) + 1), junk)
        return doc, f"item added at {path}", False
    if kind == "type":
        new: Any = rng.choice([None, [], {}, "1", 1, True, [old]])
    elif isinstance(old, bool):
        new = not old
    elif isinstance(old, int | float):
        new = rng.choice(NUMBERS + [old + 1, old * 2, -old, float(old)])
    elif isinstance(old, str):
        new = rng.choice([*STRINGS, old.upper(), old + " ", old[:-1]])
    else:
        new = rng.choice([None, 0, "", True])
    same = type(new) is type(old) and new == old
    return _replace(doc, path, new), f"{path}: {old!r:.40} -> {new!r:.40}", same


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five departments applied; then finance grows a server (create), statistics changes a
    flavor (replace) and drops its warehouse (deletes), ecology's plan is removed (orphans);
    the plan saved as saved.json."""
    estate = copy_estate(tmp_path_factory.mktemp("fuzz-saved") / "estate")
    for path in (estate / "plans").glob("*.yaml"):
        if path.stem not in KEEP:
            path.unlink()
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    finance = estate / "plans" / "finance.yaml"
    edit(finance, "    count: 3\n", "    count: 4\n")
    stats = estate / "plans" / "statistics.yaml"
    text = stats.read_text().replace("flavor: m1.large", "flavor: m1.small", 1)
    start = text.index("  - name: tj-warehouse")
    text = text[:start] + text[text.index("\nwebsites:"):].lstrip("\n")
    stats.write_text(text)
    (estate / "plans" / "ecology.yaml").unlink()
    govcloud("plan", "--out", str(estate / "saved.json"), estate=estate, check=True)
    actions = Counter(c["action"] for c in
                      json.loads((estate / "saved.json").read_text())["changes"])
    assert actions["create"] and actions["replace"] and actions["delete"] and actions["no-op"]
    return estate


def check_cloud(estate: Path) -> None:
    """The sim cloud is exactly what the plans ask for, and within the catalogue and quotas."""
    with engine.session(estate) as s:
        actual = {r.key: r for r in s.driver.read()}
        desired = s.desired()
        flavors = s.estate.settings.catalogue.flavors
        for key, want in desired.items():
            assert actual[key].attrs == want.attrs and actual[key].protected == want.protected
        extra = {r.department for k, r in actual.items() if k not in desired}
        assert extra <= {"ecology"}  # orphans are kept, never changed
        cores: Counter[str] = Counter()
        for r in actual.values():
            if r.kind == "server":
                f = flavors[r.attrs["flavor"]]
                assert (r.attrs["vcpus"], r.attrs["ram_gb"]) == (f.vcpus, f.ram_gb)
                cores[r.department] += r.attrs["vcpus"]
        for dep, plan in s.estate.plans.items():
            assert cores[dep] <= plan.quota.cores


def apply_copy(scenario: Path, where: Path, document: str) -> Path:
    estate = Path(shutil.copytree(scenario, where))
    path = estate / "edited.json"
    path.write_text(document)
    return estate


def test_fuzz_random_edits_to_a_saved_plan_are_refused_or_change_nothing(
        scenario: Path, tmp_path: Path) -> None:
    original = (scenario / "saved.json").read_text()
    saved = json.loads(original)
    nodes = paths(saved)
    rng = random.Random(20261126)
    outcome: Counter[str] = Counter()
    edited = tmp_path / "edited.json"
    with engine.session(scenario) as s:
        fresh = json.loads(json.dumps(s.plan().as_dict()))
        assert fresh == saved
        for n in range(EDITS):
            doc, what, same = mutate(json.loads(original), rng, nodes)
            text = json.dumps(doc, ensure_ascii=False, indent=rng.choice([None, 1, 2]))
            edited.write_text(text)
            try:
                plan = engine.saved_plan(s, edited)
            except GovcloudError as exc:
                message = exc.render()
                assert not same, f"edit {n} ({what}) changed nothing but was refused: {message}"
                assert str(edited) in message and " — " in message, message
                outcome["refused"] += 1
                accepted = False
            else:
                assert same, f"edit {n} ({what}) was accepted"
                assert plan.as_dict() == fresh
                outcome["accepted"] += 1
                accepted = True
                copied = apply_copy(scenario, tmp_path / f"accepted-{n}", text)
                with engine.session(copied) as c, engine.locked(c):
                    result = engine.apply(c, engine.saved_plan(c, copied / "edited.json"),
                                          services=False)
                assert result.ok
                check_cloud(copied)
                shutil.rmtree(copied)
            if n % SAMPLE_EVERY == 0:
                copied = apply_copy(scenario, tmp_path / f"cli-{n}", text)
                proc = govcloud("apply", str(copied / "edited.json"), "--yes",
                                "--no-services", estate=copied)
                assert "Traceback" not in proc.stderr and "Internal error" not in proc.stderr
                assert proc.returncode == (0 if accepted else 1), (what, proc.stderr)
                if accepted:
                    check_cloud(copied)
                else:
                    assert proc.stderr.startswith("Error: "), proc.stderr
                    with engine.session(copied) as c:  # nothing was applied
                        assert json.loads(json.dumps(c.plan().as_dict())) == fresh
                outcome["cli"] += 1
                shutil.rmtree(copied)
    assert outcome["refused"] + outcome["accepted"] == EDITS
    assert outcome["accepted"] >= 1 and outcome["refused"] >= EDITS // 2, outcome
    print(f"saved-plan fuzz: {EDITS} edits, {dict(outcome)}")
