"""The documents stage: statement PDFs for closed periods."""

import time

from dagster import AssetExecutionContext, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from credits_warehouse.catalog import load_catalog
from credits_warehouse.statements import write_documents_for_closed_periods
from dagster_project.assets.finance import invoice_numbers, period_close
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
        run = write_documents_for_closed_periods(
            con, catalog, resolved.reports, progress, rewrite_after=_closed_before_this_run(context)
        )
        seconds = time.monotonic() - started
    if run.written:
        progress_line(f"  documents: {run.written} written in {seconds:.1f}s")
    return MaterializeResult(
        metadata={"written": run.written, "frozen": run.frozen, "reports": str(resolved.reports)}
    )


def _closed_before_this_run(context: AssetExecutionContext) -> str | None:
    """When this run closed periods: the last period closed before it ("" for none), so
    that the documents of the periods it closed are written even where a file exists. Such
    a file was written by a run killed before its swap, from figures never committed, and
    the data may have changed since (a purchase dated in the period that takes an invoice
    number). None when this run closed nothing: every existing document is final."""
    event = context.instance.get_latest_materialization_event(period_close.key)
    if event is None or event.run_id != context.run_id:
        return None
    metadata = event.asset_materialization.metadata
    return metadata["closed_before"].value if metadata["closed_now"].value else None
