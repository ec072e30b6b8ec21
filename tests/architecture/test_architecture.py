"""The shape of the code: a pure core, documented commands, a schema editors can use."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from tests.support.cli import govcloud
from tests.support.estate import REPO

# The layers. A module's package says what it may touch; every module is in one of them.
PURE_PACKAGES = ["govcloud.core", "govcloud.placement", "govcloud.finance", "govcloud.reports"]
PURE_MODULES = ["govcloud.errors"]
EDGE = ["govcloud.state", "govcloud.estate", "govcloud.applying", "govcloud.requests",
        "govcloud.access", "govcloud.audit", "govcloud.books", "govcloud.metrics"]
EDGE_PACKAGES = [*EDGE, "govcloud.drivers", "govcloud.services", "govcloud.cli", "govcloud.portal"]
EDGE_MODULES = ["govcloud", "govcloud.__main__", "govcloud.clock"]
# What the pure core never imports: the edge, drivers, databases, the terminal, the network,
# processes and the file system's writers.
FORBIDDEN = [*EDGE, "govcloud.clock", "govcloud.drivers", "govcloud.services", "govcloud.cli",
             "govcloud.portal", "starlette", "uvicorn", "jinja2", "argon2", "itsdangerous",
             "openstack", "keystoneauth1", "ansible_runner", "ansible", "sqlite3", "psycopg",
             "click", "prometheus_client", "socket", "http", "urllib", "requests", "ssl",
             "subprocess", "multiprocessing", "concurrent", "threading", "shutil", "tempfile",
             "os", "io", "gc", "signal", "select", "asyncio", "openpyxl"]
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "glob",
              "rglob", "iterdir", "unlink", "touch", "rename", "exists", "is_file", "is_dir",
              "stat", "chmod"}
# Renderers may build an in-memory file (io.BytesIO for an XLSX) and need openpyxl for it.
ALLOWED = {"govcloud.reports.xlsx": {"io", "openpyxl"}, "govcloud.reports.publish": {"io"}}


def _modules(package: str) -> list[str]:
    folder = REPO.joinpath(*package.split("."))
    return sorted(".".join((package, *p.relative_to(folder).with_suffix("").parts))
                  .removesuffix(".__init__") for p in folder.rglob("*.py"))


def _path(module: str) -> Path:
    base = REPO.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _pure() -> list[str]:
    return [m for pkg in PURE_PACKAGES for m in _modules(pkg)] + PURE_MODULES


def test_every_module_belongs_to_a_layer() -> None:
    known = set(_pure()) | set(EDGE_MODULES)
    known |= {m for pkg in EDGE_PACKAGES for m in _modules(pkg)}
    found = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
             for p in (REPO / "govcloud").rglob("*.py")}
    assert found - known == set(), "place these modules in a pure or an edge package"


def _imports(module: str) -> list[tuple[int, str]]:
    tree = ast.parse(_path(module).read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def test_pure_packages_import_no_edge_module() -> None:
    """Static: every import statement of every pure module, including those inside functions."""
    bad = []
    for module in _pure():
        allowed = ALLOWED.get(module, set())
        for line, name in _imports(module):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN if f not in allowed):
                bad.append(f"{_path(module).relative_to(REPO)}:{line} imports {name}")
    assert bad == []


# Inside the pure layer, dependencies point one way: the core knows nothing of placement,
# finance or the renderers; placement and finance know nothing of the renderers.
BELOW = {"govcloud.core": ["govcloud.placement", "govcloud.finance", "govcloud.reports"],
         "govcloud.placement": ["govcloud.finance", "govcloud.reports"],
         "govcloud.finance": ["govcloud.reports"]}


def test_pure_packages_depend_one_way() -> None:
    bad = []
    for package, above in BELOW.items():
        for module in _modules(package):
            for line, name in _imports(module):
                if any(name == a or name.startswith(a + ".") for a in above):
                    bad.append(f"{_path(module).relative_to(REPO)}:{line} imports {name}")
    assert bad == []


def test_pure_packages_touch_no_file() -> None:
    bad = []
    for module in _pure():
        for node in ast.walk(ast.parse(_path(module).read_text())):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in FILE_CALLS:
                    bad.append(f"{_path(module).relative_to(REPO)}:{node.lineno} calls {name}()")
    assert bad == []


def test_importing_the_pure_core_loads_no_edge_module() -> None:
    """Dynamic: what the pure modules pull in at import time, transitively."""
    code = (f"import sys; import {', '.join(_pure())}; "
            f"bad = [m for m in sys.modules if any(m == f or m.startswith(f + '.') "
            f"for f in {FORBIDDEN[:26]!r})]; print(sorted(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.strip()
    assert out == "[]", f"the pure core imported {out}"


def test_package_faces_only_reexport() -> None:
    """A package's __init__.py holds a docstring and imports, never logic."""
    for init in (REPO / "govcloud").rglob("__init__.py"):
        for node in ast.parse(init.read_text()).body:
            ok = isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) or (
                isinstance(node, ast.Assign) and all(
                    isinstance(t, ast.Name) and t.id in ("__all__", "__version__")
                    for t in node.targets))
            assert ok, f"{init.relative_to(REPO)}:{node.lineno} holds logic; move it to a module"


def test_pure_modules_are_the_mypy_strict_set() -> None:
    """mypy runs strict on every pure package (pyproject's [[tool.mypy.overrides]])."""
    import tomllib

    conf = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mypy"]
    strict = {m for o in conf.get("overrides", []) if o.get("strict")
              for m in ([o["module"]] if isinstance(o["module"], str) else o["module"])}
    assert {f"{p}.*" for p in PURE_PACKAGES} | set(PURE_MODULES) <= strict


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
    policy = json.loads(govcloud("schema", "policy", check=True).stdout)
    assert policy == json.loads((REPO / "docs/schema/policy.json").read_text())
    for path in sorted((REPO / "policies").glob("*.yaml")):
        if path.name == "approvals.yaml":  # not a policy: who approves requests
            from govcloud.core.approvals import APPROVALS_SCHEMA

            jsonschema.Draft202012Validator(APPROVALS_SCHEMA).validate(
                yaml.safe_load(path.read_text()))
            continue
        jsonschema.Draft202012Validator(policy).validate(yaml.safe_load(path.read_text()))


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
