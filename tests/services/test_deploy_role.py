"""The deploy role's variables, read as files (no Ansible run: tests/services/test_deploy.py
runs it): every variable the role uses is set in its defaults (or vars) and every group of
defaults is explained by a comment; every periodic job has its timer's schedule and a row in
docs/operations.md.

And its state store setting, rendered through Ansible's templating as its tasks render it
(no play; the real one, on PostgreSQL, is test_deploy.py): without a URL the units keep the
estate's SQLite store and one portal worker; with a postgresql:// URL it is in the units'
environment file only (mode 0640, written by a no_log task), never in a unit file, and the
portal gets several workers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.estate import REPO

ROLE = REPO / "playbooks" / "roles" / "govcloud_control"
REGISTERED = {"govcloud_control_cloned", "govcloud_control_wheel_copied"}


def _defaults() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    return data


def _jobs() -> list[dict[str, object]]:
    jobs: list[dict[str, object]] = yaml.safe_load(
        (ROLE / "vars/main.yml").read_text())["govcloud_control_jobs"]
    return jobs


def test_every_variable_the_role_uses_is_set_in_its_defaults() -> None:
    used = {name for f in ROLE.rglob("*") if f.is_file() and f.suffix in (".yml", ".j2")
            for name in re.findall(r"\bgovcloud_control_\w+", f.read_text())}
    known = set(_defaults()) | {"govcloud_control_jobs"} | REGISTERED
    assert used - known == set()
    assert set(_defaults()) - used == set()  # and none is set for nothing


def test_every_group_of_defaults_begins_with_its_comment() -> None:
    paragraphs = (ROLE / "defaults/main.yml").read_text().split("\n\n")
    bare = [p.splitlines()[0] for p in paragraphs
            if re.search(r"^govcloud_control_\w+:", p, re.M) and not p.startswith("#")]
    assert bare == []


def test_every_job_has_a_schedule_and_a_row_in_the_runbook() -> None:
    names = [str(job["name"]) for job in _jobs()]
    timers = _defaults()["govcloud_control_timers"]
    assert isinstance(timers, dict) and sorted(timers) == sorted(names)
    runbook = (REPO / "docs" / "operations.md").read_text()
    assert [n for n in names if f"| `govcloud-{n}.timer` |" not in runbook] == []


URL = "postgresql://govcloud:s3cret-pw-71c2@db.internal/govcloud"


def _trusted(value: Any) -> Any:
    """The role's files as Ansible reads them: strings may be templates."""
    from ansible.template import trust_as_template

    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    return value


def _render(template: str, extra: dict[str, Any], item: Any = None) -> str:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    loader = DataLoader()
    loader.set_basedir(str(ROLE / "templates"))
    values = {**yaml.safe_load((ROLE / "defaults/main.yml").read_text()),
              **yaml.safe_load((ROLE / "vars/main.yml").read_text()),
              "ansible_managed": "Ansible managed", **extra}
    if item is not None:
        values["item"] = item
    templar = Templar(loader=loader, variables=_trusted(values))
    text: str = templar.template(_trusted((ROLE / "templates" / template).read_text()),
                                 escape_backslashes=False)  # as the template action does
    return text


def _units(extra: dict[str, Any]) -> dict[str, str]:
    jobs = yaml.safe_load((ROLE / "vars/main.yml").read_text())["govcloud_control_jobs"]
    units = {name: _render(f"{name}.j2", extra)
             for name in ("govcloud-portal.service", "govcloud-exporter.service")}
    for job in jobs:
        for kind in ("service", "timer"):
            units[f"govcloud-{job['name']}.{kind}"] = _render(f"govcloud-job.{kind}.j2", extra,
                                                               job)
    return units


@pytest.mark.parametrize("url", ["", URL], ids=["sqlite", "postgresql"])
def test_the_state_store_url_is_in_the_environment_file_only(url: str) -> None:
    env = _render("govcloud.env.j2", {"govcloud_control_state_url": url})
    units = _units({"govcloud_control_state_url": url})
    assert len(units) == 14
    portal = units["govcloud-portal.service"]
    if url:
        assert f'\nGOVCLOUD_STATE_URL="{URL}"\n' in env
        assert "--workers 4 " in portal
    else:  # the estate's own state.url (SQLite): one worker
        assert "GOVCLOUD_STATE_URL" not in env
        assert "--workers 1 " in portal
    for name, text in units.items():
        assert "s3cret-pw-71c2" not in text and "GOVCLOUD_STATE_URL" not in text, name
        if name.endswith(".service"):
            assert "\nEnvironmentFile=/etc/govcloud/govcloud.env\n" in text, name


def test_the_environment_file_is_written_unlogged_and_not_world_readable() -> None:
    tasks = yaml.safe_load((ROLE / "tasks/estate.yml").read_text())
    (task,) = [t for t in tasks if t.get("ansible.builtin.template", {}).get("src")
               == "govcloud.env.j2"]
    assert task["no_log"] is True
    assert task["ansible.builtin.template"]["mode"] == "0640"
    assert task["ansible.builtin.template"]["owner"] == "root"
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    assert "postgres" in defaults["govcloud_control_extras"]
    assert defaults["govcloud_control_state_url"] == ""



def _install_tasks() -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = yaml.safe_load((ROLE / "tasks/install.yml").read_text())
    return tasks


def test_a_wheel_whose_content_changed_is_installed_again_by_force() -> None:
    """Every release is version 0.1.0: pip keeps the old code for a new wheel of the same
    name unless forced, so the copy's change (the wheel's checksum) forces it, govcloud only."""
    tasks = _install_tasks()
    (copy,) = [t for t in tasks if "ansible.builtin.copy" in t]
    forced = [t for t in tasks if "--force-reinstall" in str(t.get("ansible.builtin.pip"))]
    assert len(forced) == 1, "no task reinstalls a changed wheel"
    (task,) = forced
    assert task["when"] == f"{copy['register']} is changed"
    assert task["notify"] == "restart govcloud"
    pip = task["ansible.builtin.pip"]
    assert pip["extra_args"].split()[:2] == ["--force-reinstall", "--no-deps"]
    assert "[" not in pip["name"]  # govcloud alone; its dependencies are installed as usual
    others = [t for t in tasks if "ansible.builtin.pip" in t and t is not task]
    assert [t.get("when") for t in others] == [None]  # the dependencies, on every run
    assert tasks.index(task) < tasks.index(others[0])


def _wheel(folder: Any, content: str) -> Any:
    import zipfile

    folder.mkdir()
    path = folder / "demo-0.1.0-py3-none-any.whl"
    files = {"demo.py": f"CODE = {content!r}\n",
             "demo-0.1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: demo\nVersion: 0.1.0\n",
             "demo-0.1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
                                           "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},,\n" for name in files) + "demo-0.1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in {**files, "demo-0.1.0.dist-info/RECORD": record}.items():
            zf.writestr(name, text)
    return path


def test_pip_installs_a_second_wheel_of_the_same_version_only_by_force(tmp_path: Any) -> None:
    """The task's pip arguments on a real pip, with two wheels of the same name and version."""
    import subprocess
    import sys
    import venv

    venv.create(tmp_path / "venv", with_pip=False)
    python = str(tmp_path / "venv" / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index"]
    first, second = _wheel(tmp_path / "a", "release A"), _wheel(tmp_path / "b", "release B")
    installed = [python, "-c", "import demo; print(demo.CODE)"]
    subprocess.run([*pip, str(first)], check=True)
    subprocess.run([*pip, str(second)], check=True)  # as the role did: the old code stays
    assert subprocess.run(installed, check=True, capture_output=True,
                          text=True).stdout == "release A\n"
    (task,) = [t for t in _install_tasks()
               if "--force-reinstall" in str(t.get("ansible.builtin.pip"))]
    forced = task["ansible.builtin.pip"]["extra_args"].split()[:2]
    subprocess.run([*pip, *forced, str(second)], check=True)
    assert subprocess.run(installed, check=True, capture_output=True,
                          text=True).stdout == "release B\n"


SECRETS = {"GOVCLOUD_SMTP_PASSWORD": 'p"w \\ q\'s  spaced `x` ; #no',
           "GOVCLOUD_TOKEN": "$HOME and ${PATH} \\$ end\\",
           "GOVCLOUD_PLAIN": "=leading equals, trailing space ",
           "GOVCLOUD_EMPTY": ""}


def test_the_environment_file_keeps_every_value_as_systemd_reads_it() -> None:
    """#26 trial: NAME={{ value }} unquoted: systemd's EnvironmentFile parsing dropped a
    secret's backslashes and quotes and its trailing space. Read back with the parse of
    systemd.exec(5) (tests/support/units.env_file; systemd-analyze has no such command)."""
    from tests.support.units import env_file

    url = URL.replace("s3cret", 'se$"cr\\et')
    env = _render("govcloud.env.j2", {"govcloud_control_state_url": url,
                                       "govcloud_control_environment": SECRETS})
    assert env_file(env) == {"GOVCLOUD_ESTATE": "/srv/govcloud/estate",
                             "GOVCLOUD_STATE_URL": url, **SECRETS}


def test_systemds_own_parser_reads_the_environment_file_the_same(tmp_path: Any) -> None:
    """systemd's environment.d generator reads files with the same parser as EnvironmentFile=
    (then expands $VARS, which EnvironmentFile= does not, and skips an empty value: values
    without $, not empty, here). It prints each value back double-quoted, escaped likewise."""
    import shutil
    import subprocess

    from tests.support.units import env_file

    generator = Path("/usr/lib/systemd/user-environment-generators/"
                     "30-systemd-environment-d-generator")
    if not generator.exists() or shutil.which("systemctl") is None:
        pytest.skip("systemd's environment.d generator is not installed")
    values = {k: v for k, v in SECRETS.items() if v and "$" not in v}
    text = _render("govcloud.env.j2", {"govcloud_control_environment": values})
    (tmp_path / "environment.d").mkdir()
    (tmp_path / "environment.d" / "10-govcloud.conf").write_text(text)
    out = subprocess.run([str(generator)], capture_output=True, text=True, check=True,
                         env={"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/nonexistent"})
    read = dict(line.partition("=")[::2] for line in out.stdout.splitlines())
    systemd = {k: re.sub(r'\\([\\"`$])', r"\1", v[1:-1]) if v.startswith('"') else v
               for k, v in read.items() if k in env_file(text)}
    assert systemd == env_file(text) == {"GOVCLOUD_ESTATE": "/srv/govcloud/estate", **values}


def _assert_passes(extra: dict[str, Any]) -> bool:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    tasks = yaml.safe_load((ROLE / "tasks/main.yml").read_text())
    (task,) = [t for t in tasks if "estate's URL" in t["name"]]
    values = {**yaml.safe_load((ROLE / "defaults/main.yml").read_text()), **extra}
    templar = Templar(loader=DataLoader(), variables=_trusted(values))
    return all(templar.evaluate_conditional(_trusted(c))
               for c in task["ansible.builtin.assert"]["that"])


@pytest.mark.parametrize(("extra", "ok"), [
    ({}, True),
    ({"govcloud_control_environment": SECRETS, "govcloud_control_state_url": URL}, True),
    ({"govcloud_control_environment": {"GOVCLOUD_KEY": "-----BEGIN\nline 2"}}, False),
    ({"govcloud_control_state_url": URL + "\n"}, False),
    ({"govcloud_control_environment": {"BAD NAME": "x"}}, False),
    ({"govcloud_control_estate_repo": "git@git.internal:ops/estate.git"}, True),
    ({"govcloud_control_estate_repo": "ssh://git@git.internal/ops/estate.git"}, True),
    ({"govcloud_control_estate_repo": "https://git.internal/ops/estate.git"}, True),
    ({"govcloud_control_estate_repo": "https://deploy:glpat-71c2@git.internal/estate.git"},
     False),
    ({"govcloud_control_estate_repo": "https://ghp_71c2abc@github.com/ops/estate.git"}, False),
    ({"govcloud_control_estate_repo": "ssh://git:pw@git.internal/ops/estate.git"}, False),
], ids=["defaults", "secrets", "multi-line", "url-newline", "name", "scp", "ssh", "https",
        "https-user-token", "https-token", "ssh-password"])
def test_the_role_refuses_a_line_break_in_a_setting_and_credentials_in_the_repo_url(
        extra: dict[str, Any], ok: bool) -> None:
    """#26 trial: a value with a newline split the environment file; an https://user:token@
    URL in git clone's argv (no no_log) would be printed by Ansible and git."""
    assert _assert_passes(extra) is ok
