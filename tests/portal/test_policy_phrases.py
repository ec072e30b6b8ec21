"""Every message and fix of the shipped policies (govcloud/templates/policies.yaml) reaches
the Chinese portal in Chinese: rendered with values, each matches a pattern of
``phrases.PATTERNS`` whose translation carries the values (#23 case 1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from govcloud.portal.i18n import translator, understood

SHIPPED = Path(__file__).resolve().parents[2] / "govcloud" / "templates" / "policies.yaml"
RULES = yaml.safe_load(SHIPPED.read_text())["rules"]


def rendered(template: str) -> str:
    """The text a rule says, its expressions given a sample value (``closest``: nothing)."""
    text = re.sub(r"\{\{\s*closest\([^}]*\)\s*\}\}", "", template)
    return re.sub(r"\{\{[^}]*\}\}", "x-42", text)


@pytest.mark.parametrize("rule", RULES, ids=[r["id"] for r in RULES])
def test_a_shipped_policy_speaks_chinese(rule: dict[str, str]) -> None:
    zh = translator("zh")
    for part in ("message", "hint"):
        said = rendered(rule[part])
        assert understood(said) is not None or zh(said) != said, (
            f"{rule['id']}: add a pattern for {rule[part]!r} to govcloud/portal/phrases.py")
        chinese = zh(said)
        assert re.search(r"[\u4e00-\u9fff]", chinese), chinese
        assert said.count("x-42") == chinese.count("x-42"), (said, chinese)
