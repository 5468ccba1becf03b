"""Billing periods: calendar months in UTC, half-open windows (contract §4)."""

import datetime as dt

import pytest

from credits_warehouse.periods import (
    add_months,
    next_period,
    not_ended,
    period_bounds,
    period_of,
    periods_between,
)


def test_a_period_is_a_half_open_month():
    start, end = period_bounds("2026-12")
    assert (start, end) == (dt.datetime(2026, 12, 1), dt.datetime(2027, 1, 1))
    assert period_of(end - dt.timedelta(microseconds=1)) == "2026-12"
    assert period_of(end) == "2027-01"


def test_periods_step_across_years():
    assert next_period("2026-12") == "2027-01"
    assert add_months(dt.datetime(2026, 11, 1), 3) == dt.datetime(2027, 2, 1)
    assert periods_between("2026-11", "2027-02") == ["2026-11", "2026-12", "2027-01", "2027-02"]


@pytest.mark.parametrize("bad", ["2026-13", "26-01", "2026/01", "", "2026-3", " 2026-03"])
def test_a_malformed_period_is_refused_in_one_line(bad):
    with pytest.raises(ValueError, match="is not YYYY-MM"):
        period_bounds(bad)


def test_from_after_to_is_refused():
    with pytest.raises(ValueError, match="is after"):
        periods_between("2026-03", "2026-01")


def test_a_period_ends_at_its_first_instant_after():
    # March ends at 04-01T00:00: a clock one second before cannot close it, the instant can.
    assert not_ended("2026-03", dt.datetime(2026, 4, 1)) is None
    assert not_ended("2026-03", dt.datetime(2026, 5, 7)) is None
    assert not_ended("2026-03", dt.datetime(2026, 3, 31, 23, 59, 59)) == (
        "period 2026-03 has not ended by the clock (2026-03-31T23:59:59); "
        "it ends at 2026-04-01T00:00:00"
    )
