"""The finance stage: what a close decides is persisted, so no rebuild can change it."""

from dagster import AssetExecutionContext, Failure, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from credits_warehouse.ingest import ensure_raw_schema
from credits_warehouse.periods import not_ended
from credits_warehouse.warehouse import closed_through
from dagster_project.assets.ingest import progress_line
from dagster_project.dbt import credits_dbt_assets
from dagster_project.partitions import BILLING_PERIODS
from dagster_project.resources import CreditsSettings


@asset(key=["raw", "period_closes"], group_name="finance", partitions_def=BILLING_PERIODS)
def period_close(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """Close the partition's period and every earlier one (contract §7 `credits close`):
    recorded in `raw.period_closes`, which dbt reads back, so the same run then finalizes
    and numbers the invoices, freezes the figures and writes the documents. Refuses a
    period the clock has not passed; closing a closed period changes nothing."""
    resolved = settings.resolve()
    period = context.partition_key
    if reason := not_ended(period, resolved.as_of):
        raise Failure(reason)
    with settings.connection() as con:
        ensure_raw_schema(con)  # the close may be the first write to a new warehouse
        through = closed_through(con)
        closed = through is None or through < period
        if closed:
            con.execute(
                "insert into raw.period_closes values (?, ?)", [period, resolved.as_of]
            ).fetchall()
    return MaterializeResult(
        metadata={
            "period": period,
            "closed_now": closed,
            "closed_through": max(through or "", period),
            # Read by the documents step: the periods after it are closed by this run.
            "closed_before": through or "",
        }
    )


@asset(
    key=["finance", "invoice_numbers"],
    group_name="finance",
    deps=[get_asset_key_for_model([credits_dbt_assets], "int_invoices_numbered")],
)
def invoice_numbers(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """Numbers of newly finalized invoices, appended to `raw.invoice_numbers` for good: the
    next build reads them back, so a number is never changed or reused (contract §6.2)."""
    resolved = settings.resolve()
    with settings.connection() as con:
        added = con.execute(
            """
            insert into raw.invoice_numbers
            select invoice_id, invoice_number, series, series_year, series_seq, ?
            from intermediate.int_invoices_numbered
            where is_newly_numbered
            """,
            [resolved.as_of],
        ).fetchall()[0][0]
        total = con.execute("select count(*) from raw.invoice_numbers").fetchall()[0][0]
    if added:
        progress_line(f"  invoices: {added} finalized and numbered ({total} in all)")
    return MaterializeResult(metadata={"numbered": added, "total_numbered": total})


@asset(
    key=["finance", "frozen_figures"],
    group_name="finance",
    deps=[get_asset_key_for_model([credits_dbt_assets], "int_period_figures")],
)
def frozen_figures(context: AssetExecutionContext, settings: CreditsSettings) -> MaterializeResult:
    """The figures of newly closed periods, recorded once: every later build must reproduce
    them (dbt test assert_closed_periods_reproduce_frozen_figures)."""
    resolved = settings.resolve()
    with settings.connection() as con:
        added = con.execute(
            """
            insert into raw.frozen_figures
            select figures.period, figures.customer_id, figures.figure, figures.value, ?
            from intermediate.int_period_figures as figures
            where
                figures.period <= (select max(period) from raw.period_closes)
                and figures.period not in (select distinct period from raw.frozen_figures)
            """,
            [resolved.as_of],
        ).fetchall()[0][0]
    return MaterializeResult(metadata={"figures_frozen": added})
