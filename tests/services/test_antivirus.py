"""Antivirus for real: ClamAV fed only from the estate's mirror (a signature file the test
wrote), scheduled scans per the plans, findings attributed to exactly one department."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.rig import EICAR, SIGNATURE, Rig

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic]  # the rig runs every service playbook for real


def test_signatures_come_from_the_estate_mirror_only(rig: Rig) -> None:
    assert sorted(p.name for p in rig.path("clamav_mirror_dir").iterdir()) == \
        ["govcloud-test.ndb"]
    assert sorted(p.name for p in rig.path("clamav_db_dir").iterdir()) == ["govcloud-test.ndb"]


def test_scans_are_scheduled_per_plan(rig: Rig) -> None:
    """One cron file per department (cron ignores a whole file it cannot read), holding its
    scan's line."""
    scanned = sorted(dep for dep, data in rig.plans().items() if data.get("websites"))
    files = sorted(p.name for p in rig.path("cron_dir").glob("govcloud-antivirus*"))
    assert files == [f"govcloud-antivirus_{dep}" for dep in scanned]
    for dep in scanned:
        data = rig.plans()[dep]
        schedule = data.get("services", {}).get("antivirus", {}).get("schedule", "0 3 * * *")
        cron = (rig.path("cron_dir") / f"govcloud-antivirus_{dep}").read_text()
        assert cron.splitlines()[1:] == [f"{schedule} root {rig.bin('govcloud-avscan')} {dep}"]


def test_eicar_is_found_and_attributed_to_exactly_its_department(rig: Rig) -> None:
    plans = rig.plans()
    with_sites = sorted(d for d, p in plans.items() if p.get("websites"))
    victim = with_sites[len(with_sites) // 2]
    site = plans[victim]["websites"][0]["domain"]
    docroot = rig.path("web_root") / victim / site
    infected = docroot / "uploads" / "invoice.pdf.com"
    infected.parent.mkdir(exist_ok=True)
    infected.write_text(EICAR)
    (docroot / "clean.txt").write_text("nothing to see")
    try:
        # run every department's scan, as cron does at each department's time
        for dep in with_sites:
            proc = subprocess.run([rig.bin("govcloud-avscan"), dep], capture_output=True,
                                  text=True)
            assert proc.returncode == (1 if dep == victim else 0), (dep, proc.stdout,
                                                                     proc.stderr)
        report = rig.gc_json("report", "security", ok_codes=(2,))
        found = [(r["department"], f["path"], f["signature"]) for r in report
                 for f in r["findings"]]
        assert found == [(victim, str(infected), f"{SIGNATURE}.UNOFFICIAL")]
        scanned = {r["department"] for r in report if r["last_scan"]}
        assert scanned == set(with_sites)
        text = rig.gc("report", "security", check=False)
        assert text.returncode == 2
        assert f"{victim}: localhost:{infected}: {SIGNATURE}" in text.stdout
    finally:
        infected.unlink()
    # once cleaned, the next scan clears the finding
    subprocess.run([rig.bin("govcloud-avscan"), victim], check=True)
    report = rig.gc_json("report", "security", "--department", victim)
    assert report == [{"department": victim, "hosts": ["localhost"],
                       "last_scan": report[0]["last_scan"], "findings": []}]
