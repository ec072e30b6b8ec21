"""schema.check answers 'valid' from a validator compiled per schema, without the diagnostic
walk, and with_defaults runs a filler compiled per schema. Both are checked here against what
they stand in for, over the example estate's files and request payloads and thousands of
seeded mutations of them (wrong types, bools for numbers, None, NaN and infinity, enum values,
unknown and non-plain keys, missing keys, strings too short, too long or of the wrong pattern,
bad punycode and '--' labels, cron fields, numbers out of range, lists too long or short):

- the validator never passes a value the walk finds a fault with (it may refuse a valid one:
  the walk then runs and finds nothing, only slower), and passes the example files as they are;
- the filler gives exactly what the walk-era with_defaults gave (kept below as the reference):
  the same keys in the same order, the same values, and defaults that are never shared.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

from govcloud.core import diagnosis, schema, validity
from govcloud.core.approvals import APPROVALS_SCHEMA
from govcloud.core.documents import Document, parse
from govcloud.core.policy import POLICY_SCHEMA
from govcloud.core.requests import SCHEMAS as REQUEST_SCHEMAS
from govcloud.finance.pricebook import PRICE_SCHEMA
from tests.support.estate import REPO
from tests.support.paths import at, paths

MUTATIONS = 300  # per seed document: about 9,000 in all, 2 to 3 s

HOSTILE: list[Any] = [
    True, False, None, 0, 1, -1, 2, 1.5, 0.0, -0.0, 1e300, float("nan"), float("inf"),
    float("-inf"), 10**17, "", " ", "x", "x" * 41, "x" * 500, "a\nb", "a;b", "{x}", "..",
    "xn--zz.qingdao.gov.cn", "ab--cd.qingdao.gov.cn", "xn--zz", "ab--cd", "xn--fiqs8s.gov.cn",
    "XN--fiqs8s.gov.cn", "a..b.gov.cn", "finance", "web-01", "30 2 * * *", "99 99 * * *",
    "1-2/3 * * * *", "* * * *", "* * * * * *", "*/5,1 * * * *", "--- 2 * * *", "0 3 * * *\n",
    "/srv/data", "/srv/../etc", "http://x", "2024-01", "2024-13", "CNY", "static", "intranet",
    "member", "operator", "auto", "plan", "error", "usage", "hosts", "sqlite:///x",
    "postgresql://", "sqlite://x", "10.0.0.0/8", "Default", "a@b", "é", [], {}, [1], ["x"],
    {"a": 1},
]
ODD_KEYS = ["bogus", "not a plain name!", "x" * 41, "servers", "name", "id", "1", ""]


def _seeds() -> list[tuple[str, Any, dict[str, Any]]]:
    def read(rel: str, kind: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        doc, problems = parse((REPO / rel).read_text(encoding="utf-8"), rel)
        assert doc is not None and not problems, problems
        return rel, doc.data, kind

    files = [read(f"plans/{p.name}", schema.PLAN_SCHEMA)
             for p in sorted((REPO / "plans").glob("*.yaml"))[:6]]
    files += [read("govcloud.yaml", schema.SETTINGS_SCHEMA), read("prices.yaml", PRICE_SCHEMA),
              read("policies/defaults.yaml", POLICY_SCHEMA),
              read("policies/approvals.yaml", APPROVALS_SCHEMA)]
    base = {"department": "finance", "reason": "more load this winter"}
    requests: dict[str, dict[str, Any]] = {
        "website": {"website": {"domain": "a.qingdao.gov.cn", "kind": "proxy",
                                "upstream": "http://10.0.0.1/", "storage_gb": 2}},
        "servers": {"server": {"name": "web-01", "flavor": "m1.large", "image": "kylin",
                               "count": 2, "load": {"cpu": 0.3, "ram": 0.2}}},
        "replicas": {"server": "web-01", "count": 3},
        "resize": {"server": "web-01", "flavor": "m1.small"},
        "quota": {"quota": {"cores": 10, "ram_gb": 20}},
        "remove": {"server": "web-01"},
        "backup": {"backup": {"enabled": True, "schedule": "0 3 * * *",
                              "retention": {"daily": 3}, "paths": ["/srv/data"],
                              "rpo_hours": 10}},
        "antivirus": {"antivirus": {"enabled": False, "schedule": "0 3 * * *"}},
    }
    files += [(f"request {kind}", {"kind": kind, **base, **fields}, REQUEST_SCHEMAS[kind])
              for kind, fields in requests.items()]
    return files


SEEDS = _seeds()


def _walk(name: str, data: Any, kind: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    diagnosis.walk(Document(name, data), data, kind, (), out)
    return out


def _schema_at(kind: dict[str, Any] | None, path: tuple[Any, ...]) -> dict[str, Any] | None:
    for part in path:
        if kind is None:
            return None
        if isinstance(part, int):
            kind = kind.get("items")
        else:
            sub = kind.get("properties", {}).get(part)
            extra = kind.get("additionalProperties")
            kind = sub if sub is not None else extra if isinstance(extra, dict) else None
    return kind


def _near(kind: dict[str, Any] | None) -> list[Any]:
    """Values on and just past the edges ``kind`` sets."""
    if not kind:
        return []
    out: list[Any] = list(kind.get("enum", []))
    if "default" in kind:
        out.append(copy.deepcopy(kind["default"]))
    for edge in ("minimum", "maximum"):
        if edge in kind:
            m = kind[edge]
            out += [m, m - 1, m + 1, m - 0.5, m + 0.5, float(m)]
    for edge in ("minLength", "maxLength"):
        if edge in kind:
            out += ["a" * kind[edge], "a" * (kind[edge] + 1), "a" * max(0, kind[edge] - 1)]
    if kind.get("type") == "array":
        item = kind["items"].get("default", "x")
        for edge in ("minItems", "maxItems"):
            if edge in kind:
                out += [[copy.deepcopy(item)] * n for n in (kind[edge] - 1, kind[edge],
                                                           kind[edge] + 1) if n >= 0]
    if kind.get("type") == "object":
        out += [{}, {k: copy.deepcopy(v.get("default"))
                     for k, v in kind.get("properties", {}).items()}]
    return out


def _mutate(data: Any, kind: dict[str, Any], rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        path = rng.choice(paths(data))
        if not path:
            if rng.random() < 0.1:
                return copy.deepcopy(rng.choice(HOSTILE))
            continue
        parent, key, roll = at(data, path[:-1]), path[-1], rng.random()
        if roll < 0.45:
            parent[key] = copy.deepcopy(rng.choice(HOSTILE))
        elif roll < 0.75:
            near = _near(_schema_at(kind, path))
            parent[key] = copy.deepcopy(rng.choice(near or HOSTILE))
        elif roll < 0.85:
            del parent[key]
        else:
            target = at(data, path)
            if isinstance(target, dict):
                target[rng.choice(ODD_KEYS)] = copy.deepcopy(rng.choice(HOSTILE))
            elif isinstance(target, list) and target:
                target *= rng.choice((2, 50, 300))
            elif isinstance(target, list):
                target.append(copy.deepcopy(rng.choice(HOSTILE)))
    return data


def _reference_defaults(value: Any, kind: dict[str, Any]) -> Any:
    """with_defaults as it was before the filler (efa9a66)."""
    expected = kind.get("type")
    if expected == "object" and isinstance(value, dict):
        props = kind.get("properties", {})
        out = {}
        for key, sub in props.items():
            if key in value:
                out[key] = _reference_defaults(value[key], sub)
            elif "default" in sub:
                default = sub["default"]
                if isinstance(default, dict | list):
                    default = copy.deepcopy(default)
                out[key] = _reference_defaults(default, sub)
        extra = kind.get("additionalProperties")
        for key, item in value.items():
            if key not in props:
                out[key] = _reference_defaults(item, extra) if isinstance(extra, dict) else item
        return out
    if expected == "array" and isinstance(value, list):
        return [_reference_defaults(item, kind["items"]) for item in value]
    return value


def _identical(a: Any, b: Any) -> bool:
    """Equal, of the same types, with keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _scribble(value: Any) -> None:
    """Change every mapping and list in ``value`` in place."""
    if isinstance(value, dict):
        for item in list(value.values()):
            _scribble(item)
        value["scribbled"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("scribbled")


@pytest.mark.parametrize(("name", "data", "kind"), SEEDS, ids=[s[0] for s in SEEDS])
def test_the_validator_never_passes_what_the_walk_refuses(name: str, data: Any,
                                                          kind: dict[str, Any]) -> None:
    valid = validity.validator(kind)
    assert _walk(name, data, kind) == []
    assert valid(data), f"{name}: a valid file must take the fast path"
    rng = random.Random(name)
    refused = 0
    for _ in range(MUTATIONS):
        mutated = _mutate(data, kind, rng)
        found = _walk(name, mutated, kind)
        refused += bool(found)
        assert not (found and valid(mutated)), (name, found[:3], repr(mutated)[:400])
        if not found:
            assert schema.check(Document(name, mutated), kind) == []
    assert refused > MUTATIONS // 3  # the mutations do reach what the schema forbids


@pytest.mark.parametrize(("name", "data", "kind"), SEEDS, ids=[s[0] for s in SEEDS])
def test_defaults_are_filled_as_before_and_never_shared(name: str, data: Any,
                                                        kind: dict[str, Any]) -> None:
    pristine = copy.deepcopy(kind)
    rng = random.Random(name)
    checked = 0
    for i in range(MUTATIONS // 3):
        value = data if i == 0 else _mutate(data, kind, rng)
        if _walk(name, value, kind):
            continue
        checked += 1
        before = copy.deepcopy(value)
        filled = schema.with_defaults(value, kind)
        assert _identical(filled, _reference_defaults(before, kind)), name
        assert _identical(value, before), f"{name}: with_defaults changed its argument"
        _scribble(filled)
        assert _identical(schema.with_defaults(value, kind),
                          _reference_defaults(before, kind)), f"{name}: a default is shared"
    assert checked
    assert kind == pristine, f"{name}: the schema's defaults were changed"
