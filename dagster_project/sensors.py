"""A run when new landing files appear, so data does not wait for the daily build."""

import hashlib
import os
from pathlib import Path

from dagster import RunRequest, SensorEvaluationContext, SkipReason, sensor

from credits_warehouse.ingest import discover
from credits_warehouse.settings import resolve_settings
from dagster_project.jobs import credits_job


def landing_fingerprint(landing: Path) -> str:
    """What the landing directory holds, by path, size and modification time."""
    files, _ = discover(landing)
    digest = hashlib.sha256()
    for item in files:
        stat = os.stat(item.path)
        digest.update(f"{item.source_file}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@sensor(job=credits_job, minimum_interval_seconds=60)
def landing_sensor(context: SensorEvaluationContext):
    """Request a build when the landing directory changed since the last request; the
    build itself loads each file once, so a spurious request costs a rebuild, never data."""
    landing = resolve_settings().landing
    if not landing.is_dir():
        return SkipReason(f"landing directory {landing} does not exist")
    fingerprint = landing_fingerprint(landing)
    if fingerprint == context.cursor:
        return SkipReason("no new landing files")
    context.update_cursor(fingerprint)
    return RunRequest(run_key=fingerprint)
