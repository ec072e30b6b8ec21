"""The JSON API reads what a program sends: a decision's reason and ``send_back`` from the
JSON object (not only from a form), and an empty object is still an API call, answered with
JSON and never with the redirect a browser's form gets."""

from __future__ import annotations

from typing import Any

from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in


def _post(c: Any, path: str, body: Any) -> Any:
    return c.post(path, json=body, headers={"x-csrf-token": csrf_of(c.get("/").text)})


def _file(site: Site, reason: str) -> int:
    """A quota raise for OWN, filed by the member over the API (waits for an operator)."""
    member = sign_in(site, account("member"))
    cores = member.get(f"/api/departments/{OWN}").json()["quota"]["cores"]["quota"]
    filed = _post(member, f"/api/departments/{OWN}/requests",
                  {"kind": "quota", "reason": reason, "quota": {"cores": cores + 8}})
    assert filed.status_code == 201, filed.text[:500]
    assert filed.json()["state"] == "waiting"
    return int(filed.json()["id"])


def test_sending_back_over_the_api_reads_the_json_reason_and_send_back(site: Site) -> None:
    number = site.requests[OWN]  # filed by the member, waiting for an operator
    op = sign_in(site, account("operator"))
    r = _post(op, f"/api/departments/{OWN}/requests/{number}/reject",
              {"send_back": True, "reason": "split the raise into two requests"})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["state"] == "returned"  # sent back, not rejected
    assert r.json()["note"] == "split the raise into two requests"


def test_a_json_rejection_without_a_reason_is_refused_with_one_sentence(site: Site) -> None:
    number = _file(site, "api-bodies: to reject")
    op = sign_in(site, account("operator"))
    r = _post(op, f"/api/departments/{OWN}/requests/{number}/reject", {})
    assert r.status_code == 409 and "needs a reason" in r.json()["error"]
    r = _post(op, f"/api/departments/{OWN}/requests/{number}/reject",
              {"reason": "not this quarter"})
    assert r.status_code == 200, r.text[:500]
    assert (r.json()["state"], r.json()["note"]) == ("rejected", "not this quarter")


def test_an_approval_with_an_empty_json_object_answers_json(site: Site) -> None:
    number = _file(site, "api-bodies: to approve")
    op = sign_in(site, account("operator"))
    r = _post(op, f"/api/departments/{OWN}/requests/{number}/approve", {})
    assert r.status_code == 200, (r.status_code, r.headers.get("location"))
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["id"] == number and r.json()["approvals"][-1]["by"] == account("operator")


def test_an_approval_over_the_api_keeps_its_json_reason(site: Site) -> None:
    number = _file(site, "api-bodies: approved with a reason")
    op = sign_in(site, account("operator"))
    r = _post(op, f"/api/departments/{OWN}/requests/{number}/approve",
              {"reason": "fits the budget line 2026-07"})
    assert r.status_code == 200, r.text[:500]
    trail = sign_in(site, account("auditor")).get("/api/audit").json()["entries"]
    mine = [e for e in trail if e["subject"] == f"request {number}"
            and e["actor"] == account("operator")]
    assert mine and "fits the budget line 2026-07" in str(mine[0])
