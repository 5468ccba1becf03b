"""The jobs the CLI, the schedules and the sensor run: the same asset graph, with or
without recording a close first."""

from dagster import AssetSelection, define_asset_job, in_process_executor

from dagster_project.assets.finance import period_close

# One job builds everything: load, model, check, and write what closed periods need.
credits_job = define_asset_job(
    "credits_job",
    selection=AssetSelection.all() - AssetSelection.assets(period_close),
    executor_def=in_process_executor,
    description="Load new landing files, rebuild the warehouse as of the clock, write closed periods' documents.",
)

# The same, after recording a close: `credits close` and the monthly schedule run this.
close_job = define_asset_job(
    "close_job",
    selection=AssetSelection.all(),
    executor_def=in_process_executor,
    description="Close a period (config: period), then rebuild, finalize, number, freeze and write documents.",
)


def settings_config(as_of: str) -> dict:
    """Run config that sets the run's clock (the other settings come from the environment)."""
    return {"resources": {"settings": {"config": {"as_of": as_of}}}}


def close_config(period: str) -> dict:
    """Run config that names the period `close_job` closes."""
    return {"ops": {"raw__period_closes": {"config": {"period": period}}}}
