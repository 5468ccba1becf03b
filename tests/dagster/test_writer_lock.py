"""A Dagster run (the UI's, a schedule's) holds the warehouse's writer lock for its whole
length, the same lock the CLI takes: the two never write the file at once."""

import pytest
from dagster import DagsterInstance, DagsterResourceFunctionError

from credits_warehouse.warehouse import WarehouseBusy, exclusive_lock
from dagster_project.definitions import build_definitions
from dagster_project.resources import CreditsSettings


def test_a_run_refuses_a_warehouse_another_writer_holds(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("CREDITS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CREDITS_LANDING", str(tmp_path))
    job = build_definitions().resolve_job_def("credits_job")
    with exclusive_lock(warehouse), DagsterInstance.ephemeral() as instance:
        with pytest.raises(DagsterResourceFunctionError) as failure:
            job.execute_in_process(instance=instance)
    assert isinstance(failure.value.__cause__, WarehouseBusy)
    assert "is being written by pid" in str(failure.value.__cause__)
    assert not warehouse.exists()


def test_the_lock_is_released_when_the_run_ends(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    settings = CreditsSettings(warehouse=str(warehouse))
    settings.setup_for_execution(None)
    with pytest.raises(WarehouseBusy):
        with exclusive_lock(warehouse):
            pass
    settings.teardown_after_execution(None)
    with exclusive_lock(warehouse):
        pass


def test_the_cli_holds_the_lock_itself():
    settings = CreditsSettings(hold_writer_lock=False)
    settings.setup_for_execution(None)
    assert settings._held is None
