"""Issue #24: ``plan -o json`` writes the plan's JSON in parts, its changes' dicts made a
chunk at a time (``jsontext.dumps_parts``), never all at once: at 10,000 departments they were
a third of the command's peak memory. The parts must join to exactly the text ``dumps``
writes of the whole value, whichever encoder writes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govcloud.core import jsontext
from govcloud.core.desired import Resource
from govcloud.core.planning import make_plan


def test_parts_join_to_the_whole_text_across_chunks() -> None:
    made: list[int] = []

    def convert(i: int) -> dict[str, Any]:
        made.append(i)
        return {"n": i, "name": f"数据-{i}", "load": i / 3, "none": None}

    value = {"format": 3, "cost": {"delta": 1.5}, "changes": jsontext.Lazy(range(7), convert),
             "orphans": jsontext.Lazy((), convert), "unmanaged": jsontext.Lazy([8], convert)}
    parts = jsontext.dumps_parts(value, chunk=3)
    assert made == [0, 1, 2, 3, 4, 5, 6, 8]
    assert b"".join(parts) == jsontext.dumps(jsontext.whole(value))
    assert sum(1 for p in parts if b'"n":' in p) == 4  # 3 + 3 + 1 changes, 1 unmanaged


def test_parts_fall_back_to_the_whole_text_as_dumps_does() -> None:
    """An integer beyond 64 bits is refused by orjson: the whole value then goes through
    the standard library, as dumps sends it, not the one chunk that held it."""
    value = {"a": 1e20, "changes": jsontext.Lazy(range(5), lambda i: {"n": i, "big": 2**70})}
    assert b"".join(jsontext.dumps_parts(value, chunk=2)) == \
        jsontext.dumps(jsontext.whole(value))
    assert b'"big":1180591620717411303424' in b"".join(jsontext.dumps_parts(value))


def test_a_plan_in_parts_is_its_json_byte_for_byte() -> None:
    """5,000 servers to create, 300 orphans (kept) and a server to replace: more than two
    chunks of changes."""
    desired = {f"d{i % 40}/server/s{i}": Resource(
        "server", f"d{i % 40}", f"s{i}", {"flavor": "m1.small", "zone": "intranet",
                                          "load": {"cpu": 0.25}}, roll=f"s{i}")
        for i in range(5000)}
    actual = [Resource("server", "d0", "s0", {"flavor": "m1.large", "zone": "intranet",
                                              "load": {"cpu": 0.25}})] + \
        [Resource("server", "gone", f"o{i}", {"flavor": "m1.small"}) for i in range(300)]
    plan = make_plan(desired, actual, {f"d{i}" for i in range(40)})
    assert len(plan.changes) == 5000 and len(plan.orphans) == 300
    assert b"".join(jsontext.dumps_parts(plan.as_dict(lazy=True))) == \
        jsontext.dumps(plan.as_dict())


def test_the_json_reaches_a_stream_that_copies_what_is_written(tmp_path: Path) -> None:
    """click's CliRunner (what programs and tests embed govcloud with) copies each write()
    of its stdout's buffer: the text written in parts must go through write(), or the
    caller gets an empty line (CI, test_recompute, after the parts came in)."""
    import json

    from click.testing import CliRunner

    from govcloud.cli.app import cli
    from tests.support.estate import copy_estate

    estate = copy_estate(tmp_path / "estate")
    got = CliRunner().invoke(cli, ["-C", str(estate), "plan", "-o", "json"],
                             catch_exceptions=False)
    assert got.exit_code == 0
    plan = json.loads(got.output)
    assert plan["changes"], "the example estate's plan has changes to make"
