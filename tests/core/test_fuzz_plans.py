"""Property: no malformed plan, however broken, makes validation raise or print a traceback;
every problem comes out as a located diagnostic with a hint."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govcloud.estate.loader import check_estate
from tests.support.cli import govcloud
from tests.support.estate import copy_estate
from tests.support.paths import paths
from tests.support.pyramid import sized

VALID = yaml.safe_load((Path(__file__).parent / "cases/valid/plans/water.yaml").read_text())

junk = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["a;b", "x}", "{y", "../../etc", "a\nb", "'q'", '"q"', "/", "..", "$(id)",
                     "`id`", "m1.large", "debian-12", "intranet", "", " "]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                          max_size=3),
)


@st.composite
def malformed_plan(draw: st.DrawFn) -> str:
    plan = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        inner = [p for p in paths(plan) if p]
        path = draw(st.sampled_from(inner))
        parent = plan
        for part in path[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["set", "delete", "add-key"]))
        if op == "set":
            parent[path[-1]] = draw(junk)
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(junk)
        if not isinstance(plan, dict) or not plan:
            break
    text = yaml.safe_dump(plan, allow_unicode=True, sort_keys=False)
    mangle = draw(st.sampled_from(["none", "none", "truncate", "indent", "tab", "bytes"]))
    if mangle == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif mangle == "indent":
        lines = text.splitlines()
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if lines:
            lines[i] = "   " + lines[i]
        text = "\n".join(lines)
    elif mangle == "tab":
        text = text.replace("  ", "\t", 1)
    elif mangle == "bytes":
        pos = draw(st.integers(0, len(text)))
        noise = draw(st.sampled_from(["\x00", ": :", "[", "&x *x", "\ufeff",
                                      "!!python/object:os.system {}"]))
        text = text[:pos] + noise + text[pos:]
    return text


PLANS = sized(ci=2000, dev=300)


@pytest.mark.slow
def test_malformed_plans_never_raise(tmp_path_factory) -> None:
    """2,000 generated malformed plans under CI=true, 300 elsewhere (tests/support/pyramid.py);
    more than half of them must really be broken."""
    estate = copy_estate(tmp_path_factory.mktemp("fuzz") / "estate", plans=False)
    target = estate / "plans" / "water.yaml"
    seen_errors = [0]

    @settings(max_examples=PLANS, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(malformed_plan())
    def run(text: str) -> None:
        target.write_text(text)
        checked = check_estate(estate)
        for d in checked.diagnostics:
            assert d.file.startswith("plans/") or d.file == "govcloud.yaml"
            assert d.message and d.hint, d
            assert d.line >= 1
        if checked.errors:
            seen_errors[0] += 1
        else:
            assert len(checked.plans) == 1  # a plan that passes is a usable plan

    run()
    assert seen_errors[0] > PLANS // 2  # the generator really produces broken plans


def test_malformed_plans_through_the_cli_never_show_a_traceback(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate", plans=False)
    target = estate / "plans" / "water.yaml"
    samples = ["department: [", "department:\n  id: 5\n", "\x00\x01", "- a\n- b\n",
               "department: &a [*a]\n", "!!python/object/apply:os.system ['id']\n",
               "department:\n  id: ok\n  zone: {{}}\n", "? [a]\n: b\n"]
    for text in samples:
        target.write_text(text)
        for command in ("validate", "plan"):
            proc = govcloud(command, estate=estate)
            assert proc.returncode == 1, (text, proc.stdout, proc.stderr)
            assert "Traceback" not in proc.stderr and "Internal error" not in proc.stderr
            assert "plans/water.yaml:" in proc.stderr
