"""One billing-period partition materializes on generated fixtures, the way the UI or a
Dagster partition backfill launches it: settings from the environment, the clock from the
job's partitioned config."""

import datetime as dt

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance
from helpers import use_settings_env

from credits_warehouse.sample_data.generate import generate
from dagster_project.definitions import build_definitions


def test_backfill_job_config_sets_the_clock_to_the_period_end():
    job = build_definitions().resolve_job_def("backfill_job")
    config = job.partitioned_config.get_run_config_for_partition_key("2026-02")
    assert config == {"resources": {"settings": {"config": {"as_of": "2026-03-01T00:00:00"}}}}


@pytest.mark.commands  # a whole job run: the build, the checks, the close and its documents
def test_one_partition_materializes_and_closes_its_period(tmp_path, monkeypatch):
    summary = generate(
        tmp_path, customers=4, events=1_500, start=dt.date(2026, 1, 1), months=2, seed=5
    )
    warehouse = tmp_path / "warehouse.duckdb"
    use_settings_env(monkeypatch, summary.landing, summary.catalog, warehouse, tmp_path / "reports")

    job = build_definitions().resolve_job_def("backfill_job")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(partition_key="2026-01", instance=instance)
        assert result.success
        closes = result.asset_materializations_for_node("raw__period_closes")
        assert [m.partition for m in closes] == ["2026-01"]
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks["assert_partition_window_is_closed_and_half_open"] is True
        assert all(checks.values())
        status = instance.get_status_by_partition(
            AssetKey(["raw", "period_closes"]),
            partition_keys=["2026-01", "2026-02"],
            partitions_def=job.partitions_def,
        )
        assert status["2026-01"].value == "MATERIALIZED"

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select * from raw.period_closes").fetchall() == [
            ("2026-01", dt.datetime(2026, 2, 1))
        ]
        # Loaded at the partition's clock; February's events past the 24 h tolerance wait
        # as future until February is replayed.
        assert con.execute("select distinct ingested_at from raw.load_batches").fetchall() == [
            (dt.datetime(2026, 2, 1),)
        ]
        assert con.execute(
            "select count(*) from marts.fct_rated_events where booked_at > '2026-02-02'"
        ).fetchall() == [(0,)]
        assert (tmp_path / "reports" / "2026-01" / "statements").is_dir()
    finally:
        con.close()
