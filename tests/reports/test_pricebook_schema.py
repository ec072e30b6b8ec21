"""The price book's published schema matches the code, the example validates against it,
and the accounting core stays pure (no database, click or cloud SDK imports)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import jsonschema
import yaml

from govcloud.pricebook import PRICE_SCHEMA

REPO = Path(__file__).resolve().parents[2]
PURE = ("pricebook.py", "usage.py", "chargeback.py", "savings.py")
FORBIDDEN = {"sqlite3", "psycopg", "click", "openstack", "ansible_runner", "prometheus_client",
             "govcloud.store", "govcloud.engine", "govcloud.drivers"}


def test_published_schema_is_current_and_the_example_validates() -> None:
    published = json.loads((REPO / "docs/schema/price-book.json").read_text())
    assert published == json.loads(json.dumps(PRICE_SCHEMA)), \
        "regenerate docs/schema/price-book.json from govcloud.pricebook.PRICE_SCHEMA"
    jsonschema.Draft202012Validator.check_schema(published)
    jsonschema.validate(yaml.safe_load((REPO / "prices.yaml").read_text()), published)


def test_accounting_core_is_pure() -> None:
    for name in PURE:
        tree = ast.parse((REPO / "govcloud" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            for m in mods:
                assert not any(m == f or m.startswith(f + ".") for f in FORBIDDEN), (name, m)
