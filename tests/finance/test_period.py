"""finance.period: a month, a range of months and the part of a month that has run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govcloud.errors import GovcloudError
from govcloud.finance.period import Month, Span, Window, ceil_hour, floor_hour, parse_time


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_month_is_parsed_once_and_written_back_the_same() -> None:
    m = Month.parse(" 2026-02 ")
    assert m == Month(2026, 2)
    assert str(m) == "2026-02"
    assert m.hours == 28 * 24  # February 2026: 28 days


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-01", "2026/01",
                                  "１２３４-01", "1969-12", "9999-12"])
def test_what_is_not_a_month_is_refused_with_the_way_to_write_one(text: str) -> None:
    with pytest.raises(GovcloudError) as exc:
        Month.parse(text, "--from")
    assert exc.value.hint == "write the month as YYYY-MM, e.g. --from 2026-10"


def test_next_and_previous_cross_the_year() -> None:
    assert Month(2026, 12).next() == Month(2027, 1)
    assert Month(2026, 1).previous() == Month(2025, 12)
    assert Month(2026, 6).next().previous() == Month(2026, 6)


def test_months_order_as_the_calendar_does() -> None:
    assert Month(2025, 12) < Month(2026, 1) < Month(2026, 10)
    assert sorted([Month(2026, 10), Month(2026, 9), Month(2025, 11)]) == \
        [Month(2025, 11), Month(2026, 9), Month(2026, 10)]


def test_start_and_end_of_a_month_are_utc_instants() -> None:
    m = Month(2026, 12)
    assert m.start == at("2026-12-01T00:00:00")
    assert m.end == at("2027-01-01T00:00:00")  # the first instant of the next month
    assert m.hours == 31 * 24


def test_a_span_holds_its_months_both_ends_included() -> None:
    span = Span(Month(2026, 11), Month(2027, 2))
    assert list(span) == [Month(2026, 11), Month(2026, 12), Month(2027, 1), Month(2027, 2)]
    assert str(span) == "2026-11..2027-02"
    assert str(Span(Month(2026, 3), Month(2026, 3))) == "2026-03"


def test_a_span_backwards_is_refused_by_name() -> None:
    with pytest.raises(GovcloudError, match="--to 2026-01 is before --from 2026-03"):
        Span(Month(2026, 3), Month(2026, 1))


def test_year_to_date_starts_in_january() -> None:
    assert list(Span.year_to_date(Month(2026, 3))) == [Month(2026, 1), Month(2026, 2),
                                                        Month(2026, 3)]


def test_a_finished_month_has_run_whole() -> None:
    w = Window.of(Month(2026, 10), at("2026-11-26T12:00:00"))
    assert not w.month_to_date
    assert w.hours == 31 * 24 == 744
    assert w.label() == "2026-10"


def test_the_current_month_has_run_to_the_end_of_the_hour_under_way() -> None:
    # 26 November, 12:30: 25 whole days and the 13 hours begun today (00:00 … 12:00).
    w = Window.of(Month(2026, 11), at("2026-11-26T12:30:00"))
    assert w.month_to_date
    assert w.hours == 25 * 24 + 13 == 613
    assert w.label() == ("2026-11 month to date (613 of 720 hours, to 2026-11-26 13:00 UTC)")


def test_a_month_not_begun_is_refused_with_the_last_month_that_may_be_asked() -> None:
    with pytest.raises(GovcloudError) as exc:
        Window.of(Month(2026, 12), at("2026-11-26T12:00:00"))
    assert str(exc.value).startswith("2026-12 has not begun")
    assert exc.value.hint == "give a month up to 2026-11"


def test_a_resource_is_billed_from_its_hour_created_to_its_hour_deleted() -> None:
    w = Window.of(Month(2026, 10), at("2026-11-26T12:00:00"))
    # created 10 Oct 05:30 → from 05:00; deleted 11 Oct 07:10 → to 08:00: 24 + 3 hours
    assert w.billed_hours(at("2026-10-10T05:30:00"), at("2026-10-11T07:10:00")) == 27
    # created in September: from 1 October; alive: to the end of October (744 hours)
    assert w.billed_hours(at("2026-09-20T00:00:00"), None) == 744
    # created and deleted within one hour: that hour is billed
    assert w.billed_hours(at("2026-10-01T03:10:00"), at("2026-10-01T03:20:00")) == 1
    # deleted before the month: nothing
    assert w.billed_hours(at("2026-08-01T00:00:00"), at("2026-09-01T00:00:00")) == 0


def test_hours_are_rounded_down_and_up_and_naive_times_are_utc() -> None:
    assert floor_hour(at("2026-10-01T03:59:59")) == at("2026-10-01T03:00:00")
    assert ceil_hour(at("2026-10-01T03:00:01")) == at("2026-10-01T04:00:00")
    assert ceil_hour(at("2026-10-01T03:00:00")) == at("2026-10-01T03:00:00")
    assert parse_time("2026-10-01T03:00:00") == at("2026-10-01T03:00:00")  # nova's form
    assert parse_time("2026-10-01T03:00:00Z") == at("2026-10-01T03:00:00")
