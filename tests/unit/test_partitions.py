"""Billing-period partitions and the --vars a run hands dbt (dagster_project.partitions)."""

import datetime as dt

import pytest

from credits_warehouse.periods import add_months, month_start, period_of
from dagster_project.partitions import BILLING_PERIODS, dbt_vars, partitions_at, replay_clock

CLOCK = dt.datetime(2026, 3, 1, 6, 30)


def test_a_partition_window_is_the_period_half_open():
    """[start, end): the window starts at the period's first instant and ends, exclusive,
    at the next period's first instant."""
    assert dbt_vars(CLOCK, "2026-02") == {
        "as_of": "2026-03-01T06:30:00",
        "period": "2026-02",
        "period_start": "2026-02-01T00:00:00",
        "period_end": "2026-03-01T00:00:00",
        "resume_from": "",
    }


def test_the_window_end_belongs_to_the_next_period():
    end = dt.datetime.fromisoformat(dbt_vars(CLOCK, "2026-02")["period_end"])
    assert period_of(end) == "2026-03"
    assert period_of(end - dt.timedelta(microseconds=1)) == "2026-02"


def test_december_rolls_into_january():
    window = dbt_vars(CLOCK, "2026-12")
    assert (window["period_start"], window["period_end"]) == (
        "2026-12-01T00:00:00",
        "2027-01-01T00:00:00",
    )


def test_outside_a_partition_the_window_is_empty():
    assert dbt_vars(CLOCK) == {
        "as_of": "2026-03-01T06:30:00",
        "period": "",
        "period_start": "",
        "period_end": "",
        "resume_from": "",
    }


def test_a_resumed_build_names_where_the_ledger_resumes():
    """Where a build resumes is a period start (docs/incremental.md)."""
    got = dbt_vars(CLOCK, None, dt.datetime(2026, 2, 1))
    assert got["resume_from"] == "2026-02-01T00:00:00"


@pytest.mark.parametrize("period", ["2020-01", "2024-02", "2026-02", "2026-10"])
def test_dagster_windows_are_the_same_windows(period):
    """The Dagster partition's time window and the dbt vars agree, UTC, key = period."""
    window = BILLING_PERIODS.time_window_for_partition_key(period)
    got = dbt_vars(CLOCK, period)
    assert window.start.replace(tzinfo=None).isoformat() == got["period_start"]
    assert window.end.replace(tzinfo=None).isoformat() == got["period_end"]
    assert window.start.utcoffset() == dt.timedelta(0)


def test_a_replay_runs_at_the_period_end():
    assert replay_clock("2026-02") == dt.datetime(2026, 3, 1)


def test_a_bad_period_is_refused_in_one_line():
    with pytest.raises(ValueError, match="period '2026-13' is not YYYY-MM"):
        dbt_vars(CLOCK, "2026-13")


def test_partitions_start_in_2020_and_end_with_the_last_period_that_is_over():
    keys = BILLING_PERIODS.get_partition_keys(current_time=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    assert keys[0] == "2020-01"
    assert keys[-1] == "2026-10"


@pytest.mark.parametrize(
    ("as_of", "last"),
    [
        (dt.datetime(2031, 1, 1), "2030-12"),  # the run's clock past this machine's
        (dt.datetime(2031, 1, 1) - dt.timedelta(microseconds=1), "2030-11"),
        (dt.datetime(2026, 3, 15, 8), "2026-02"),  # and before it
    ],
)
def test_a_command_sees_the_periods_over_by_its_own_clock(as_of, last):
    """Contract §7: a close refuses a period not ended by the clock, the run's (--as-of)."""
    with partitions_at(as_of):
        assert BILLING_PERIODS.get_last_partition_key() == last
        assert BILLING_PERIODS.has_partition_key(last)
        assert not BILLING_PERIODS.has_partition_key(period_of(as_of))
    # Outside, the machine's clock again (the schedules' and the UI's).
    last_over = add_months(month_start(dt.datetime.now(dt.UTC)), -1)
    assert BILLING_PERIODS.get_last_partition_key() == period_of(last_over)


def test_the_run_var_macro_reads_the_variables_dbt_env_sets():
    """dbt/macros/run_vars.sql names the environment variable itself; it must be the one
    `dbt_env` sets, or dbt would silently fall back to the default clock."""
    import jinja2

    from credits_warehouse.incremental import dbt_env, run_var_name
    from dagster_project.resources import DBT_PROJECT_DIR

    source = (DBT_PROJECT_DIR / "macros" / "run_vars.sql").read_text(encoding="utf-8")
    read = []
    env = jinja2.Environment()
    env.globals.update(
        env_var=lambda name, default: read.append(name) or "from-env",
        var=lambda name: "from-var",
        **{"return": lambda value: value},  # dbt's return(), a builtin of its Jinja
    )
    macros = env.from_string(source).module
    for name in dbt_vars(CLOCK, "2026-02", dt.datetime(2026, 2, 1)):
        read.clear()
        macros.run_var(name)
        assert read == [run_var_name(name)]
        assert run_var_name(name) in dbt_env({name: "x"})
