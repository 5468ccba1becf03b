"""When the product runs by itself: a daily build, and the monthly close of the previous
period (contract §1: finance's cycle runs itself and refuses to close a broken period)."""

import datetime as dt

from dagster import RunRequest, ScheduleEvaluationContext, schedule

from credits_warehouse.periods import add_months, month_start, period_of
from dagster_project.jobs import close_job, credits_job, settings_config


def _clock(context: ScheduleEvaluationContext) -> dt.datetime:
    return context.scheduled_execution_time.astimezone(dt.UTC).replace(tzinfo=None)


@schedule(job=credits_job, cron_schedule="0 2 * * *", execution_timezone="UTC")
def daily_build_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """Every day at 02:00 UTC: load what landed and rebuild the open periods."""
    clock = _clock(context)
    return RunRequest(
        run_key=f"build-{clock:%Y-%m-%d}", run_config=settings_config(clock.isoformat())
    )


@schedule(job=close_job, cron_schedule="0 6 1 * *", execution_timezone="UTC")
def monthly_close_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """On the 1st at 06:00 UTC: close the month that just ended."""
    clock = _clock(context)
    period = period_of(add_months(month_start(clock), -1))
    return RunRequest(
        run_key=f"close-{period}",
        run_config=settings_config(clock.isoformat()),
        partition_key=period,
    )
