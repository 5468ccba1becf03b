"""The schedules and the landing sensor evaluate to the runs they should request."""

import datetime as dt

from dagster import DagsterInstance, build_schedule_context, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.schedules import daily_build_schedule, monthly_close_schedule
from dagster_project.sensors import landing_sensor


def test_daily_build_runs_at_two_with_the_scheduled_clock():
    context = build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 3, 5, 2, 0, tzinfo=dt.UTC)
    )
    request = daily_build_schedule(context)
    assert request.run_config["resources"]["settings"]["config"]["as_of"] == "2026-03-05T02:00:00"
    assert daily_build_schedule.cron_schedule == "0 2 * * *"
    assert daily_build_schedule.execution_timezone == "UTC"


def test_monthly_close_closes_the_previous_period_on_the_first():
    context = build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 1, 1, 6, 0, tzinfo=dt.UTC)
    )
    request = monthly_close_schedule(context)
    assert request.partition_key == "2025-12"
    assert request.run_key == "close-2025-12"
    # The close runs with the scheduled clock, not the period's end.
    assert request.run_config["resources"]["settings"]["config"]["as_of"] == "2026-01-01T06:00:00"
    assert monthly_close_schedule.cron_schedule == "0 6 1 * *"


def test_the_sensor_requests_a_run_only_when_landing_changes(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    monkeypatch.setenv("CREDITS_LANDING", str(landing))
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance)
        first = landing_sensor(context)
        assert first.run_key
        cursor = context.cursor
        again = landing_sensor(build_sensor_context(instance=instance, cursor=cursor))
        assert "no new landing files" in again.skip_message
        (landing / "events" / "new.jsonl").write_text("{}\n")
        changed = landing_sensor(build_sensor_context(instance=instance, cursor=cursor))
        assert changed.run_key and changed.run_key != cursor


def test_jobs_schedules_and_sensor_are_in_the_definitions():
    jobs = {j.name: j for j in defs.resolve_all_job_defs()}
    assert set(jobs) >= {"credits_job", "close_job", "backfill_job"}
    assert jobs["credits_job"].partitions_def is None
    assert jobs["close_job"].partitions_def == jobs["backfill_job"].partitions_def
    assert defs.resolve_schedule_def("daily_build_schedule").job_name == "credits_job"
    assert defs.resolve_schedule_def("monthly_close_schedule").job_name == "close_job"
    assert defs.resolve_sensor_def("landing_sensor").job_name == "credits_job"
