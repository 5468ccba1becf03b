"""Billing periods, written once: calendar months in UTC named YYYY-MM, half-open windows
[start, end) (contract §4). The dbt macro `period_of` is the SQL twin of `period_of` here."""

from __future__ import annotations

import datetime as dt


def period_of(instant: dt.datetime) -> str:
    return f"{instant.year:04d}-{instant.month:02d}"


def month_start(instant: dt.datetime) -> dt.datetime:
    return dt.datetime(instant.year, instant.month, 1)


def add_months(start: dt.datetime, months: int) -> dt.datetime:
    index = start.year * 12 + start.month - 1 + months
    return dt.datetime(index // 12, index % 12 + 1, 1)


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """A billing period's half-open window [start, end) in UTC."""
    try:
        start = dt.datetime.strptime(period, "%Y-%m")
    except ValueError:
        start = None
    # strptime also takes "2026-3", which no period is named: only the canonical spelling.
    if start is None or period_of(start) != period:
        raise ValueError(f"period {period!r} is not YYYY-MM")
    return start, add_months(start, 1)


def next_period(period: str) -> str:
    return period_of(period_bounds(period)[1])


def periods_between(first: str, last: str) -> list[str]:
    """Every period from first to last, inclusive."""
    start, _ = period_bounds(first)
    end, _ = period_bounds(last)
    if start > end:
        raise ValueError(f"period {first} is after {last}")
    out = []
    while start <= end:
        out.append(period_of(start))
        start = add_months(start, 1)
    return out


def not_ended(period: str, as_of: dt.datetime) -> str | None:
    """Why `period` cannot be closed or replayed yet, or None once the clock has passed its
    end: the one rule behind `credits close`, `credits backfill` and the close asset."""
    _, end = period_bounds(period)
    if end <= as_of:
        return None
    return (
        f"period {period} has not ended by the clock ({as_of.isoformat(timespec='seconds')}); "
        f"it ends at {end.isoformat()}"
    )
