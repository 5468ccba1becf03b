"""The Dagster code location: every asset, check and job of the product.

Thin on purpose, and reads no environment at import: settings resolve when a run starts.
The `credits` CLI executes these same definitions in process.
"""

from dagster import AssetSelection, Definitions, define_asset_job, in_process_executor

from dagster_project.assets.documents import statement_pdfs
from dagster_project.assets.finance import frozen_figures, invoice_numbers
from dagster_project.assets.ingest import catalog_tables, landing_files
from dagster_project.checks.asset_checks import ASSET_CHECKS
from dagster_project.dbt import credits_dbt_assets
from dagster_project.resources import CreditsSettings, dbt_resource

# One job builds everything: load, model, check, and write what closed periods need.
credits_job = define_asset_job(
    "credits_job",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Load new landing files, rebuild the warehouse as of the clock, write closed periods' documents.",
)


def build_definitions(settings: CreditsSettings | None = None) -> Definitions:
    """The definitions, with the run settings given (the CLI) or resolved at run start (the UI)."""
    return Definitions(
        assets=[
            catalog_tables,
            landing_files,
            credits_dbt_assets,
            invoice_numbers,
            frozen_figures,
            statement_pdfs,
        ],
        asset_checks=ASSET_CHECKS,
        jobs=[credits_job],
        resources={"settings": settings or CreditsSettings(), "dbt": dbt_resource()},
    )


defs = build_definitions()
