"""The jobs the CLI, the schedules, the sensor and the UI run: one asset graph, three ways.

- `credits_job`: load what landed and rebuild, as of the clock. Not partitioned.
- `close_job`: the same after closing a billing period (the partition), as of the clock.
- `backfill_job`: replay a billing period as history: the same as `close_job`, with the
  clock set to the instant the period ends. A Dagster partition backfill of this job over
  a range is what `credits backfill --from --to` runs, one partition after another.
"""

from dagster import AssetSelection, PartitionedConfig, define_asset_job, in_process_executor

from dagster_project.assets.finance import period_close
from dagster_project.partitions import BILLING_PERIODS, replay_clock

credits_job = define_asset_job(
    "credits_job",
    selection=AssetSelection.all() - AssetSelection.assets(period_close),
    executor_def=in_process_executor,
    description="Load new landing files, rebuild the warehouse as of the clock, write closed periods' documents.",
)

close_job = define_asset_job(
    "close_job",
    selection=AssetSelection.all(),
    partitions_def=BILLING_PERIODS,
    executor_def=in_process_executor,
    description="Close the partition's period as of the clock, then rebuild, finalize, number, freeze and write documents.",
)


def settings_config(as_of: str) -> dict:
    """Run config that sets the run's clock (the other settings come from the environment)."""
    return {"resources": {"settings": {"config": {"as_of": as_of}}}}


def replay_config(period: str) -> dict:
    """A backfill run's config: the clock at the end of its partition's period."""
    return settings_config(replay_clock(period).isoformat(timespec="seconds"))


backfill_job = define_asset_job(
    "backfill_job",
    selection=AssetSelection.all(),
    partitions_def=BILLING_PERIODS,
    config=PartitionedConfig(
        partitions_def=BILLING_PERIODS, run_config_for_partition_key_fn=replay_config
    ),
    executor_def=in_process_executor,
    description="Replay the partition's period: load, close and rebuild with the clock at the period's end.",
)
