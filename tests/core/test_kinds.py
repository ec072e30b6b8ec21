"""The table of resource kinds (core/kinds.py) agrees with what reads it: the resources the
plans ask for, the bill's items and the price book."""

from __future__ import annotations

from govcloud.applying import engine
from govcloud.core import kinds
from govcloud.core.desired import desired_state
from govcloud.finance import pricebook, usage
from tests.support.estate import REPO


def test_the_bill_lists_each_kinds_items_once_in_the_price_books_order() -> None:
    declared = [item for k in kinds.KINDS for item in k.billed]
    assert sorted(kinds.BILLED) == sorted(declared)
    assert len(set(declared)) == len(declared)
    assert kinds.BILLED == pricebook.ITEMS == usage.BILLED


def test_what_a_kind_stands_on_is_one_resource_per_department() -> None:
    for kind in kinds.KINDS:
        for under in kind.stands_on:
            assert kinds.KIND[under].department_name, f"{kind.name} stands on {under}"
            assert kinds.STAGE[under] < kinds.STAGE[kind.name], \
                f"{kind.name} is created before {under}, which it stands on"


def test_the_example_estate_asks_for_every_kind_by_the_tables_facts() -> None:
    desired = desired_state(engine.validate(REPO).estate())
    assert {r.kind for r in desired.values()} == set(kinds.KIND)
    for r in desired.values():
        kind = kinds.KIND[r.kind]
        assert kind.updatable <= set(r.attrs), f"{r.kind}: no such attribute to update"
        assert kind.resizable <= set(r.attrs), f"{r.kind}: no such attribute to resize"
        if kind.department_name:
            assert r.key == kind.key(r.department)
