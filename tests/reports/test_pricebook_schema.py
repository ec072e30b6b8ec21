"""The price book's published schema matches the code and the example validates against it.
(That the finance package stays pure is checked for every pure package in
tests/architecture/test_architecture.py.)"""

from __future__ import annotations

import json

import jsonschema
import yaml

from govcloud.finance.pricebook import PRICE_SCHEMA
from tests.support.estate import REPO


def test_published_schema_is_current_and_the_example_validates() -> None:
    published = json.loads((REPO / "docs/schema/price-book.json").read_text())
    assert published == json.loads(json.dumps(PRICE_SCHEMA)), \
        "regenerate docs/schema/price-book.json from govcloud.finance.pricebook.PRICE_SCHEMA"
    jsonschema.Draft202012Validator.check_schema(published)
    jsonschema.validate(yaml.safe_load((REPO / "prices.yaml").read_text()), published)

