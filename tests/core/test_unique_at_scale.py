"""Uniqueness across plan files grows with the claims, not with their square (issue #24):
10,000 departments claim about 80,000 domains, and each was compared with every one claimed
before it (whether it lies under or over another department's), 3.2 billion comparisons."""

from __future__ import annotations

import time

from govcloud.core.checks import Claim, Owners, unique


def _claims(file: str, *domains: str) -> list[Claim]:
    return [Claim("domain", d, file, n + 1, f"websites.{n}.domain", "rename one", d)
            for n, d in enumerate(domains)]


def test_thirty_thousand_domains_are_checked_in_a_fraction_of_a_second() -> None:
    owners = Owners()
    start = time.process_time()
    found = [d for i in range(30_000)
             for d in unique(_claims(f"plans/d{i}.yaml", f"s{i % 7}.d{i}.qingdao.gov.cn"),
                             owners)]
    took = time.process_time() - start
    assert found == []
    assert took < 3.0, f"{took:.1f} s of CPU for 30,000 domains: checked one by one again?"


def test_the_first_other_department_domain_is_named_either_way() -> None:
    owners = Owners()
    assert unique(_claims("plans/a.yaml", "x.gov.cn", "b.x.gov.cn"), owners) == []
    assert unique(_claims("plans/b.yaml", "c.x.gov.cn"), owners)[0].message.endswith(
        "another department's (also in plans/a.yaml:1)")
    over = unique(_claims("plans/c.yaml", "b.x.gov.cn.cn", "gov.cn"), owners)
    assert [d.message.split("'")[3] for d in over] == ["x.gov.cn"]
