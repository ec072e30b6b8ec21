"""Two sign-ins giving the same second-factor code at the same moment (two portal workers):
exactly one takes it, on SQLite and on a real PostgreSQL. On PostgreSQL the code's row is
locked while it is checked (READ COMMITTED would let both read the step as unused)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from govcloud.access import second_factor, users
from govcloud.state.store import Store

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _url(store: Store, tmp_path: Path) -> str:
    return store.url if store.kind == "postgresql" else f"sqlite:///{tmp_path}/state.db"


def test_one_code_given_twice_at_once_is_taken_once(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_NOW", T0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    person = users.add(store, set(), "op", "operator", None, PASSWORD, "test")
    secret, _ = second_factor.begin(store, "op")
    second_factor.confirm(store, person, pyotp.TOTP(secret).at(T0), "test")
    url = _url(store, tmp_path)
    for round_ in range(1, 6):  # a new time-step, and so a new code, each round
        at = T0 + timedelta(seconds=90 * round_)
        monkeypatch.setenv("GOVCLOUD_NOW", at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        code = pyotp.TOTP(secret).at(at)
        start = threading.Barrier(2)
        took: list[str] = []

        def give(source: str, code: str = code, start: threading.Barrier = start,
                 took: list[str] = took) -> None:
            own = Store(url, tmp_path)  # a worker's own connection
            try:
                start.wait()
                took.append(second_factor.check(own, person, code, source))
            except users.SignInRefused:
                took.append("refused")
            finally:
                own.close()

        threads = [threading.Thread(target=give, args=(f"10.0.0.{i}",)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(took) == ["refused", "totp"], (round_, took)
