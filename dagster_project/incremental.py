"""Whether a dbt build may be incremental, or must rebuild everything from `raw`.

The incremental models (docs/incremental.md) take only what changed since the last build:
new load batches, and the few earlier rows whose verdict can change. That holds only while
everything else they read is what the last build read. Two things are not data rows and
can change under them: the catalog (a rate or a filter re-rates all history) and the dbt
models themselves (a new release of this project). So every successful build records a
fingerprint of both in `raw.build_state`, and a build whose fingerprint differs, or a
warehouse with no record (new, or built before this existed), rebuilds everything.

No Dagster imports: the dbt asset and the tests' build helper both call this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb

from dagster_project.warehouse import CATALOG_DDL

BUILD_STATE_DDL = """
create table if not exists raw.build_state (
    build_seq integer primary key,
    fingerprint varchar not null,
    as_of timestamp not null,
    full_refresh boolean not null
)
"""
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
    """Why the next build must rebuild everything, or None when it may be incremental."""
    con.execute(BUILD_STATE_DDL)
    last = con.execute(
        "select fingerprint from raw.build_state order by build_seq desc limit 1"
    ).fetchall()
    if not last:
        has_models = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'intermediate'"
        ).fetchall()[0][0]
        return "no build recorded" if has_models else None
    if last[0][0] != fingerprint:
        return "the catalog or the dbt models changed since the last build"
    return None


def record_build(
    con: duckdb.DuckDBPyConnection, fingerprint: str, as_of: dt.datetime, full_refresh: bool
) -> None:
    """Remember what a successful build read, for the next build to compare."""
    con.execute(BUILD_STATE_DDL)
    con.execute(
        "insert into raw.build_state"
        " select coalesce(max(build_seq), 0) + 1, ?, ?, ? from raw.build_state",
        [fingerprint, as_of, full_refresh],
    ).fetchall()
