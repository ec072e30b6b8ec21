"""The slim install: validate, plan, apply and show need none of the extras (openstack,
services, xlsx, postgres), and each extra's feature, used without it, names the pip command
that adds it. The extras' packages are hidden from a real CLI process (an import of a hidden
module fails as if it were not installed)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from govcloud.errors import MissingExtra
from govcloud.services import runner
from tests.support.estate import REPO

HIDDEN = ("openstack", "keystoneauth1", "ansible_runner", "ansible", "openpyxl", "psycopg",
          "ldap3")
PRELUDE = ("import sys\n"
           f"for name in {HIDDEN!r}:\n"
           "    sys.modules[name] = None  # import fails: not installed\n"
           "from govcloud.cli import main\n"
           "main(sys.argv[1:])\n")


def slim(estate: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PRELUDE, "-C", str(estate), *args],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


def _refused(proc: subprocess.CompletedProcess[str], extra: str, package: str) -> None:
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"needs {package}, which is not installed" in proc.stderr
    assert f"pip install 'govcloud[{extra}]'" in proc.stderr
    assert "Traceback" not in proc.stderr and "Internal error" not in proc.stderr


def test_the_readme_commands_need_no_extra(estate: Path) -> None:
    assert "16 departments" in _ok(slim(estate, "validate"))
    _ok(slim(estate, "plan"))
    assert "Apply complete" in _ok(slim(estate, "apply", "--yes"))
    assert "16 departments" in _ok(slim(estate, "show"))
    # the CSV reports too
    _ok(slim(estate, "usage", "collect"))
    assert _ok(slim(estate, "report", "chargeback", "--output", "csv")).count("\n") > 16


def test_each_extra_used_without_it_names_its_pip_command(estate: Path) -> None:
    _ok(slim(estate, "apply", "--yes"))
    _ok(slim(estate, "usage", "collect"))
    _refused(slim(estate, "report", "chargeback", "--output", "xlsx", "--out",
                  str(estate / "c.xlsx")), "xlsx", "openpyxl")
    assert not (estate / "c.xlsx").exists()
    _refused(slim(estate, "services", "run", "--department", "finance"), "services",
             "ansible-runner")
    _refused(slim(estate, "show", env={"GOVCLOUD_STATE_URL": "postgresql://gc@127.0.0.1:1/gc"}),
             "postgres", "psycopg")
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text(encoding="utf-8"))
    settings["directory"] = {"url": "ldap://127.0.0.1:1", "bind_dn": "cn=govcloud",
                             "password_env": "GOVCLOUD_DIRECTORY_PASSWORD",
                             "organisations_base": "ou=o", "people_base": "ou=p",
                             "groups_base": "ou=g"}
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True),
                                          encoding="utf-8")
    _refused(slim(estate, "directory", "sync", env={"GOVCLOUD_DIRECTORY_PASSWORD": "x"}),
             "directory", "ldap3")
    del settings["directory"]
    settings["cloud"]["driver"] = "openstack"
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True),
                                          encoding="utf-8")
    _refused(slim(estate, "plan"), "openstack", "openstacksdk")


def test_services_need_ansible_playbook_too(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # ansible-runner without ansible-core: no ansible-playbook beside python nor on PATH
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingExtra) as err:
        runner.require_ansible()
    assert "ansible-core (its ansible-playbook command)" in err.value.render()
    assert "pip install 'govcloud[services]'" in err.value.render()


def test_the_test_extra_installs_every_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    features = sorted(set(extras) - {"all", "test", "bench"})
    assert features == ["directory", "openstack", "portal", "postgres", "services", "xlsx"]
    (everything,) = extras["all"]
    assert sorted(everything.removeprefix("govcloud[").removesuffix("]").split(",")) == features
    assert "govcloud[all]" in extras["test"]
    heavy = ("openstacksdk", "ansible", "openpyxl", "psycopg", "starlette", "argon2", "ldap3")
    assert [d for d in project["dependencies"] if d.startswith(heavy)] == []
