"""The Dagster code location: every asset, check and job of the product.

Thin on purpose, and reads no environment at import: settings resolve when a run starts.
The `credits` CLI executes these same definitions in process.
"""

from dagster import AssetSpec, Definitions, in_process_executor

from dagster_project.assets.alerts import alert_outbox
from dagster_project.assets.documents import statement_pdfs
from dagster_project.assets.finance import frozen_figures, invoice_numbers, period_close
from dagster_project.assets.ingest import catalog_tables, landing_files
from dagster_project.checks.asset_checks import ASSET_CHECKS
from dagster_project.dbt import credits_dbt_assets
from dagster_project.jobs import backfill_job, close_job, credits_job
from dagster_project.resources import CreditsSettings, dbt_resource
from dagster_project.schedules import daily_build_schedule, monthly_close_schedule
from dagster_project.sensors import landing_sensor

# Tables the finance assets append to and dbt reads back as sources. They are external
# here: an asset that both read and wrote them would close a cycle.
CONTROL_TABLES = [
    AssetSpec(
        ["raw", "invoice_numbers"],
        group_name="raw",
        description="Numbers of finalized invoices, appended by finance/invoice_numbers; never changed.",
    ),
    AssetSpec(
        ["raw", "frozen_figures"],
        group_name="raw",
        description="Closed periods' figures, appended by finance/frozen_figures; every build must reproduce them.",
    ),
]


def build_definitions(settings: CreditsSettings | None = None) -> Definitions:
    """The definitions, with the run settings given (the CLI) or resolved at run start (the UI)."""
    return Definitions(
        assets=[
            period_close,
            catalog_tables,
            landing_files,
            credits_dbt_assets,
            invoice_numbers,
            frozen_figures,
            statement_pdfs,
            alert_outbox,
            *CONTROL_TABLES,
        ],
        asset_checks=ASSET_CHECKS,
        jobs=[credits_job, close_job, backfill_job],
        schedules=[daily_build_schedule, monthly_close_schedule],
        sensors=[landing_sensor],
        resources={"settings": settings or CreditsSettings(), "dbt": dbt_resource()},
        # One process per run, UI materializations included: DuckDB has one writer, and
        # the run holds the warehouse's writer lock for its whole length.
        executor=in_process_executor,
    )


defs = build_definitions()
