"""Billing-period partitions, and what a run tells dbt about its window.

One Dagster partition per billing period, keyed `YYYY-MM` like the periods themselves. A
partition's window is the period's half-open interval [start, end) in UTC (contract §4), so an
event at exactly the end belongs to the next partition.

`dbt_vars` is the one place a run's clock and window are made for dbt, and
`credits_warehouse.incremental.dbt_env` how they reach it: as environment variables that the macro `run_var` (dbt/macros/run_vars.sql)
reads, falling back to dbt's `--vars`. Not `--vars` themselves: dbt parses the whole
project again whenever they change (each run's clock does), and keeping its partial parse
from one run to the next saves 1.5 s of every build. The dbt asset, the CLI and the tests
all go through these two.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from dagster import MonthlyPartitionsDefinition, partition_loading_context

from credits_warehouse.periods import period_bounds

FIRST_PERIOD = "2020-01"

# Partitions run up to the last period that has ended: a period can only be closed, or
# replayed, once it is over. Over by which clock: this machine's for the schedules and the
# UI, the run's for a command (`partitions_at`).
BILLING_PERIODS = MonthlyPartitionsDefinition(start_date=FIRST_PERIOD, timezone="UTC", fmt="%Y-%m")


@contextlib.contextmanager
def partitions_at(as_of: dt.datetime) -> Iterator[None]:
    """Inside, the billing periods are those over by the run's clock (naive UTC), not by this
    machine's: a command with `--as-of` in the future closes the periods ended by then
    (contract §7), as one in the past cannot close those after it."""
    with partition_loading_context(effective_dt=as_of.replace(tzinfo=dt.UTC)):
        yield


def _iso(instant: dt.datetime) -> str:
    return instant.isoformat(timespec="seconds")


def dbt_vars(
    as_of: dt.datetime,
    period: str | None = None,
    resume_from: dt.datetime | None = None,
) -> dict[str, str]:
    """The --vars of a dbt build: the run's clock, its partition's half-open window, and
    where an incremental build resumes the ledger (credits_warehouse/incremental.py decides).

    Outside a partition (a plain `credits run`) the window is empty strings, which the dbt
    models read as "no window"; likewise an empty `resume_from` rebuilds the ledger from the
    beginning.
    """
    window = {"period": "", "period_start": "", "period_end": ""}
    if period:
        start, end = period_bounds(period)
        window = {"period": period, "period_start": _iso(start), "period_end": _iso(end)}
    return {"as_of": _iso(as_of), **window, "resume_from": _iso(resume_from) if resume_from else ""}


def replay_clock(period: str) -> dt.datetime:
    """The clock of a backfill's run for `period`: the instant the period ends."""
    return period_bounds(period)[1]
