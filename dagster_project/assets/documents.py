"""The documents stage: statement PDFs for closed periods."""

import time

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from credits_warehouse.catalog import load_catalog
from credits_warehouse.statements import write_documents_for_closed_periods
from dagster_project.assets.finance import invoice_numbers
from dagster_project.assets.ingest import progress_bar, progress_line
from dagster_project.dbt import credits_dbt_assets
from dagster_project.resources import CreditsSettings

# What the documents show, one select per document (credits_warehouse/documents/contexts.py).
DOCUMENT_INPUTS = ("rpt_statements", "rpt_statement_lines", "rpt_invoices", "rpt_invoice_lines")


@asset(
    key=["documents", "statement_pdfs"],
    group_name="documents",
    # After the numbers are persisted: a document shows a number that can never change.
    deps=[get_asset_key_for_model([credits_dbt_assets], m) for m in DOCUMENT_INPUTS]
    + [invoice_numbers.key],
)
def statement_pdfs(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """PDFs of closed periods: a statement per customer (<reports>/<period>/statements/) and
    every final invoice and credit note (<reports>/<period>/invoices/)."""
    resolved = settings.resolve()
    catalog = load_catalog(resolved.catalog)
    with settings.connection() as con:

        def progress(i: int, n: int) -> None:
            progress_bar("documents", i, n)

        started = time.monotonic()
        run = write_documents_for_closed_periods(con, catalog, resolved.reports, progress)
        seconds = time.monotonic() - started
    if run.written:
        progress_line(f"  documents: {run.written} written in {seconds:.1f}s")
    return MaterializeResult(
        metadata={"written": run.written, "frozen": run.frozen, "reports": str(resolved.reports)}
    )
