"""Large estates are checked by one process per idle core: same findings, same plans, same
order as checking them one file after another."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.estate_gen import generate
from govcloud.estate import loader as estate_module
from govcloud.estate.loader import check_estate
from tests.support.estate import edit


@pytest.mark.slow
def test_parallel_check_matches_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = generate(320, tmp_path / "estate")
    plans = root / "plans"
    # Problems spread over chunks: a duplicate server across far-apart files, a bad flavor,
    # a malformed file.
    edit(plans / "dept-00300.yaml", "name: d00300-s0", "name: d00003-s0")
    copied = plans / "dept-00150.yaml"
    shutil.copy(plans / "dept-00003.yaml", copied)
    edit(copied, "dept-00003", "dept-00150")
    edit(copied, "d00003", "d00150", count=None)  # server names and site domains
    edit(copied, "CC-00003", "CC-00150")
    edit(copied, "name: d00150-s0\n  flavor: m1.", "name: d00150-s0\n  flavor: m9.")
    (plans / "dept-00200.yaml").write_text("department: [\n")
    monkeypatch.setattr(estate_module, "workers", lambda files: 2)  # busy machine or not
    parallel = check_estate(root)
    monkeypatch.setattr(estate_module, "workers", lambda files: 1)
    serial = check_estate(root)
    assert parallel.diagnostics == serial.diagnostics
    assert parallel.plans == serial.plans
    assert parallel.files == serial.files == 320
    rendered = [d.render() for d in parallel.errors]
    assert any("plans/dept-00300.yaml" in r and "duplicate server 'd00003-s0'" in r
               for r in rendered)
    assert any("plans/dept-00150.yaml" in r and "flavor 'm9." in r for r in rendered)
    assert any(r.startswith("plans/dept-00200.yaml:2: malformed YAML") for r in rendered)
    assert len(parallel.plans) == 317


def test_processes_are_one_per_idle_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(estate_module.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3},
                        raising=False)
    for load, expected in ((0.0, 4), (1.2, 3), (2.6, 1), (9.0, 1)):
        monkeypatch.setattr(estate_module.os, "getloadavg", lambda load=load: (load, 0, 0))
        assert estate_module.workers(2000) == expected, load
    assert estate_module.workers(10) == 1  # a small estate: not worth a process
