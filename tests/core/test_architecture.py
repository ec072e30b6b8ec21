"""The shape of the code: a pure core, documented commands, a schema editors can use."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import yaml

from tests.conftest import REPO, govcloud

PURE = ["govcloud.documents", "govcloud.schema", "govcloud.model", "govcloud.policy",
        "govcloud.estate", "govcloud.desired", "govcloud.planning", "govcloud.drift",
        "govcloud.placement"]
FORBIDDEN = ["openstack", "keystoneauth1", "ansible_runner", "ansible", "sqlite3", "psycopg",
             "click", "govcloud.drivers", "govcloud.store", "govcloud.cli", "govcloud.engine",
             "govcloud.apply", "prometheus_client"]


def test_pure_core_imports_no_driver_database_or_cli() -> None:
    code = (f"import sys; import {', '.join(PURE)}; "
            f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]", f"the pure core imported {out}"


def _commands() -> list[list[str]]:
    from govcloud.cli import cli

    out: list[list[str]] = []

    def walk(group, prefix):  # type: ignore[no-untyped-def]
        for name, cmd in group.commands.items():
            if hasattr(cmd, "commands"):
                walk(cmd, [*prefix, name])
            else:
                out.append([*prefix, name])

    walk(cli, [])
    return out


def test_every_command_has_help_and_an_example() -> None:
    from govcloud.cli import cli

    for path in _commands():
        cmd = cli
        for part in path:
            cmd = cmd.commands[part]  # type: ignore[attr-defined]
        text = cmd.help or ""
        assert len(text.split()) >= 5, f"govcloud {' '.join(path)} lacks help text"
        assert "Example" in text, f"govcloud {' '.join(path)} has no example in its help"


def test_printed_schema_matches_the_docs_copy_and_validates_the_example_plans() -> None:
    printed = json.loads(govcloud("schema", "plan", check=True).stdout)
    assert printed == json.loads((REPO / "docs/schema/tenancy-plan.json").read_text())
    jsonschema.Draft202012Validator.check_schema(printed)
    validator = jsonschema.Draft202012Validator(printed)
    plans = sorted((REPO / "plans").glob("*.yaml"))
    assert len(plans) >= 12
    for path in plans:
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=../docs/schema/tenancy-plan.json")
        errors = list(validator.iter_errors(yaml.safe_load(text)))
        assert not errors, f"{path.name}: {errors[0].message}"
    settings = json.loads(govcloud("schema", "settings", check=True).stdout)
    assert settings == json.loads((REPO / "docs/schema/estate-settings.json").read_text())
    jsonschema.Draft202012Validator(settings).validate(
        yaml.safe_load((REPO / "govcloud.yaml").read_text()))


def test_schema_rejects_what_our_validator_rejects() -> None:
    """Editors flag the same dangerous names as govcloud validate does."""
    validator = jsonschema.Draft202012Validator(json.loads(
        (REPO / "docs/schema/tenancy-plan.json").read_text()))
    plan = yaml.safe_load((REPO / "plans/finance.yaml").read_text())
    plan["servers"][0]["name"] = "web;reboot"
    assert list(validator.iter_errors(plan))


def test_example_estate_is_realistic() -> None:
    plans = [yaml.safe_load(p.read_text()) for p in (REPO / "plans").glob("*.yaml")]
    assert len(plans) >= 12
    zones = {p["department"]["zone"] for p in plans}
    assert zones == {"intranet", "extranet"}
    assert all(p.get("legacy", {}).get("servers") for p in plans)
    assert any(s.get("anti_affinity") for p in plans for s in p.get("servers", []))
    assert sum(len(p.get("websites", [])) for p in plans) >= 15
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in p["department"]["name"]) for p in plans)
    assert all(p["department"].get("name_en") for p in plans)
