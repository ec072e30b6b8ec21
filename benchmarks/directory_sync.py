"""govcloud directory sync against a large directory: a real OpenLDAP server (Debian's
slapd, .ci/install-directory) holding a city, its districts and their departments, and the
people of each department with the groups that give their roles.

Goal (issue #25): 10,000 organisations and 50,000 people synced (the dry run's read and
diff, then --yes: records, audit, a plan skeleton per new department) in at most 60 s, on
this machine. The tree is written as LDIF and loaded with slapadd into slapd's database
before it starts (loading 60,000 entries over LDAP would take minutes); then the estate
(``govcloud init``) is pointed at it and synced twice: the first sync imports everything,
the second finds nothing to change.

    pip install -e '.[bench,directory]'
    python benchmarks/directory_sync.py            # 10,000 organisations, 50,000 people
    python benchmarks/directory_sync.py --quick    # 200 organisations, 1,000 people

Figures: the slapadd time, each sync's read + diff and apply, and the total of the first.
Exit code 1 when the goal is missed at the full size (a --quick run fails only on errors).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks import slapd  # noqa: E402

GOAL_SECONDS = 60.0
GROUPS = ("govcloud-members", "govcloud-approvers")


def ldif(organisations: int, people: int, districts: int) -> str:
    """The directory: the example's base entries, then a city, ``districts`` districts and
    the rest departments spread over them, ``people`` people spread over the departments,
    and per district a members' and an approvers' group (one approver per department)."""
    base = slapd.EXAMPLE.read_text(encoding="utf-8").split("\n\n")
    keep = [e for e in base if "dn: ou=" in e and any(
        f"dn: ou={ou},{slapd.SUFFIX}" in e for ou in ("people", "groups", "services",
                                                      "policies"))
            or f"dn: {slapd.SUFFIX}" in e or f"dn: {slapd.SERVICE}" in e
            or f"dn: cn=default,ou=policies,{slapd.SUFFIX}" in e]
    out = keep + [f"dn: ou=city,{slapd.SUFFIX}\nobjectClass: organizationalUnit\n"
                  "objectClass: govcloudOrganisation\nou: city\ngovcloudCode: city"]
    departments = organisations - 1 - districts
    per_person = max(1, people // max(departments, 1))
    members: dict[int, list[str]] = {}
    approvers: dict[int, list[str]] = {}
    for d in range(districts):
        out.append(f"dn: ou=d{d},ou=city,{slapd.SUFFIX}\nobjectClass: organizationalUnit\n"
                   f"objectClass: govcloudOrganisation\nou: d{d}\ngovcloudCode: district-{d}")
    person = 0
    for n in range(departments):
        d = n % districts
        out.append(f"dn: ou=dept{n},ou=d{d},ou=city,{slapd.SUFFIX}\n"
                   "objectClass: organizationalUnit\nobjectClass: govcloudOrganisation\n"
                   f"ou: 第{n}局\ngovcloudCode: dept-{n}\ngovcloudCostCentre: CC-{n:06d}")
        for k in range(per_person if n < departments - 1 else people - person):
            dn = f"uid=p{person},ou=people,{slapd.SUFFIX}"
            out.append(f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: p{person}\ncn: p{person}"
                       f"\nsn: p\ndepartmentNumber: dept-{n}")
            (approvers if k == 0 else members).setdefault(d, []).append(dn)
            person += 1
    for d in range(districts):
        for cn, held in (("govcloud-members", members), ("govcloud-approvers", approvers)):
            if held.get(d):
                out.append(f"dn: cn={cn}-d{d},ou=groups,{slapd.SUFFIX}\n"
                           f"objectClass: groupOfNames\ncn: {cn}\n"
                           + "".join(f"member: {m}\n" for m in held[d]).rstrip("\n"))
    return "\n\n".join(e.strip("\n") for e in out if e.strip()) + "\n"


def estate(folder: Path, server: slapd.Slapd) -> Path:
    from govcloud.estate import onboarding

    root = folder / "estate"
    onboarding.init(root)
    settings = root / "govcloud.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + (
        f"\ndirectory:\n  url: {server.url}\n  bind_dn: {slapd.SERVICE}\n"
        "  password_env: GOVCLOUD_DIRECTORY_PASSWORD\n"
        f"  organisations_base: ou=city,{slapd.SUFFIX}\n"
        f"  people_base: ou=people,{slapd.SUFFIX}\n  groups_base: ou=groups,{slapd.SUFFIX}\n"
        f"  groups:\n    roles: {{{', '.join(f'{g}: {g[9:-1]}' for g in GROUPS)}}}\n"),
        encoding="utf-8")
    return root


def sync(root: Path) -> tuple[float, float, int, int]:
    from govcloud.estate import organisations

    t0 = time.perf_counter()
    found = organisations.plan(root)
    t1 = time.perf_counter()
    done = organisations.apply(root, found, "benchmark") if not found.empty else None
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(found.changes), len(done.written) if done else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="200 organisations and 1,000 people")
    parser.add_argument("--organisations", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--districts", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.organisations, args.people, args.districts = 200, 1000, 3
    os.environ["GOVCLOUD_DIRECTORY_PASSWORD"] = slapd.SERVICE_PASSWORD
    os.environ.setdefault("GOVCLOUD_NOW", "2026-12-01T09:00:00Z")
    with tempfile.TemporaryDirectory(prefix="govcloud-dirsync-") as tmp:
        folder = Path(tmp)
        tree = folder / "tree.ldif"
        tree.write_text(ldif(args.organisations, args.people, args.districts),
                        encoding="utf-8")
        t0 = time.perf_counter()
        server = slapd.start(folder / "slapd", tree, timeout=120)
        loaded = time.perf_counter() - t0
        try:
            root = estate(folder, server)
            read1, apply1, changes1, written = sync(root)
            read2, apply2, changes2, _ = sync(root)
        finally:
            server.stop()
    total = read1 + apply1
    print(f"directory: {args.organisations:,} organisations, {args.people:,} people "
          f"(slapadd and start: {loaded:.1f} s)")
    print(f"first sync:  read + diff {read1:6.1f} s, apply {apply1:6.1f} s "
          f"({changes1:,} changes, {written:,} plans written); total {total:.1f} s")
    print(f"second sync: read + diff {read2:6.1f} s, apply {apply2:6.1f} s "
          f"({changes2} changes)")
    full = args.organisations >= 10_000 and args.people >= 50_000
    ok = changes1 >= args.organisations and changes2 == 0 and (
        not full or total <= GOAL_SECONDS)
    print(f"[{'ok' if ok else 'MISSED'}] goal: at most {GOAL_SECONDS:.0f} s for 10,000 "
          "organisations and 50,000 people" + ("" if full else " (judged at full size)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
