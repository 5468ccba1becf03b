"""The documents stage: statement PDFs for closed periods."""

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from dagster_project.assets.ingest import progress_line
from dagster_project.catalog import load_catalog
from dagster_project.dbt import credits_dbt_assets
from dagster_project.resources import CreditsSettings
from dagster_project.statements import write_statements
from dagster_project.warehouse import connect

STATEMENT_INPUTS = ("fct_credit_ledger", "fct_monthly_usage", "fct_grants", "dim_customers")


@asset(
    key=["documents", "statement_pdfs"],
    group_name="documents",
    deps=[get_asset_key_for_model([credits_dbt_assets], m) for m in STATEMENT_INPUTS],
)
def statement_pdfs(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """One PDF statement per customer and closed period, at <reports>/<period>/statements/."""
    resolved = settings.resolve()
    catalog = load_catalog(resolved.catalog)
    con = connect(resolved.warehouse)
    try:

        def progress(i: int, n: int) -> None:
            if i == 1 or i == n or i % 25 == 0:
                progress_line(f"  statements: {i}/{n}")

        run = write_statements(con, catalog, resolved.reports, progress)
    finally:
        con.close()
    return MaterializeResult(
        metadata={"written": run.written, "frozen": run.frozen, "reports": str(resolved.reports)}
    )
