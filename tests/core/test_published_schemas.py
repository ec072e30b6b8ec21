"""The published JSON Schemas (docs/schema/*.json, printed by `govcloud schema`) are what
editors and CI consume, so they are checked the way those tools check them: check-jsonschema
with the metaschema, every example file validated with it, and every pattern read alike by
ECMA-262 (JSON Schema's regex dialect, unicode mode) and by Python's re, which govcloud
validate uses (issue #11, item 13)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import regress

from tests.support.cli import govcloud
from tests.support.estate import REPO

SCHEMAS = sorted((REPO / "docs" / "schema").glob("*.json"))
PRINTED = {"tenancy-plan.json": "plan", "estate-settings.json": "settings",
           "policy.json": "policy", "price-book.json": "prices"}
EXAMPLES = {"tenancy-plan.json": sorted(str(p) for p in (REPO / "plans").glob("*.yaml")),
            "estate-settings.json": [str(REPO / "govcloud.yaml")],
            "policy.json": sorted(str(p) for p in (REPO / "policies").glob("*.yaml")),
            "price-book.json": [str(REPO / "prices.yaml")]}


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", *args],
                          capture_output=True, text=True, timeout=300)


def test_every_schema_is_published_and_printed() -> None:
    assert {p.name for p in SCHEMAS} == set(PRINTED)
    for path in SCHEMAS:
        printed = json.loads(govcloud("schema", PRINTED[path.name], check=True).stdout)
        assert printed == json.loads(path.read_text()), f"regenerate {path.name}"


def test_schemas_pass_the_metaschema() -> None:
    proc = check_jsonschema("--check-metaschema", *map(str, SCHEMAS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("schema", sorted(EXAMPLES))
def test_example_files_pass_the_published_schema(schema: str) -> None:
    assert EXAMPLES[schema]
    proc = check_jsonschema("--schemafile", str(REPO / "docs" / "schema" / schema),
                            *EXAMPLES[schema])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


# Values that tell the dialects apart where they differ: Unicode digits and spaces (\d, \s),
# a byte-order mark (a space to ECMA only), a trailing newline ($), plus every character a
# pattern here refuses or allows.
SAMPLES = ["finance", "web-01", "czj.qingdao.gov.cn", "青岛市财政局", "CC-1002", "/srv/data",
           "http://10.0.0.5:8080/app", "30 2 * * *", "10.20.0.0/16", "2026-07", "a.b_c",
           "sqlite:///.state/govcloud.db", "postgresql://gc@db/gov", "", "x" * 70,
           "٢٠٢٦-07", "1٠.20.0.0/16", "30\u30002 * * *", "30 2 * * *\ufeff", "a\u00a0b",
           "finance\n", "10.20.0.0/16\n", "/srv/../etc", "/srv/./x", "http://h/a b",
           "web\u2028x", "sqlite:///a\u0085b", "é", "ß.qingdao.gov.cn"]
SAMPLES += [f"a{chr(c)}b" for c in [*range(0, 0x80), 0x85, 0xa0, 0x2028, 0xfeff, 0x1f600]]


def test_patterns_mean_the_same_to_python_and_ecma262() -> None:
    patterns = sorted({p for path in SCHEMAS for p in _patterns(json.loads(path.read_text()))})
    assert len(patterns) >= 10
    differ = []
    for pattern in patterns:
        ecma = regress.Regex(pattern, "u")  # raises on what unicode mode forbids (\" or \`)
        python = re.compile(pattern)
        for value in SAMPLES:
            # govcloud matches the whole value; JSON Schema searches an anchored pattern
            if bool(python.fullmatch(value)) != (ecma.find(value) is not None):
                differ.append((pattern, value))
    assert differ == []
