"""finance.utilization: measured use over allocation, per department and item."""

from __future__ import annotations

from govcloud.finance.period import Month
from govcloud.finance.utilization import Utilization, UtilRow


def test_utilization_is_used_over_allocated() -> None:
    row = UtilRow("a", "A", {"vcpu": 4.0, "ram_gb": 0.0, "disk_gb": 10.0},
                  {"vcpu": 1.0, "ram_gb": 2.0, "disk_gb": None}, {})
    assert row.ratio("vcpu") == 0.25  # 1 of 4 vCPU
    assert row.ratio("ram_gb") is None  # nothing allocated: no ratio
    assert row.ratio("disk_gb") is None  # not measured
    assert row.as_dict()["utilization"] == {"vcpu": 0.25, "ram_gb": None, "disk_gb": None}


def test_a_utilization_reads_back_what_it_wrote() -> None:
    u = Utilization(Month(2026, 11), "2026-11 month to date (613 of 720 hours)",
                    (UtilRow("a", "A", {"vcpu": 4.0}, {"vcpu": 1.0}, {"cores": 8}),),
                    {"z": {"std": 1}}, {"z": {"std": 2}})
    assert Utilization.from_dict(u.as_dict()) == u


def test_one_frozen_before_labels_were_kept_is_labelled_with_its_month() -> None:
    old = {"period": "2026-09", "departments": [], "hosts_in_use": {}, "hosts_owned": {}}
    assert Utilization.from_dict(old).label == "2026-09"
