"""Issue #10's operator cases that are not a plan's printout (those are data cases in
cases/plan-*): rolling changes seen in the apply journal, a roll that stops on a failure,
hints that are valid input, history of an unknown apply, init and new department."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from govcloud.applying import engine
from tests.support.cli import govcloud
from tests.support.estate import REPO, copy_estate


def _estate(tmp_path: Path, *plans: str) -> Path:
    estate = copy_estate(tmp_path / "estate", plans=False)
    for name in plans:
        shutil.copy(REPO / "plans" / f"{name}.yaml", estate / "plans")
    return estate


def _journal(estate: Path) -> list[tuple[str, str, str]]:
    apply_id = json.loads(govcloud("history", "-o", "json", estate=estate, check=True)
                          .stdout)[0]["id"]
    rows = json.loads(govcloud("history", "--journal", apply_id, "-o", "json", estate=estate,
                               check=True).stdout)
    return [(r["key"], r["action"], r["phase"]) for r in rows]


def _flavors(estate: Path) -> dict[str, str]:
    with engine.session(estate) as s:
        return {r.name: r.attrs["flavor"] for r in s.driver.read() if r.kind == "server"}


def _grow_hall_web(estate: Path) -> None:
    path = estate / "plans" / "approval.yaml"
    text = path.read_text()
    old = "  - name: sp-hall-web            # online service hall (网上办事大厅) front end\n" \
          "    flavor: m1.large"
    assert old in text
    path.write_text(text.replace(old, old.replace("m1.large", "m1.xlarge")))


def test_group_members_change_one_at_a_time(tmp_path: Path) -> None:
    """Case 2: with every change slowed down, the three replicas of sp-hall-web (an
    anti-affinity group) are resized one after the other, never two at once."""
    estate = _estate(tmp_path, "approval")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    _grow_hall_web(estate)
    proc = govcloud("apply", "--yes", "--no-services", estate=estate,
                    env={"GOVCLOUD_SIM_DELAY": "0.3"}, check=True)
    assert "Apply complete: 3 done, 0 failed, 0 skipped" in proc.stdout
    journal = _journal(estate)
    members = ["approval/server/sp-hall-web", "approval/server/sp-hall-web-2",
               "approval/server/sp-hall-web-3"]
    expected = [(m, "resize", phase) for m in members for phase in ("started", "done")]
    assert journal == expected
    assert set(_flavors(estate)[m.rsplit("/", 1)[1]] for m in members) == {"m1.xlarge"}


def test_a_failure_stops_the_roll_with_the_rest_untouched(tmp_path: Path) -> None:
    """The quota lets one replica grow, not two (the quota policies are dropped, so the cloud
    refuses): the second fails, the third is never touched."""
    estate = _estate(tmp_path, "approval")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    rules = yaml.safe_load((estate / "policies" / "defaults.yaml").read_text())
    rules["rules"] = [r for r in rules["rules"] if not r["id"].startswith("quota-")]
    (estate / "policies" / "defaults.yaml").write_text(yaml.safe_dump(rules))
    _grow_hall_web(estate)
    path = estate / "plans" / "approval.yaml"
    path.write_text(path.read_text().replace("  cores: 72", "  cores: 61"))  # 56 in use, +4 each
    proc = govcloud("apply", "--yes", "--no-services", estate=estate)
    assert proc.returncode == 1
    assert "Failed: resize approval/server/sp-hall-web-2: department approval: quota " \
        "exceeded" in proc.stdout
    assert "Skipped 1 change(s) that depended on a failed one: approval/server/sp-hall-web-3" \
        in proc.stdout
    flavors = _flavors(estate)
    assert (flavors["sp-hall-web"], flavors["sp-hall-web-2"], flavors["sp-hall-web-3"]) == \
        ("m1.xlarge", "m1.large", "m1.large")
    rows = json.loads(govcloud("history", "--journal", _journal_id(estate), "-o", "json",
                               estate=estate, check=True).stdout)
    skipped = [r for r in rows if r["phase"] == "skipped"]
    assert [(r["key"], r["detail"]) for r in skipped] == [
        ("approval/server/sp-hall-web-3",
         "the roll stopped: approval/server/sp-hall-web-2 failed")]


def _journal_id(estate: Path) -> str:
    return str(json.loads(govcloud("history", "-o", "json", estate=estate, check=True)
                          .stdout)[0]["id"])


def test_history_of_an_unknown_apply_is_an_error(tmp_path: Path) -> None:
    """Case 9: it printed nothing and exited 0."""
    estate = _estate(tmp_path, "statistics")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    proc = govcloud("history", "--journal", "nonexistent", estate=estate)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no apply with id 'nonexistent' in the state store "
                                  f"(the latest: {_journal_id(estate)})")
    assert "copy an id from govcloud history" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_quota_hint_can_be_copied_into_the_plan(tmp_path: Path) -> None:
    """Case 7: the value a hint names is valid input, also for a flavor with a fraction of a
    GiB (3 × 1.5 GiB: the hint says 5, not 4.5)."""
    estate = _estate(tmp_path)
    settings = estate / "govcloud.yaml"
    settings.write_text(settings.read_text().replace(
        "    - {name: m1.small,  vcpus: 1, ram_gb: 2,  disk_gb: 20}",
        "    - {name: m1.small,  vcpus: 1, ram_gb: 2,  disk_gb: 20}\n"
        "    - {name: t1.half,   vcpus: 1, ram_gb: 1.5, disk_gb: 10}"))
    plan = estate / "plans" / "water.yaml"
    plan.write_text("department: {id: water, name: 青岛市水务管理局, cost_centre: CC-3001, "
                    "zone: extranet}\n"
                    "quota: {instances: 3, cores: 3, ram_gb: 4}\n"
                    "servers:\n  - {name: sw-app, flavor: t1.half, image: debian-12, count: 3,"
                    " anti_affinity: true}\n")
    proc = govcloud("validate", estate=estate)
    assert proc.returncode == 1
    found = re.search(r"need 4\.5 GiB — raise quota\.ram_gb to at least (\S+) \[quota-ram\]",
                      proc.stderr)
    assert found, proc.stderr
    assert found.group(1) == "5"
    plan.write_text(plan.read_text().replace("ram_gb: 4}", f"ram_gb: {found.group(1)}}}"))
    assert govcloud("validate", estate=estate).returncode == 0


def test_init_then_new_department_validates_and_plans(tmp_path: Path) -> None:
    estate = tmp_path / "new-estate"
    made = govcloud("init", str(estate))
    assert made.returncode == 0, made.stderr
    assert (estate / "govcloud.yaml").is_file() and (estate / "plans").is_dir()
    assert (estate / "policies" / "defaults.yaml").read_text() == \
        (REPO / "policies" / "defaults.yaml").read_text()
    assert govcloud("init", str(estate)).returncode == 1  # not empty: refused
    proc = govcloud("new", "department", "water", estate=estate)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Wrote plans/water.yaml; the estate validates (1 departments)" in proc.stdout
    text = (estate / "plans" / "water.yaml").read_text()
    assert text.count("\n#") >= 3 and "protected: true" in text  # commented, with options
    assert govcloud("validate", estate=estate).returncode == 0
    again = govcloud("new", "department", "water", estate=estate)
    assert again.returncode == 1 and "plans/water.yaml already exists" in again.stderr
    bad = govcloud("new", "department", "Water!", estate=estate)
    assert bad.returncode == 1 and "is not a department id" in bad.stderr
    plan = govcloud("plan", "--detailed-exitcode", "-o", "json", estate=estate)
    assert plan.returncode == 2
    data = json.loads(plan.stdout)
    assert {c["key"] for c in data["changes"]} >= {"water/project/water",
                                                   "water/server/water-app"}
    assert data["cost"]["departments"]["water"]["before"] == "0"
    assert govcloud("apply", "--yes", "--no-services", estate=estate).returncode == 0
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 0


def test_new_department_in_the_example_estate_takes_a_free_cost_centre(estate: Path) -> None:
    proc = govcloud("new", "department", "water", estate=estate)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = yaml.safe_load((estate / "plans" / "water.yaml").read_text())
    assert plan["department"]["cost_centre"] == "CC-WATER"
    assert plan["servers"][0]["flavor"] == "m1.small"


def test_new_department_over_a_removed_plan_with_applied_resources_is_refused(
        estate: Path) -> None:
    """`rm plans/statistics.yaml` then `new department statistics` wrote a fresh skeleton
    without a word, and the next apply would have replaced the department's servers."""
    assert govcloud("apply", "--yes", "--no-services", estate=estate).returncode == 0
    (estate / "plans" / "statistics.yaml").unlink()
    proc = govcloud("new", "department", "statistics", estate=estate)
    assert proc.returncode == 1
    assert "department statistics has no plan, but the state store holds" in proc.stderr
    assert "git checkout -- plans/statistics.yaml" in proc.stderr
    assert not (estate / "plans" / "statistics.yaml").exists()
    assert "Traceback" not in proc.stderr
    # after the department is pruned, its id is free again
    assert govcloud("apply", "--yes", "--prune", "--no-services", estate=estate).returncode == 0
    again = govcloud("new", "department", "statistics", estate=estate)
    assert again.returncode == 0, again.stdout + again.stderr


def test_new_department_over_a_pruned_plan_with_protected_resources_does_not_say_prune(
        estate: Path) -> None:
    """After `rm plans/finance.yaml; apply --prune`, finance's protected servers (and what
    they stand on) are still applied: the refusal pointed at --prune again, which keeps them."""
    assert govcloud("apply", "--yes", "--no-services", estate=estate).returncode == 0
    (estate / "plans" / "finance.yaml").unlink()
    assert govcloud("apply", "--yes", "--prune", "--no-services", estate=estate).returncode == 0
    proc = govcloud("new", "department", "finance", estate=estate)
    assert proc.returncode == 1
    assert "department finance has no plan, but the state store holds" in proc.stderr
    assert "delete the department's resources first with govcloud apply --prune" \
        not in proc.stderr
    assert "'protected: false'" in proc.stderr
    assert "--prune never deletes a protected resource" in proc.stderr
    assert not (estate / "plans" / "finance.yaml").exists()


def test_new_department_refuses_a_state_store_that_is_gone(estate: Path) -> None:
    """The store deleted, its lock file left: every other command says it is missing;
    new department wrote a skeleton as if nothing had ever been applied."""
    assert govcloud("apply", "--yes", "--no-services", estate=estate).returncode == 0
    state = estate / ".state"
    for name in ("govcloud.db", "govcloud.db-wal", "govcloud.db-shm"):
        (state / name).unlink(missing_ok=True)
    assert (state / "govcloud.db.lock").exists()
    proc = govcloud("new", "department", "water", estate=estate)
    assert proc.returncode == 1
    assert "is missing, though its lock file is there" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (estate / "plans" / "water.yaml").exists()
    assert not (state / "govcloud.db").exists()


def test_new_department_makes_no_state_store(tmp_path: Path) -> None:
    estate = tmp_path / "fresh"
    assert govcloud("init", str(estate)).returncode == 0
    assert govcloud("new", "department", "water", estate=estate).returncode == 0
    assert not (estate / ".state").exists()


def test_init_takes_a_fresh_git_repository(tmp_path: Path) -> None:
    """An estate is a folder kept in git: `git init FOLDER`, then `govcloud init FOLDER`
    (init refused the folder as not empty, for its .git alone). Any other file still makes
    the folder not empty."""
    estate = tmp_path / "estate"
    (estate / ".git").mkdir(parents=True)
    made = govcloud("init", str(estate))
    assert made.returncode == 0, made.stderr
    assert (estate / "govcloud.yaml").is_file() and (estate / ".git").is_dir()
    other = tmp_path / "other"
    (other / ".git").mkdir(parents=True)
    (other / "notes.txt").write_text("mine\n")
    refused = govcloud("init", str(other))
    assert refused.returncode == 1 and "is not an empty folder" in refused.stderr
    assert not (other / "govcloud.yaml").exists()


def test_history_refuses_an_empty_id_and_a_limit_below_one(tmp_path: Path) -> None:
    """`history --journal ""` listed the applies as if no id was given (exit 0), and
    `history --limit 0` said "No applies recorded yet." of a store that has some."""
    estate = _estate(tmp_path, "statistics")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    empty = govcloud("history", "--journal", "", estate=estate)
    assert empty.returncode == 1, empty.stdout
    assert empty.stderr.startswith("Error: no apply with id '' in the state store")
    for limit in ("0", "-1"):
        proc = govcloud("history", "--limit", limit, estate=estate)
        assert proc.returncode == 1, proc.stdout  # one line and the range (#22 case 13)
        assert proc.stderr == f"Error: --limit {limit} is out of range — give how many " \
            "applies to list from 1 to 100,000\n"
        assert "No applies recorded yet." not in proc.stdout


def test_the_last_department_can_be_pruned(tmp_path: Path) -> None:
    """An estate with no plan left (its last department removed, or just made by init) is
    valid, with a warning: plan, prune, drift, show and history work on it. Every command
    refused it ("no tenancy plans found"), so the last department could never be pruned."""
    estate = tmp_path / "estate"
    govcloud("init", str(estate), check=True)
    checked = govcloud("validate", estate=estate)
    assert checked.returncode == 0, checked.stderr
    assert "plans/: warning: no tenancy plans found" in checked.stdout + checked.stderr
    govcloud("new", "department", "water", estate=estate, check=True)
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    (estate / "plans" / "water.yaml").unlink()
    plan = govcloud("plan", "--detailed-exitcode", estate=estate)
    assert plan.returncode == 2, plan.stderr
    assert "department water has no plan" in plan.stdout
    pruned = govcloud("apply", "--yes", "--no-services", "--prune", estate=estate)
    assert pruned.returncode == 0, pruned.stderr
    assert "Apply complete: 8 done, 0 failed" in pruned.stdout
    for command in (["plan", "--detailed-exitcode"], ["drift"], ["show"], ["history"]):
        proc = govcloud(*command, estate=estate)
        assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"


def test_new_department_comments_line_up(estate: Path) -> None:
    """The skeleton's comments on the department's lines stand in one column, whatever the
    id's length (they followed the id's length: 'id: water                 #')."""
    govcloud("new", "department", "water", estate=estate, check=True)
    lines = (estate / "plans" / "water.yaml").read_text().splitlines()
    block = lines[lines.index("department:") + 1:lines.index("department:") + 7]
    assert len({line.index(" # ") for line in block}) == 1, "\n".join(block)
