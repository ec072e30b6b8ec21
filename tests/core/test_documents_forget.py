"""Issue #24: reading thousands of plans keeps none of their YAML nodes. The safe
constructor remembers every node it built until its document ends; the reader builds single
scalars with it (timestamps, YAML 1.1 numbers) and never ends a document, so it kept every
such node of every file read (65,000 nodes and their 130,000 marks at 10,000 departments).
True, false and null are read without it, as it reads them."""

from __future__ import annotations

import datetime

from govcloud.core import documents


def test_reading_keeps_no_node_and_reads_scalars_as_before() -> None:
    text = ("a: true\nb: no\nc: ON\nd: null\ne: ~\nf:\ng: 2026-01-02\n"
            "h: 2026-01-02 10:30:00\n")
    doc, problems = documents.parse(text, "plans/x.yaml")
    assert doc is not None and problems == []
    assert doc.data == {"a": True, "b": False, "c": True, "d": None, "e": None, "f": None,
                        "g": datetime.date(2026, 1, 2),
                        "h": datetime.datetime(2026, 1, 2, 10, 30)}
    assert documents._resolver_loader.constructed_objects == {}


def test_a_yaml11_number_is_refused_and_forgotten() -> None:
    doc, problems = documents.parse("count: 0x1F\n", "plans/x.yaml")
    assert doc is None and "YAML 1.1 reads as 31" in problems[0].message
    assert documents._resolver_loader.constructed_objects == {}
