"""pandera models run as Dagster asset checks; a failure blocks what depends on the asset."""

import pandera.errors
from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, asset_check
from dagster_dbt import get_asset_key_for_model

from dagster_project.checks.models import RatedEvents, RawEventRows
from dagster_project.dbt import credits_dbt_assets
from dagster_project.resources import CreditsSettings
from dagster_project.warehouse import connect


def _validate(model, settings: CreditsSettings, sql: str) -> AssetCheckResult:
    """Validate what `sql` reads from the run's warehouse against a pandera model."""
    con = connect(settings.resolve().warehouse, read_only=True)
    try:
        frame = con.sql(sql).pl()
    finally:
        con.close()
    try:
        model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as err:
        failures = err.failure_cases
        first = failures.row(0, named=True)
        summary = f"{first.get('column')}: {first.get('check')} (e.g. {first.get('failure_case')})"
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            metadata={"rows": frame.height, "failures": failures.height, "summary": summary},
        )
    return AssetCheckResult(passed=True, metadata={"rows": frame.height})


@asset_check(asset=["raw", "events"], name="pandera_raw_event_rows", blocking=True)
def raw_event_rows_check(
    context: AssetCheckExecutionContext, settings: CreditsSettings
) -> AssetCheckResult:
    """The rows this run loaded match RawEventRows (earlier batches were checked when loaded)."""
    return _validate(
        RawEventRows,
        settings,
        "select * from raw.events where batch_seq = (select max(batch_seq) from raw.events)",
    )


@asset_check(
    asset=get_asset_key_for_model([credits_dbt_assets], "fct_rated_events"),
    name="pandera_rated_events",
    blocking=True,
)
def rated_events_check(
    context: AssetCheckExecutionContext, settings: CreditsSettings
) -> AssetCheckResult:
    """fct_rated_events matches RatedEvents: exact, non-negative, credits = units × rate."""
    return _validate(
        RatedEvents,
        settings,
        "select * exclude (dimensions), dimensions::varchar as dimensions from marts.fct_rated_events",
    )


ASSET_CHECKS = [raw_event_rows_check, rated_events_check]
