"""Dagster resources: the run's settings, which own the warehouse's connections and its
writer lock, and the dbt CLI."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, DagsterEventType, InitResourceContext
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION
from pydantic import PrivateAttr

from credits_warehouse.settings import Settings, resolve_settings
from credits_warehouse.warehouse import (
    connect,
    discard_working_copy,
    exclusive_lock,
    publish_working_copy,
    start_working_copy,
)
from dagster_project import dbt_ahead

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt"


class CreditsSettings(ConfigurableResource):
    """The paths and clock of a run, and the one way the wiring reaches the warehouse: the
    run's writer lock is held from start to end, and `connection()` opens the file for one
    block at a time (dbt opens it in its own process between blocks). Unset fields fall back
    to CREDITS_* variables, then to the contract's defaults, when the run starts (not when
    the code location loads)."""

    landing: str | None = None
    catalog: str | None = None
    warehouse: str | None = None
    reports: str | None = None
    as_of: str | None = None
    # A run holds the warehouse's writer lock from start to end, so a UI run and a CLI
    # command never write the file at once, and it writes a working copy that replaces the
    # warehouse only if no step failed: a run that fails or is killed leaves the warehouse
    # as it was. The CLI does both itself (around its in-process run) and sets this off.
    hold_writer_lock: bool = True
    # Rebuild every dbt model from raw instead of incrementally (`credits run --full-refresh`).
    full_refresh: bool = False

    _held: contextlib.ExitStack | None = PrivateAttr(default=None)
    _work: Path | None = PrivateAttr(default=None)
    _real: Path | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.hold_writer_lock:
            warehouse = self.resolve().warehouse
            held = contextlib.ExitStack()
            held.enter_context(exclusive_lock(warehouse))
            self._held = held
            # Kept: the dbt step points CREDITS_WAREHOUSE at the copy for its subprocess.
            self._real = warehouse
            self._work = start_working_copy(warehouse)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._held is None:
            return
        warehouse = self._real or self._resolve_fields().warehouse
        try:
            if _run_failed(context):
                discard_working_copy(warehouse)
            else:
                publish_working_copy(warehouse)
        finally:
            self._work = self._real = None
            self._held.close()
            self._held = None

    @contextlib.contextmanager
    def connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the run's warehouse for the block, closed when it ends, so that no
        connection is open when dbt starts."""
        con = connect(self.resolve().warehouse, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def resolve(self) -> Settings:
        """The run's settings; while a run writes its working copy, that is the warehouse."""
        settings = self._resolve_fields()
        if self._work is not None:
            settings = dataclasses.replace(settings, warehouse=self._work)
        return settings

    def _resolve_fields(self) -> Settings:
        return resolve_settings(
            self.landing, self.catalog, self.warehouse, self.reports, self.as_of
        )


def _run_failed(context: InitResourceContext | None) -> bool:
    """Whether a step of the context's run has failed (a failed asset check included)."""
    if context is None or context.instance is None or context.run_id is None:
        return False
    return bool(context.instance.all_logs(context.run_id, of_type=DagsterEventType.STEP_FAILURE))


class CreditsDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs our builds never use, about 3 s
    of every run and close (bench/results.md): asking the dbt executable for its version
    (`dbt --version`, a second dbt start-up; it is the dbt-core installed beside us,
    `dbt_executable`), and opening an in-process dbt adapter, which dagster-dbt only uses to
    fetch row counts and column metadata, which these assets do not ask for. Within a
    command, dbt's own imports are paid ahead too (dagster_project/dbt_ahead.py)."""

    @property
    def _cli_version(self):  # dagster_dbt's name; a property there too
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - dagster_dbt's signature
        return None


def dbt_resource() -> DbtCliResource:
    return CreditsDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_ahead.executable(),
    )
