"""Every benchmark runs as its docstring says (issue #19): the commands are read from each
file's docstring, so the test fails when a docstring drifts from the script.

* every flag a documented command passes is one the script accepts (its ``--help``);
* every documented install names extras that pyproject.toml declares;
* each benchmark's quick check (the documented command marked ``quick``: the flag or the
  comment) runs as a whole process from the checkout's root, exits 0 and prints its figures.
  Paths under /tmp in the command are moved under the test's own folder; ``python`` is the
  interpreter running the tests, with this checkout's ``govcloud`` on its path and nothing
  else of the checkout (what ``pip install -e`` of it gives).

Benchmarks that need a real component are not run here (the components they need are
named in ``REAL``); those run by another benchmark, in ``RUN_BY``.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks"
REAL = {"backup_dr": "root, ansible, restic, ClamAV and nginx",
        "openstack_apply": "the OpenStack test cloud",
        "directory_sync": "slapd (.ci/install-directory)"}
RUN_BY = {"watcher_consolidate": "placement.py --watcher-python (needs python-watcher)"}
# What each quick check prints when it has measured: a line of its figures.
FIGURES = {
    "apply_scale": r"lopsided: per change at 40 / at 4: [\d.]+×[\s\S]*every one asked for "
                   r"exactly once: True",
    "chargeback": r"ratio baseline / govcloud: [\d.]+×; same fen everywhere: True",
    "estate_gen": r"estate-3$",
    "exporter_load": r"burst 1: 5 concurrent scrapes: p50 \d+ ms, p95 \d+ ms",
    "placement": r"\[ok\] hard instances: within 1 host of the optimum",
    "portal": r"department +\d+ +0 +\d+ +\d+[\s\S]*district +\d+ +0 +\d+ +\d+",
    "startup": r"govcloud --version +[\d.]+ +≤ 0\.10",
    "validate_plan": r"servers +govcloud plan -o json +[\d.]+ +[\d.]+ +[\d.]+×",
}
SLOW = {"placement", "exporter_load", "validate_plan", "portal", "startup",
        "apply_scale"}  # 10 s to a minute each


@dataclass(frozen=True)
class Command:
    script: str  # benchmarks/<script>.py
    env: dict[str, str]
    args: tuple[str, ...]
    comment: str

    @property
    def quick(self) -> bool:
        return "--quick" in self.args or "quick" in self.comment


def _scripts() -> list[Path]:
    """The benchmarks that run: every file of benchmarks/ with a ``__main__`` block."""
    return sorted(p for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text())


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def _commands(path: Path) -> list[Command]:
    """The command lines of a docstring that run a benchmark: ``[VAR=value ...] python[3]
    benchmarks/<name>.py [args]  [# comment]``; ``[optional]`` arguments count as given."""
    out = []
    for line in _docstring(path).splitlines():
        text, _, comment = line.strip().partition("#")
        if "benchmarks/" not in text or not re.match(r"(\w+=\S+ )*python3? ", text):
            continue
        words = shlex.split(re.sub(r"[\[\]]", "", text))
        env = dict(w.split("=", 1) for w in words if re.fullmatch(r"\w+=\S+", w))
        words = [w for w in words if not re.fullmatch(r"\w+=\S+", w)]
        script = words[1].removeprefix("benchmarks/").removesuffix(".py")
        out.append(Command(script, env, tuple(words[2:]), comment.strip()))
    return out


def _installs(path: Path) -> list[set[str]]:
    """The extras of every ``pip install -e '.[a,b]'`` line of a docstring."""
    found = re.findall(r"pip install -e '\.\[([\w,]+)\]'", _docstring(path))
    return [set(extras.split(",")) for extras in found]


def _env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment ``pip install -e .`` of this checkout gives: its ``govcloud`` package
    importable, and nothing else of it (not ``benchmarks``, not ``tests``)."""
    site = tmp / "site"
    site.mkdir(exist_ok=True)
    if not (site / "govcloud").exists():
        (site / "govcloud").symlink_to(REPO / "govcloud", target_is_directory=True)
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, **extra, "PYTHONPATH": path, "TMPDIR": str(tmp)}


def _quick(name: str) -> Command:
    (quick,) = [c for c in _commands(BENCH / f"{name}.py") if c.script == name and c.quick]
    return quick


def test_every_benchmark_documents_how_it_is_installed_and_run() -> None:
    """Each one names the install and its commands; each that runs on its own has exactly
    one quick check; the extras named exist."""
    extras = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
                 ["optional-dependencies"])
    for path in _scripts():
        name = path.stem
        installs = _installs(path) or _installs(BENCH / "placement.py") * (name in RUN_BY)
        assert installs, f"{path.name}: its docstring names no pip install -e '.[bench...]'"
        assert all("bench" in i and i <= extras for i in installs), (path.name, installs)
        own = [c for c in _commands(path) if c.script == name]
        if name in RUN_BY:
            continue
        assert own, f"{path.name}: its docstring shows no command that runs it"
        if name not in REAL:
            assert len([c for c in own if c.quick]) == 1, \
                f"{path.name}: one documented command should be its quick check (# quick)"
            assert name in FIGURES, f"{path.name}: say in FIGURES what its quick check prints"


@pytest.mark.parametrize("path", _scripts(), ids=lambda p: p.stem)
def test_every_documented_flag_exists(path: Path, tmp_path: Path) -> None:
    """The flags every docstring passes to this benchmark are in its ``--help``."""
    flags = {w.split("=")[0] for p in BENCH.glob("*.py") for c in _commands(p)
             if c.script == path.stem for w in c.args if w.startswith("--")}
    if not flags:
        return
    shown = subprocess.run([sys.executable, str(path), "--help"], cwd=REPO, text=True,
                           capture_output=True, env=_env(tmp_path, {}), timeout=120)
    assert shown.returncode == 0, shown.stderr
    missing = sorted(f for f in flags if not re.search(rf"{re.escape(f)}\b", shown.stdout))
    assert missing == [], f"{path.name} --help has no {', '.join(missing)}"


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else [])
             for n in sorted(FIGURES)])
def test_the_quick_check_runs_as_documented(name: str, tmp_path: Path) -> None:
    command = _quick(name)
    args = [str(tmp_path / a.removeprefix("/tmp/")) if a.startswith("/tmp/") else a
            for a in command.args]
    done = subprocess.run([sys.executable, f"benchmarks/{name}.py", *args], cwd=REPO,
                          env=_env(tmp_path, command.env), text=True, capture_output=True,
                          timeout=600)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert re.search(FIGURES[name], done.stdout, re.M), done.stdout[-3000:]


def test_the_portal_benchmark_runs_without_districts() -> None:
    """``benchmarks/portal.py`` with no --districts (its default) deals no department to a
    district; it divided by zero once (the first line of its docstring's commands)."""
    from benchmarks.portal import in_districts

    assert in_districts(["a", "b"], 0) == {}
    assert in_districts(["a", "b", "c"], 2) == {"district-00": ["a", "c"], "district-01": ["b"]}
