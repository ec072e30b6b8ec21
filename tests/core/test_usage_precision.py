"""Usage figures keep their digits on PostgreSQL (#26): the usage table's allocated and used
were declared REAL, which PostgreSQL keeps in 4 bytes (6 significant digits), so a bill's
figure such as 12345678.9 came back as 12345679. They are DOUBLE PRECISION now, and a store
made with REAL is widened when it is opened (after its copy is taken)."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud.books import records
from govcloud.finance.period import Month
from govcloud.finance.usage import Record
from govcloud.state.store import Store

pytestmark = [pytest.mark.real, pytest.mark.postgres]

MONTH = Month(2026, 10)
FIGURE = 12345678.9


def _types(store: Store) -> set[str]:
    return {t for (t,) in store.query(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'usage' AND column_name IN ('allocated', 'used')")}


def test_a_usage_figure_keeps_every_digit_on_postgresql(fresh_pg: str, tmp_path: Path) -> None:
    store = Store(fresh_pg, tmp_path, "qingdao")
    try:
        records.record(store, [Record(MONTH, "finance", "ram_gb_hours", FIGURE, FIGURE / 3,
                                      "sim")])
        [back] = records.load(store, MONTH)
        assert (back.allocated, back.used) == (FIGURE, FIGURE / 3)
        assert _types(store) == {"double precision"}
    finally:
        store.close()


def test_a_store_with_real_usage_columns_is_widened_after_a_copy(fresh_pg: str,
                                                                  tmp_path: Path) -> None:
    store = Store(fresh_pg, tmp_path, "qingdao")
    old = records.TABLES[0].replace("DOUBLE PRECISION", "REAL")  # the declaration before
    assert old.count("REAL") == 2
    store.execute(old)
    store.execute("INSERT INTO usage VALUES ('2026-10', 'finance', 'cores', 0.012097, NULL, 'sim', "
                  "'2026-11-01T00:00:00Z')")
    assert _types(store) == {"real"}
    store.close()

    again = Store(fresh_pg, tmp_path, "qingdao")
    try:
        assert _types(again) == {"double precision"}
        assert again.pre_upgrade is not None and again.pre_upgrade.stat().st_size > 0
        assert again.pre_upgrade.parent == tmp_path / ".state" / "backups"
        assert again.pre_upgrade.stat().st_mode & 0o777 == 0o600
        [kept] = records.load(again, MONTH)  # as read before, not float4's 0.012097000144…
        assert kept.allocated == 0.012097
        records.record(again, [Record(MONTH, "finance", "cores", FIGURE, None, "sim")])
        assert records.load(again, MONTH)[0].allocated == FIGURE
    finally:
        again.close()
    third = Store(fresh_pg, tmp_path, "qingdao")  # widened once: no second copy
    assert third.pre_upgrade is None
    third.close()
