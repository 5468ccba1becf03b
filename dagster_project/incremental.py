"""How a dbt build goes: incremental or rebuilding everything from `raw`, and where the
ledger resumes and is checkpointed.

The incremental models (docs/incremental.md) take only what changed since the last build:
new load batches, and the few earlier rows whose verdict can change. That holds only while
everything else they read is what the last build read. Two things are not data rows and
can change under them: the catalog (a rate or a filter re-rates all history) and the dbt
models themselves (a new release of this project). So every successful build records a
fingerprint of both in `raw.build_state`, and a build whose fingerprint differs, or a
warehouse with no record (new, or built before this existed), rebuilds everything.

The ledger resumes at the last build's checkpoint: the first instant after the periods
that were closed at that build, where the walk kept each customer's state. Rows before it
belong to closed periods and are never recomputed; a build checkpoints again at the first
instant after the periods closed now.

No Dagster imports: the dbt asset and the tests' build helper both call this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.catalog import Catalog
from dagster_project.ingest import discover, pending_files
from dagster_project.periods import period_bounds
from dagster_project.warehouse import CATALOG_DDL, connect, write_catalog

# What records which build did the work rather than what the data is: the same data reached
# by other runs (a backfill, or a run and a close by hand) differs only here.
RUN_BOOKKEEPING_TABLES = ("raw.build_state",)
RUN_BOOKKEEPING_COLUMNS = ("verdict_seq",)
# The catalog as the models read it: the tables write_catalog fills.
CATALOG_TABLES = (*CATALOG_DDL, "iso_currencies")


def code_fingerprint(manifest_path: Path) -> str:
    """The dbt models' own checksums, from the manifest: any edit to any model changes it."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    checksums = sorted(
        (unique_id, node["checksum"]["checksum"])
        for unique_id, node in nodes.items()
        if node["resource_type"] == "model"
    )
    return hashlib.sha256(json.dumps(checksums).encode()).hexdigest()


def catalog_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """The catalog tables' rows, in a fixed order."""
    digest = hashlib.sha256()
    for table in CATALOG_TABLES:
        rows = con.execute(f"select * from raw.{table} order by all").fetchall()  # noqa: S608 - fixed names
        digest.update(f"{table}:{rows!r}\n".encode())
    return digest.hexdigest()


def build_fingerprint(con: duckdb.DuckDBPyConnection, manifest_path: Path) -> str:
    return hashlib.sha256(
        f"{catalog_fingerprint(con)}:{code_fingerprint(manifest_path)}".encode()
    ).hexdigest()


def full_refresh_reason(con: duckdb.DuckDBPyConnection, fingerprint: str) -> str | None:
    """Why the next build must rebuild everything, or None when it may be incremental.
    `raw.build_state` is a control table, made with the others when a run loads."""
    last = _last_build(con)
    if last is None:
        has_models = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'intermediate'"
        ).fetchall()[0][0]
        return "no build recorded" if has_models else None
    if last[0] != fingerprint:
        return "the catalog or the dbt models changed since the last build"
    return None


def _last_build(con: duckdb.DuckDBPyConnection) -> tuple[str, dt.datetime | None] | None:
    rows = con.execute(
        "select fingerprint, checkpoint_at from raw.build_state order by build_seq desc limit 1"
    ).fetchall()
    return rows[0] if rows else None


def checkpoint_instant(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The first instant after the last closed period, or None before any close."""
    through = con.execute("select max(period) from raw.period_closes").fetchall()[0][0]
    return period_bounds(through)[1] if through else None


@dataclass(frozen=True)
class BuildPlan:
    """What a build reads and where its ledger starts and checkpoints."""

    fingerprint: str
    full_refresh_reason: str | None
    resume_from: dt.datetime | None  # None: the ledger from the beginning
    checkpoint_at: dt.datetime | None  # None: nothing closed, no checkpoint

    @property
    def full_refresh(self) -> bool:
        return self.full_refresh_reason is not None


def plan_build(
    con: duckdb.DuckDBPyConnection, manifest_path: Path, full_refresh: bool = False
) -> BuildPlan:
    """How the next build goes; `full_refresh` asks for everything from raw."""
    fingerprint = build_fingerprint(con, manifest_path)
    reason = "asked for" if full_refresh else full_refresh_reason(con, fingerprint)
    last = None if reason else _last_build(con)
    return BuildPlan(
        fingerprint=fingerprint,
        full_refresh_reason=reason,
        resume_from=last[1] if last else None,
        checkpoint_at=checkpoint_instant(con),
    )


def up_to_date(
    warehouse: Path, landing: Path, catalog: Catalog, as_of: dt.datetime, manifest_path: Path
) -> bool:
    """Whether a run would change nothing: the last build had this clock, nothing has
    landed or closed since, and the catalog and models are the ones it read. Read-only."""
    if not warehouse.exists():
        return False
    con = connect(warehouse, read_only=True)
    try:
        try:
            last = con.execute(
                "select fingerprint, as_of, checkpoint_at from raw.build_state"
                " order by build_seq desc limit 1"
            ).fetchall()
        except duckdb.CatalogException:  # built before builds were recorded
            return False
        if not last or last[0][1] != as_of or checkpoint_instant(con) != last[0][2]:
            return False
        files, _ = discover(landing)
        if next(pending_files(con, files), None) is not None:
            return False
    finally:
        con.close()
    memory = duckdb.connect()
    try:
        write_catalog(memory, catalog)
        return build_fingerprint(memory, manifest_path) == last[0][0]
    finally:
        memory.close()


def record_build(con: duckdb.DuckDBPyConnection, plan: BuildPlan, as_of: dt.datetime) -> None:
    """Remember what a successful build read and where it checkpointed, for the next build."""
    con.execute(
        "insert into raw.build_state"
        " select coalesce(max(build_seq), 0) + 1, ?, ?, ?, ?, ? from raw.build_state",
        [plan.fingerprint, as_of, plan.full_refresh, plan.resume_from, plan.checkpoint_at],
    ).fetchall()
