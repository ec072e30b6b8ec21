"""Validate + plan time for large estates, next to the time to only parse the same YAML.

Goal (issue #2): 2,000 departments validated and planned in ≤ 3 s and ≤ 3× parse-only.
Each figure is the median of several runs in this process; the machine is noisy, so the ratio
(measured side by side) is the number to watch.

    python benchmarks/validate_plan.py            # 81 and 2,000 departments
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.estate_gen import generate  # noqa: E402
from govcloud.core.desired import desired_state  # noqa: E402
from govcloud.core.planning import make_plan  # noqa: E402
from govcloud.runtime.files import quiet_gc  # noqa: E402
from govcloud.runtime.loader import check_estate  # noqa: E402

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

RUNS = 5


def parse_only(root: Path) -> int:
    n = 0
    for path in sorted((root / "plans").glob("*.yaml")):
        yaml.load(path.read_bytes(), Loader=Loader)
        n += 1
    return n


def validate_and_plan(root: Path) -> tuple[int, int]:
    checked = check_estate(root)
    estate = checked.estate()
    # Planned against a cloud where every resource exists but one server per department
    # differs (a realistic day: mostly no-ops, some changes to find).
    with quiet_gc():
        desired = desired_state(estate)
        plan = make_plan(desired, ACTUAL[root], set(estate.plans))
    assert plan.has_changes
    return len(estate.plans), len(plan.changes)


ACTUAL: dict[Path, list] = {}


def actual_state(root: Path) -> list:
    """The cloud as the sim driver would return it after an apply, with some drift."""
    from govcloud.core.desired import Resource

    estate = check_estate(root).estate()
    out, seen = [], set()
    for res in desired_state(estate).values():
        attrs = dict(res.attrs)
        if res.kind == "server" and res.department not in seen:
            seen.add(res.department)
            attrs["flavor"] = "m1.small"
        out.append(Resource(res.kind, res.department, res.name, attrs, res.protected,
                            {"id": res.key, "host": "h1"}))
    return out


def median_time(fn, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(RUNS):
        t = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> int:
    ok = True
    print(f"{'departments':>11} {'resources':>9} {'parse-only s':>12} {'validate+plan s':>15} "
          f"{'ratio':>6}  goal")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (81, 2000):
            root = generate(n, Path(tmp) / f"estate-{n}")
            ACTUAL[root] = actual_state(root)
            parse_s, _ = median_time(parse_only, root)
            full_s, (deps, changes) = median_time(validate_and_plan, root)
            ratio = full_s / parse_s
            goal = ""
            if n == 2000:
                met = full_s <= 3.0 and ratio <= 3.0
                ok &= met
                goal = "≤ 3 s and ≤ 3×: " + ("met" if met else "MISSED")
            print(f"{deps:>11} {changes:>9} {parse_s:>12.3f} {full_s:>15.3f} {ratio:>5.2f}×  "
                  f"{goal}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
