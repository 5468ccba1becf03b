"""A run started the way the Dagster UI or a schedule starts it (the definitions' own
settings resource, which holds the writer lock and writes a working copy) is as atomic as a
CLI command: a run that fails, or is killed half way, leaves the warehouse as it was; the
next run succeeds and drops the dead run's copy."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance
from helpers import use_settings_env

from credits_warehouse.sample_data.generate import generate
from credits_warehouse.warehouse import table_checksums, working_copy_path
from dagster_project.definitions import build_definitions

pytestmark = pytest.mark.faults

AS_OF = "2026-03-01T00:00:00"
UI_RUN = """
import sys
from dagster import DagsterInstance
from dagster_project.definitions import build_definitions
job = build_definitions().resolve_job_def("credits_job")
with DagsterInstance.ephemeral() as instance:
    job.execute_in_process(instance=instance, raise_on_error=False)
"""


def _run_ui_job(instance: DagsterInstance):
    return (
        build_definitions()
        .resolve_job_def("credits_job")
        .execute_in_process(instance=instance, raise_on_error=False)
    )


def _state(warehouse: Path) -> dict:
    """Every raw table, mart and report, every column."""
    return table_checksums(warehouse, schemas=("raw", "marts", "reporting"), skip=frozenset())


@pytest.fixture
def first_run(tmp_path, monkeypatch):
    """A warehouse built by one UI-style run on January's data, and February's files
    waiting to be loaded by the next run."""
    summary = generate(tmp_path / "gen", customers=4, events=1_200, start=dt.date(2026, 1, 1), months=2, seed=3)  # fmt: skip
    landing = summary.landing
    later = tmp_path / "later"
    later.mkdir()
    for path in sorted((landing / "events").rglob("*2026-02*")):
        path.rename(later / path.name)
    warehouse = tmp_path / "warehouse.duckdb"
    use_settings_env(monkeypatch, landing, summary.catalog, warehouse, tmp_path / "reports")
    monkeypatch.setenv("CREDITS_AS_OF", AS_OF)
    with DagsterInstance.ephemeral() as instance:
        assert _run_ui_job(instance).success
    events = landing / "events" / "february"
    events.mkdir()
    for path in later.iterdir():
        path.rename(events / path.name)
    return warehouse


def test_a_failing_ui_run_leaves_the_warehouse_as_it_was(first_run, monkeypatch):
    before = _state(first_run)

    def fail(*_args, **_kwargs):
        raise RuntimeError("a step fails after dbt has rebuilt the copy")

    monkeypatch.setattr("dagster_project.dbt.record_build", fail)
    with DagsterInstance.ephemeral() as instance:
        result = _run_ui_job(instance)
    assert not result.success
    assert _state(first_run) == before
    assert not working_copy_path(first_run).exists()


def test_a_killed_ui_run_leaves_the_warehouse_as_it_was(first_run):
    before = _state(first_run)
    run = subprocess.Popen(  # noqa: S603 - a fixed argv
        [sys.executable, "-c", UI_RUN], env=dict(os.environ), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    work = working_copy_path(first_run)
    deadline = time.monotonic() + 120
    while not work.exists() and time.monotonic() < deadline:  # the run has started writing
        time.sleep(0.05)
    time.sleep(4)  # into ingest or dbt
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert _state(first_run) == before

    # The next run loads February, publishes, and leaves no copy behind.
    with DagsterInstance.ephemeral() as instance:
        assert _run_ui_job(instance).success
    after = _state(first_run)
    assert after["raw.events"][0] > before["raw.events"][0]
    assert not work.exists()
