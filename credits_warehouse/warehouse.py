"""The DuckDB warehouse file: one writer at a time, all or nothing, and the catalog as data.

A command works on a copy of the warehouse and swaps it in only when every step succeeded
(contract §7: "A failure leaves the warehouse as it was before the command"). Analysts can keep
reading the old file meanwhile. A lock file beside the warehouse makes a second writer fail
at once with a clear message instead of waiting on, or racing, DuckDB's own lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import duckdb
from babel.numbers import list_currencies

from credits_warehouse.catalog import Catalog, CatalogError, catalog_tables


class WarehouseBusy(RuntimeError):
    """Another process is writing this warehouse."""


class WarehouseMissing(ValueError):
    """A command that reads a warehouse was given a path with none."""


def require_warehouse(warehouse: Path, first: str = "run `credits run` first") -> None:
    """The one refusal of every command that needs a warehouse built before it."""
    if not Path(warehouse).is_file():
        raise WarehouseMissing(f"warehouse {warehouse} does not exist; {first}")


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextlib.contextmanager
def exclusive_lock(warehouse: Path) -> Iterator[None]:
    """Hold the warehouse's writer lock, or fail at once naming the holder."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(warehouse)
    fh = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise WarehouseBusy(
                f"warehouse {warehouse} is being written by {holder}; wait for it to finish"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield
    finally:
        fh.close()


def working_copy_path(warehouse: Path) -> Path:
    # One name, not one per process: writers run one at a time under the writer lock, a
    # killed writer's copy is replaced by the next, and dbt's kept partial parse stays
    # valid (dbt parses everything again when the profile's path changes).
    return warehouse.with_name(f"{warehouse.name}.work")


def discard_working_copy(warehouse: Path) -> None:
    work = working_copy_path(warehouse)
    for path in (work, Path(str(work) + ".wal")):
        path.unlink(missing_ok=True)


def start_working_copy(warehouse: Path) -> Path:
    """A fresh copy of the warehouse to write (a killed writer's stale copy is dropped)."""
    discard_working_copy(warehouse)
    work = working_copy_path(warehouse)
    if warehouse.exists():
        copy_warehouse_file(warehouse, work)
    return work


# Direct I/O moves whole aligned blocks; 8 MiB at a time keeps the copy at the disk's speed.
_DIRECT_CHUNK = 8 << 20
_DIRECT_ALIGN = 4096


def copy_warehouse_file(source: Path, target: Path) -> None:
    """Copy a warehouse file with direct I/O (O_DIRECT), past the page cache, where the
    system has it; else through the page cache. Either way as `shutil.copy2` does: the
    bytes, then the permissions and times. Why direct: docs/incremental.md, "Fixed costs
    of a command"."""
    if not _copy_direct(source, target):
        shutil.copyfile(source, target)
    shutil.copystat(source, target)


def _copy_direct(source: Path, target: Path) -> bool:
    """Aligned blocks through one page-aligned buffer; a tail shorter than a block (never
    in a DuckDB file) is written afterwards without direct I/O. False where the system or
    the file system has no direct I/O (no O_DIRECT, tmpfs), before any data is written."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return False
    with contextlib.ExitStack() as opened:
        try:
            reader = os.open(source, os.O_RDONLY | direct)
            opened.callback(os.close, reader)
            writer = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | direct, 0o644)
            opened.callback(os.close, writer)
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            return False
        buffer = opened.enter_context(mmap.mmap(-1, _DIRECT_CHUNK))
        offset = 0
        while (read := os.preadv(reader, [buffer], offset)) > 0:
            whole = read - read % _DIRECT_ALIGN
            if whole:
                os.pwrite(writer, memoryview(buffer)[:whole], offset)
            if whole < read:
                with open(target, "r+b") as tail:
                    tail.seek(offset + whole)
                    tail.write(memoryview(buffer)[whole:read])
            offset += read
            if read < _DIRECT_CHUNK:
                break
        os.fsync(writer)
    return True


def publish_working_copy(warehouse: Path) -> None:
    """Put the working copy in the warehouse's place, in one atomic rename."""
    work = working_copy_path(warehouse)
    if work.exists():
        os.replace(work, warehouse)


@contextlib.contextmanager
def transactional_copy(warehouse: Path) -> Iterator[Path]:
    """Yield a working copy of the warehouse; it replaces the original only on success.
    A writer killed half way leaves the original as it was, and its copy behind for the
    next writer to drop."""
    with transactional_copy_in_background(warehouse) as copying:
        yield copying.result()


@contextlib.contextmanager
def transactional_copy_in_background(warehouse: Path) -> Iterator[Future[Path]]:
    """`transactional_copy` with the copy made in a thread: the block gets its future at
    once, so that it can do other work meanwhile (a command imports Dagster and builds its
    job while a 3 GB warehouse is copied), and calls `result()` for the copy's path before
    it writes. The copy is finished, or has failed, before the block's end publishes it or
    an error discards it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="working-copy") as pool:
        copying = pool.submit(start_working_copy, warehouse)
        try:
            yield copying
            copying.result()  # a block that never asked still publishes a whole copy
        except BaseException:
            wait([copying])
            discard_working_copy(warehouse)
            raise
    publish_working_copy(warehouse)


# A new warehouse is written in DuckDB 1.5's storage format, which DuckDB 2.0 reads and
# writes too: the newest duckdb CLI (1.5.6, `.venv/bin/duckdb`) then opens it for analysts.
STORAGE_COMPATIBILITY = "v1.5.0"


# DuckDB spills to a temp directory beside the file beyond this (its default is 80% of the
# machine's memory, which loading 100M events took to 24 GB). dbt's profile reads the same
# variable.
MEMORY_LIMIT_VAR = "CREDITS_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "6GB"


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": os.environ.get(MEMORY_LIMIT_VAR, DEFAULT_MEMORY_LIMIT)}
    if not read_only and not Path(path).exists():
        config["storage_compatibility_version"] = STORAGE_COMPATIBILITY
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute("set TimeZone = 'UTC'")
    return con


# Explicit column types: an empty list (no promotions, say) still makes a typed table.
CATALOG_DDL = {
    "catalog_aggregators": "aggregator_id varchar, event_type varchar, operation varchar, property_name varchar, filter_count integer",
    "catalog_aggregator_filters": "aggregator_id varchar, property_name varchar, property_value varchar",
    "catalog_aggregator_dimensions": "aggregator_id varchar, dimension_name varchar, dimension_position integer",
    "catalog_rates": "credit_product_id varchar, aggregator_id varchar, per_units decimal(38, 6), weight decimal(38, 6), credits_per_unit decimal(38, 6), effective_from timestamp, effective_to timestamp",
    "catalog_bundles": "bundle_id varchar, credits decimal(38, 12), bonus_credits decimal(38, 12), expires_after_days integer, priority integer, applies_to varchar",
    "catalog_bundle_prices": "bundle_id varchar, currency varchar, price_amount bigint",
    "catalog_plans": "plan_id varchar, included_credits decimal(38, 12), allowance_expires_after_days integer, rollover_max_credits decimal(38, 12), rollover_expires_after_periods integer, overage varchar, warning_limit decimal(38, 12), priority integer, applies_to varchar",
    "catalog_plan_prices": "plan_id varchar, currency varchar, fee_amount bigint, overage_price_per_credit decimal(38, 12)",
    "catalog_plan_user_limits": "plan_id varchar, dimension_name varchar, monthly_credits decimal(38, 12)",
    "catalog_promotions": "promotion_id varchar, credits decimal(38, 12), expires_after_days integer, priority integer, applies_to varchar",
    "catalog_settings": "setting varchar, value varchar",
    "catalog_alert_expiring_days": "days_before integer",
}


def write_catalog(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, *, closed_periods_kept: bool = True
) -> dict[str, int]:
    """Replace the `raw.catalog_*` tables with the validated catalog; values are bound, never
    spliced. `closed_periods_kept=False` is for a scratch copy whose frozen figures are
    forgotten (`credits simulate`): there a new breakage policy is what is asked."""
    if closed_periods_kept:
        refuse_breakage_policy_change(con, catalog)
    con.execute("create schema if not exists raw")
    counts = {}
    for table, rows in catalog_tables(catalog).items():
        con.execute(f"create or replace table raw.{table} ({CATALOG_DDL[table]})")
        if rows:
            columns = list(rows[0])
            marks = ", ".join("?" for _ in columns)
            con.executemany(
                f"insert into raw.{table} values ({marks})",  # noqa: S608 - fixed names
                [[row[c] for c in columns] for row in rows],
            )
        counts[table] = len(rows)
    con.execute("create or replace table raw.iso_currencies (currency varchar primary key)")
    # One statement with a list, not a statement per code (300 of them took 0.3 s).
    con.execute("insert into raw.iso_currencies select unnest(?)", [sorted(list_currencies())])
    return counts


def refuse_breakage_policy_change(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Refuse a catalog whose `settings.breakage_policy` differs from the one the warehouse
    holds once a period is closed: the policy moves deferred revenue between periods, and a
    closed period's frozen figures (deferred revenue at its end) never change (docs/ledger.md
    "Breakage"). Raises CatalogError before anything is written."""
    closed = closed_through(con)
    if closed is None:
        return
    try:
        rows = con.execute(
            "select value from raw.catalog_settings where setting = 'breakage_policy'"
        ).fetchall()
    except duckdb.CatalogException:  # no catalog loaded yet
        return
    held = rows[0][0] if rows else "at_expiry"  # loaded before the setting existed
    wanted = catalog.settings.breakage_policy
    if held != wanted:
        raise CatalogError(
            f"settings.breakage_policy: cannot change from {held} to {wanted}: periods through "
            f"{closed} are closed and their deferred revenue would change"
        )


def closed_through(con: duckdb.DuckDBPyConnection) -> str | None:
    """The last closed period, or None before any close: closing P closes every earlier
    period too (contract §7). The one reading of `raw.period_closes` in Python; it reads a
    read-only connection too, and a warehouse that was never loaded has closed nothing."""
    try:
        return con.execute("select max(period) from raw.period_closes").fetchall()[0][0]
    except duckdb.CatalogException:
        return None


# The schemas dbt builds its models in, by layer (dbt_project.yml): what a build writes
# beside `raw`, on either engine.
MODEL_SCHEMAS = ("staging", "intermediate", "marts", "reporting")


# Columns that say when and from where a row was loaded, not what it means: equal data loaded
# in other batches or files differs only in these.
LOAD_COLUMNS = frozenset(
    {"load_batch_id", "batch_seq", "ingested_at", "source_file", "line_number"}
)


def table_checksums(
    warehouse: Path,
    schemas: tuple[str, ...] = ("marts", "reporting"),
    skip: frozenset = LOAD_COLUMNS,
) -> dict[str, tuple[int, int]]:
    """(rows, an order-free checksum of the rows) of every table in `schemas`, leaving out
    the `skip` columns: two warehouses with equal checksums hold the same rows."""
    con = connect(warehouse, read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in (select unnest(?::varchar[])) order by all",
            [list(schemas)],
        ).fetchall()
        out = {}
        for schema, table in tables:
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if name not in skip
            ]
            listed = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
            out[f"{schema}.{table}"] = con.execute(
                f'select count(*), coalesce(bit_xor(hash(row({listed}))), 0) from "{schema}"."{table}"'  # noqa: S608 - names from the catalog
            ).fetchall()[0]
        return out
    finally:
        con.close()
