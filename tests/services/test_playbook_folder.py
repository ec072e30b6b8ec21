"""Where the service playbooks come from: the estate's own playbooks/, else the set built
into the installed package (govcloud/_playbooks, made from playbooks/ by setup.py), else
the source checkout's."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from govcloud.errors import GovcloudError
from govcloud.services.playbooks import checkout_playbooks, packaged_playbooks, playbook_folder
from tests.support.estate import REPO


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "webhosting.yml").write_text("- hosts: webhosts\n")
    return path


def test_the_estates_own_playbooks_come_first(tmp_path: Path) -> None:
    own = _folder(tmp_path / "estate" / "playbooks")
    found = playbook_folder(tmp_path / "estate", _folder(tmp_path / "packaged"),
                            _folder(tmp_path / "checkout"))
    assert found == own.resolve()


def test_without_them_the_packaged_set_is_used(tmp_path: Path) -> None:
    (tmp_path / "estate").mkdir()
    packaged = _folder(tmp_path / "packaged")
    found = playbook_folder(tmp_path / "estate", packaged, _folder(tmp_path / "checkout"))
    assert found == packaged.resolve()


def test_without_a_packaged_set_the_source_checkout_is_used(tmp_path: Path) -> None:
    (tmp_path / "estate").mkdir()
    checkout = _folder(tmp_path / "checkout")
    assert playbook_folder(tmp_path / "estate", None, checkout) == checkout.resolve()
    # a packaged folder that is named but absent does not count
    assert playbook_folder(tmp_path / "estate", tmp_path / "gone", checkout) == \
        checkout.resolve()


def test_none_found_says_what_is_missing_and_how_to_fix_it(tmp_path: Path) -> None:
    (tmp_path / "estate").mkdir()
    with pytest.raises(GovcloudError) as err:
        playbook_folder(tmp_path / "estate", None, None)
    text = err.value.render()
    assert f"the estate {tmp_path / 'estate'} has no playbooks/ folder" in text
    assert "govcloud/_playbooks is missing" in text
    assert "pip install --force-reinstall govcloud" in text
    assert "copy playbooks/" in text


def test_this_checkout_has_no_packaged_copy_and_finds_its_own_playbooks() -> None:
    # The tests run from the source checkout: nothing is built into govcloud/ here.
    assert packaged_playbooks() is None
    assert checkout_playbooks() == (REPO / "playbooks").resolve()


def _tracked(*paths: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "--", *paths], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    return out.splitlines()


@pytest.mark.slow
def test_the_wheel_carries_the_playbooks_built_from_playbooks_folder(tmp_path: Path) -> None:
    # No copy is kept in git: nothing under govcloud/ but Python and the package data that
    # pyproject.toml declares (py.typed, init's estate templates, the portal's pages and
    # style), each checked in the wheel below.
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["govcloud"]
    data = [f for f in _tracked("govcloud") if not f.endswith(".py")]
    assert [f for f in data if not any(fnmatch.fnmatch(f.removeprefix("govcloud/"), pattern)
                                       for pattern in declared)] == []
    assert {"govcloud/templates/govcloud.yaml", "govcloud/py.typed"} <= set(data)
    # Build from the tracked files only, so a stray untracked copy cannot fill the wheel.
    src = tmp_path / "src"
    for name in _tracked():
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--disable-pip-version-check", "-w", str(dist), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = dist.glob("govcloud-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    roles = [f for f in _tracked("playbooks") if f.startswith("playbooks/roles/")]
    assert len(roles) >= 10, roles  # clamav, restic, webhost: tasks, handlers, templates
    expected = {"govcloud/_playbooks/" + f.removeprefix("playbooks/")
                for f in _tracked("playbooks")}
    assert "govcloud/_playbooks/webhosting.yml" in expected
    assert expected - names == set()
    assert {n for n in names if n.startswith("govcloud/_playbooks/")} == expected
    assert "govcloud/py.typed" in names
    assert set(data) <= names  # govcloud init and serve work from an installed wheel

    # Installed from the wheel (no checkout beside it), govcloud finds the packaged set.
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--disable-pip-version-check", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (tmp_path / "estate").mkdir()
    probe = ("import json, sys; from pathlib import Path; "
             "from govcloud.services.playbooks import checkout_playbooks, "
             "packaged_playbooks, playbook_folder as f; "
             "print(json.dumps([str(packaged_playbooks()), str(checkout_playbooks()), "
             "str(f(Path(sys.argv[1]), packaged_playbooks(), checkout_playbooks()))]))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "estate")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    packaged, checkout, used = json.loads(proc.stdout)
    assert packaged == str((site / "govcloud" / "_playbooks").resolve())
    assert checkout == "None"
    assert used == packaged
    assert (Path(used) / "roles" / "webhost" / "tasks" / "main.yml").read_text() == \
        (REPO / "playbooks" / "roles" / "webhost" / "tasks" / "main.yml").read_text()
