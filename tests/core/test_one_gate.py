"""Validation is the one gate (#22, cases 1-3): a value the services' inventory, a cron file
or the estate's reader would refuse is refused at validate and in a request's verdict first,
by the same function (``core.patterns.fits``, ``core.cron.problem``), so that one
department's request can never stop another's scans, backups or plans.

On the example estate, through the real loader, the real request assessment and filing (the
example ``small-inside-quota`` rule approves small requests with no person involved), and
the real inventory builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.core.desired import Resource
from govcloud.core.documents import MAX_FILE_BYTES
from govcloud.estate.loader import check_estate
from govcloud.requests import assessment, decisions
from govcloud.requests.decisions import RequestRefused
from govcloud.services import inventory
from govcloud.services.inventory import InventoryError
from tests.support.estate import copy_estate, edit, line_of

# Each schedule passed validate on the old main, and Debian's cron (3.0pl1) refuses the
# line: "Syntax error, this crontab file will be ignored", for every department of the file.
REFUSED_BY_CRON = {
    "60 24 32 13 8": "minute field '60': 60 is outside 0-59",
    "*/0 * * * *": "minute field '*/0': the step in '*/0' must be a whole number from 1 to 99",
    "0 0 0 * *": "day of month field '0': 0 is outside 1-31",
    "0 0 * 0 *": "month field '0': 0 is outside 1-12 or jan-dec",
    "0 0 * * 8": "weekday field '8': 8 is outside 0-7 or sun-sat",
}
ACCEPTED = ["30 2 * * 1-5", "0 3 * jan-mar mon-fri", "*/15 0-23/2 1,15 * 7", "59 23 31 12 0",
            "0 0 1 DEC SUN", "5-55/10 * * * *",
            # a day only some chosen months have; a weekday with it (cron runs on either)
            "0 2 31 */2 *", "0 2 29 2 *", "0 2 31 2 1", "0 2 30-31 2,4 *"]
# Cron takes these lines and never runs them: a backup or scan that silently never happens.
NEVER_RUNS = ["0 2 31 2 *", "0 2 30 feb *", "0 2 31 4,6,9,11 *", "0 2 31 2-4/2 *"]


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return copy_estate(tmp_path / "estate")


def _assess(root: Path, payload: dict[str, Any]) -> assessment.Verdict:
    with engine.records(root) as (est, _):
        return assessment.assess(est, "finance", {**payload, "department": "finance",
                                                  "reason": "test"})


def _applied(kind: str, name: str, attrs: dict[str, Any]) -> dict[str, Resource]:
    res = [Resource("project", "finance", "finance", {"name": "青岛市财政局",
                                                       "zone": "intranet"}),
           Resource(kind, "finance", name, attrs)]
    return {r.key: r for r in res}


@pytest.mark.parametrize("service", ["antivirus", "backup"])
@pytest.mark.parametrize("schedule", list(REFUSED_BY_CRON))
def test_a_schedule_cron_refuses_is_refused_at_validate_naming_file_line_field_and_fix(
        estate: Path, service: str, schedule: str) -> None:
    plan = estate / "plans" / "finance.yaml"
    old = {"antivirus": '"0 2 * * *"', "backup": '"30 0 * * *"'}[service]
    edit(plan, f"schedule: {old}", f'schedule: "{schedule}"')
    errors = check_estate(estate).errors
    assert [(e.file, e.line, e.path) for e in errors] == [
        ("plans/finance.yaml", line_of(plan, schedule), f"services.{service}.schedule")]
    assert errors[0].message == (f"{schedule!r} is not a schedule cron accepts: "
                                 f"{REFUSED_BY_CRON[schedule]}")
    assert errors[0].hint.startswith("write five fields separated by single spaces: minute "
                                     "0-59, hour 0-23, day of month 1-31, month 1-12 or "
                                     "jan-dec, weekday 0-7 or sun-sat")
    # The inventory refuses the very same value (it writes the shared cron files' lines).
    with pytest.raises(InventoryError, match=f"refusing {service} schedule"):
        inventory.departments(_applied(service, "finance", {"enabled": True,
                                                             "schedule": schedule}), "gc-")


@pytest.mark.parametrize("schedule", list(REFUSED_BY_CRON))
def test_a_request_for_such_a_schedule_is_refused_not_auto_approved(
        estate: Path, schedule: str) -> None:
    for kind in ("antivirus", "backup"):
        verdict = _assess(estate, {"kind": kind, kind: {"schedule": schedule}})
        assert not verdict.ok and not verdict.chain, (kind, schedule)
        assert REFUSED_BY_CRON[schedule] in verdict.errors[0]["message"]


@pytest.mark.parametrize("schedule", NEVER_RUNS)
def test_a_schedule_that_never_runs_is_refused_by_validate_and_the_inventory(
        estate: Path, schedule: str) -> None:
    plan = estate / "plans" / "finance.yaml"
    edit(plan, 'schedule: "30 0 * * *"', f'schedule: "{schedule}"')
    errors = check_estate(estate).errors
    assert [(e.file, e.path) for e in errors] == [("plans/finance.yaml",
                                                   "services.backup.schedule")]
    assert "so cron would never run it" in errors[0].message
    assert "1-28 fits all" in errors[0].message
    with pytest.raises(InventoryError, match="refusing backup schedule"):
        inventory.departments(_applied("backup", "finance", {"enabled": True,
                                                          "schedule": schedule}), "gc-")


@pytest.mark.parametrize("schedule", ACCEPTED)
def test_schedules_cron_reads_as_written_pass_both(estate: Path, schedule: str) -> None:
    verdict = _assess(estate, {"kind": "antivirus", "antivirus": {"schedule": schedule}})
    assert verdict.ok, verdict.errors
    deps = inventory.departments(_applied("antivirus", "finance", {
        "enabled": True, "schedule": schedule}), "gc-")
    assert deps["finance"]["antivirus"]["schedule"] == schedule


# --- 2: validate and the inventory apply one rule ------------------------------------------

def test_a_server_name_with_dots_in_a_row_is_refused_by_the_request_and_the_inventory(
        estate: Path) -> None:
    verdict = _assess(estate, {"kind": "servers", "server": {
        "name": "fin..x", "flavor": "m1.large", "image": "kylin-v10-sp3"}})
    assert not verdict.ok and not verdict.chain
    assert verdict.errors[0]["message"] == "'fin..x' contains '..', which would walk out " \
                                           "of a folder"
    assert verdict.errors[0]["hint"].startswith("remove the '..'; use lowercase letters")
    with pytest.raises(InventoryError, match="refusing server name 'fin..x'"):
        inventory.departments(_applied("server", "fin..x", {}), "gc-")


def test_an_upstream_climbing_with_dots_is_refused_by_the_request_and_the_inventory(
        estate: Path) -> None:
    upstream = "http://10.0.0.1/a/../../b"
    verdict = _assess(estate, {"kind": "website", "website": {
        "domain": "fin-api.qingdao.gov.cn", "kind": "proxy", "upstream": upstream,
        "public": False}})
    assert not verdict.ok and not verdict.chain
    assert "contains '..'" in verdict.errors[0]["message"]
    with pytest.raises(InventoryError, match="refusing upstream"):
        inventory.departments(_applied("website", "fin-api.qingdao.gov.cn", {
            "kind": "proxy", "upstream": upstream, "zone": "intranet"}), "gc-")


@pytest.mark.parametrize("port", ["0", "99999"])
def test_an_upstream_port_nginx_would_refuse_is_refused_by_the_request_and_the_inventory(
        estate: Path, port: str) -> None:
    upstream = f"http://10.20.0.7:{port}/"
    verdict = _assess(estate, {"kind": "website", "website": {
        "domain": "fin-api.qingdao.gov.cn", "kind": "proxy", "upstream": upstream,
        "public": False}})
    assert not verdict.ok and not verdict.chain
    assert verdict.errors[0]["message"] == f"port {port} of {upstream!r} is outside 1-65535"
    with pytest.raises(InventoryError, match="refusing upstream"):
        inventory.departments(_applied("website", "fin-api.qingdao.gov.cn", {
            "kind": "proxy", "upstream": upstream, "zone": "intranet"}), "gc-")


def test_a_replica_name_too_long_for_a_server_name_is_refused_at_validate(
        estate: Path) -> None:
    """A 63-character name is a valid server name; its second replica ('-2') is not, and
    the inventory refuses it: validate names the server and the fix."""
    plan = estate / "plans" / "finance.yaml"
    long = "fin-" + "a" * 59
    edit(plan, "- name: fin-budget-app", f"- name: {long}")
    errors = check_estate(estate).errors
    assert [(e.line, e.path) for e in errors] == [(line_of(plan, long), "servers[1].name")]
    assert errors[0].message == f"replica name '{long}-2' is not a valid server name (at " \
                                "most 63 characters)"
    assert errors[0].hint.startswith("shorten the name so that '-3' fits")
    with pytest.raises(InventoryError, match="refusing server name"):
        inventory.departments(_applied("server", f"{long}-2", {}), "gc-")


def test_a_department_name_with_dots_is_free_text_for_both(estate: Path) -> None:
    """'..' means nothing in a display name (HTML-escaped where shown, never a path): both
    accept it, where the old inventory refused a name validate had passed."""
    edit(estate / "plans" / "finance.yaml", "name: 青岛市财政局", "name: 青岛市财政局...")
    assert not check_estate(estate).errors
    deps = inventory.departments({"p": Resource("project", "finance", "finance", {
        "name": "青岛市财政局...", "zone": "intranet"})}, "gc-")
    assert deps["finance"]["name"] == "青岛市财政局..."


# --- 3: one request cannot make a plan nobody can read ------------------------------------

def test_backup_paths_longer_than_path_max_are_refused(estate: Path) -> None:
    """The reproduction: 20 paths of ~50,000 characters (999,781 B of JSON) was
    auto-approved and grew plans/finance.yaml over the reader's 1 MB cap."""
    paths = [f"/srv/{i:02d}" + "/" + "a" * 200 * 1 for i in range(20)]
    paths = [p + ("/" + "b" * 250) * 199 for p in paths]
    assert all(49_000 < len(p) < 51_000 for p in paths)
    before = (estate / "plans" / "finance.yaml").read_bytes()
    verdict = _assess(estate, {"kind": "backup", "backup": {"paths": paths}})
    assert not verdict.ok and not verdict.chain
    assert [e["path"] for e in verdict.errors][:2] == ["backup.paths[0]", "backup.paths[1]"]
    assert verdict.errors[0]["message"].startswith("is ") and "over 4096" in \
        verdict.errors[0]["message"]
    assert (estate / "plans" / "finance.yaml").read_bytes() == before
    one_name_too_long = _assess(estate, {"kind": "backup", "backup": {
        "paths": ["/srv/" + "c" * 256]}})
    assert not one_name_too_long.ok
    assert "over 255 characters (NAME_MAX)" in one_name_too_long.errors[0]["message"]


def test_an_edit_that_would_grow_the_plan_over_the_readers_limit_is_refused_before_it_is_written(
        estate: Path) -> None:
    """Within the schema's limits, a plan already near the reader's cap: the request's edit
    would pass it, and is refused (filing it writes nothing) instead of being written."""
    plan = estate / "plans" / "finance.yaml"
    text = plan.read_text(encoding="utf-8")
    pad = MAX_FILE_BYTES - len(text.encode()) - 40_000
    plan.write_text(text + "# " + "x" * (pad - 3) + "\n", encoding="utf-8")
    before = plan.read_bytes()
    assert not check_estate(estate).errors  # the plan as it is, under the cap, is fine
    paths = [f"/srv/{i:02d}/" + "/".join(["d" * 200] * 20) for i in range(20)]
    with engine.records(estate) as (est, store):
        users.add(store, set(est.plans), "li", "member", "finance", "correct horse battery",
                  "test")
        with pytest.raises(RequestRefused) as refused:
            decisions.submit(est, store, users.find(store, "li"), {
                "kind": "backup", "department": "finance", "reason": "test",
                "backup": {"paths": paths}}, "test")
    assert str(refused.value).startswith(
        "the request cannot be filed: the edited file would be ")
    assert f"over the {MAX_FILE_BYTES:,}-byte limit of the estate's reader" in \
        str(refused.value)
    assert plan.read_bytes() == before
    assert not check_estate(estate).errors


@pytest.mark.parametrize("path", ["/proc", "/proc/self/root", "/sys/kernel", "/dev/sda",
                                  "/run/secrets"])
def test_a_backup_path_in_the_systems_live_folders_is_refused_by_the_request_and_the_inventory(
        estate: Path, path: str) -> None:
    """#22 ('paths: sensitive system folders') and a trial: /proc, /sys, /dev and /run were
    valid backup paths (reading /dev/sda or /proc/kcore is no backup)."""
    verdict = _assess(estate, {"kind": "backup", "backup": {"paths": ["/srv/data", path]}})
    assert not verdict.ok
    assert any("the system's live folder" in e["message"] for e in verdict.errors), \
        verdict.errors
    with pytest.raises(InventoryError, match="refusing backup path"):
        inventory.departments(_applied("backup", "finance", {
            "enabled": True, "schedule": "30 1 * * *", "paths": [path],
            "retention": {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 0}}), "gc-")
