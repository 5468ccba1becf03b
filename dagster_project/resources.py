"""Dagster resources: the run's settings and the dbt CLI."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from dagster_project.settings import Settings, resolve_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt"


class CreditsSettings(ConfigurableResource):
    """The paths and clock of a run. Unset fields fall back to CREDITS_* variables, then to
    SPEC's defaults, when the run starts (not when the code location loads)."""

    landing: str | None = None
    catalog: str | None = None
    warehouse: str | None = None
    reports: str | None = None
    as_of: str | None = None

    def resolve(self) -> Settings:
        return resolve_settings(
            self.landing, self.catalog, self.warehouse, self.reports, self.as_of
        )


def dbt_executable() -> str:
    """dbt beside the running interpreter: `.venv/bin/credits` runs without the venv on PATH."""
    return str(Path(sys.executable).parent / "dbt")


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )
