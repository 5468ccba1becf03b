"""pandera models run as Dagster asset checks; a failing one blocks what depends on the asset.

One table says which model checks which asset and what it reads; the checks are generated
from it. Every check is blocking: a table that breaks its model stops the run, and
`credits close` refuses the period (contract §7). A table that a close-only build left as the
last build made it (docs/incremental.md) is not judged again. Each check reports its rows and its own
duration in `seconds`, so its cost shows in the run (bench/results.md).
"""

import re
import time
from dataclasses import dataclass

import pandera.polars as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    asset_check,
)
from dagster_dbt import get_asset_key_for_model

from credits_warehouse.checks import models as m
from credits_warehouse.checks.pushdown import judge
from dagster_project.assets.ingest import CHECKED_BEFORE
from dagster_project.dbt import LEFT_AS_BUILT, credits_dbt_assets
from dagster_project.resources import CreditsSettings


@dataclass(frozen=True)
class PanderaCheck:
    """One row of the table: a model, the asset it checks, and what the check reads."""

    model: type[pa.DataFrameModel]
    asset: AssetKey
    sql: str

    @property
    def name(self) -> str:
        """pandera_<model in snake case>: RatedEvents checks as pandera_rated_events."""
        return "pandera_" + re.sub(r"(?<!^)(?=[A-Z])", "_", self.model.__name__).lower()


def landed(table: str, model: type[pa.DataFrameModel]) -> PanderaCheck:
    """A raw feed table, its latest load batch only: earlier batches were checked when loaded."""
    sql = f"select * from raw.{table} where batch_seq = (select max(batch_seq) from raw.{table})"  # noqa: S608 - fixed names
    return PanderaCheck(model, AssetKey(["raw", table]), sql)


def modelled(
    dbt_model: str,
    model: type[pa.DataFrameModel],
    json: tuple[str, ...] = (),
    changed: str = "true",
) -> PanderaCheck:
    """A dbt model, the rows the last build may have written (`changed`, a predicate; all
    of them by default); its JSON columns are read as text."""
    key = get_asset_key_for_model([credits_dbt_assets], dbt_model)
    schema = key.path[0]  # the translator's layer is the schema dbt builds the model in
    as_text = ", ".join(f"{c}::varchar as {c}" for c in json)
    columns = f"* replace ({as_text})" if json else "*"
    return PanderaCheck(
        model,
        key,
        f"select {columns} from {schema}.{dbt_model} where {changed}",  # noqa: S608
    )


# Incremental models never rewrite a row outside what their build recomputes
# (docs/incremental.md), and every rule is a rule on one row: so their checks judge only
# the rows the last build may have written. A full refresh records no resume point, and
# then every row is judged.
LAST_RESUME = "(select resume_from from raw.build_state order by build_seq desc limit 1)"


def since_last_resume(column: str) -> str:
    """Rows dated from the point the last build resumed the ledger (all after a full one)."""
    return f"{column} >= coalesce({LAST_RESUME}, '-infinity'::timestamp)"


# Events the last build judged: its verdict_seq (int_events_validated numbers each build's).
LAST_VERDICTS = "verdict_seq = (select max(verdict_seq) from intermediate.int_events_validated)"
RATED_LAST = (
    "(dedup_key, aggregator_id) in (select dedup_key, aggregator_id"
    " from intermediate.int_events_rated"
    " where verdict_seq = (select max(verdict_seq) from intermediate.int_events_validated))"
)


PANDERA_CHECKS = (
    landed("events", m.RawEventRows),
    landed("customers", m.RawCustomerRows),
    landed("subscriptions", m.RawSubscriptionRows),
    landed("purchases", m.RawPurchaseRows),
    landed("grants", m.RawGrantRows),
    landed("voids", m.RawVoidRows),
    landed("refunds", m.RawRefundRows),
    landed("grant_amendments", m.RawGrantAmendmentRows),
    landed("auto_topups", m.RawAutoTopupRows),
    modelled("stg_landing__events", m.StagedEvents, json=("properties",)),
    modelled("stg_landing__customers", m.StagedCustomers),
    modelled("int_events_rated", m.EventsRated, json=("dimensions",), changed=LAST_VERDICTS),
    modelled(
        "int_usage_allocated_to_grants",
        m.UsageAllocatedToGrants,
        changed=since_last_resume("booked_at"),
    ),
    modelled(
        "int_ledger_entries_ordered", m.LedgerEntriesOrdered, changed=since_last_resume("entry_at")
    ),
    modelled("int_revenue_by_grant_period", m.RevenueByGrantPeriod),
    modelled("dim_customers", m.DimCustomers),
    modelled("fct_rated_events", m.RatedEvents, json=("dimensions",), changed=RATED_LAST),
    modelled("fct_event_quarantine", m.EventQuarantine),
    modelled("fct_grants", m.Grants),
    modelled("fct_grant_amendments", m.GrantAmendments),
    modelled("fct_credit_ledger", m.CreditLedger, changed=since_last_resume("entry_at")),
    modelled("fct_balances_daily", m.BalancesDaily),
    modelled("fct_balances_over_time", m.BalancesOverTime),
    modelled("fct_grant_balances_over_time", m.GrantBalancesOverTime),
    modelled("fct_monthly_usage", m.MonthlyUsage, json=("dimensions",)),
    modelled("fct_monthly_usage_by_dimension", m.MonthlyUsageByDimension),
    modelled("fct_deferred_revenue", m.DeferredRevenue),
    modelled("fct_journal_entries", m.JournalEntries),
    modelled("fct_invoices", m.Invoices),
    modelled("fct_invoice_lines", m.InvoiceLines),
    modelled("fct_promotional_usage", m.PromotionalUsage),
    modelled("fct_alerts", m.Alerts, json=("details",)),
    modelled("rpt_statements", m.Statements),
    modelled("rpt_statement_lines", m.StatementLines),
    modelled("rpt_invoices", m.ReportedInvoices),
    modelled("rpt_invoice_lines", m.ReportedInvoiceLines),
)


def run_check(spec: PanderaCheck, settings: CreditsSettings) -> AssetCheckResult:
    """Judge what `spec` reads from the run's warehouse against its model."""
    started = time.perf_counter()
    with settings.connection(read_only=True) as con:
        verdict = judge(con, spec.model, spec.sql)
    metadata = {"rows": verdict.rows, "seconds": round(time.perf_counter() - started, 3)}
    if verdict.passed:
        return AssetCheckResult(passed=True, metadata=metadata)
    return AssetCheckResult(
        passed=False,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            **metadata,
            "failures": verdict.failing,
            "summary": verdict.summary,
            "broken_rules": verdict.broken,
        },
    )


def _unchanged_in_this_run(context: AssetCheckExecutionContext, asset: AssetKey) -> str | None:
    """Why the rows this check would judge are the ones an earlier run judged, or None: a
    close-only build reported the model unchanged (dagster_project/dbt.py), or the raw
    table's latest load batch was read by a published build (dagster_project/assets/
    ingest.py), so this run loaded none into it. Judging the same rows again proves nothing."""
    event = context.instance.get_latest_materialization_event(asset)
    if event is None or event.run_id != context.run.run_id or event.asset_materialization is None:
        return None
    metadata = event.asset_materialization.metadata
    note = metadata.get("build")
    if note is not None and note.value == LEFT_AS_BUILT:
        return LEFT_AS_BUILT
    checked = metadata.get(CHECKED_BEFORE)
    if checked is not None and checked.value is True:
        return LATEST_BATCH_CHECKED
    return None


LATEST_BATCH_CHECKED = "unchanged: its latest load batch was checked by the run that loaded it"


def _asset_check(spec: PanderaCheck) -> AssetChecksDefinition:
    @asset_check(
        asset=spec.asset,
        name=spec.name,
        blocking=True,
        description=(spec.model.__doc__ or "").strip().splitlines()[0],
    )
    def _check(context: AssetCheckExecutionContext, settings: CreditsSettings) -> AssetCheckResult:
        if unchanged := _unchanged_in_this_run(context, spec.asset):
            return AssetCheckResult(passed=True, metadata={"build": unchanged})
        return run_check(spec, settings)

    return _check


ASSET_CHECKS = [_asset_check(spec) for spec in PANDERA_CHECKS]
