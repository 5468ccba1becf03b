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
belong to closed periods and are never recomputed. The walk keeps its state at every later
period end too, so whichever period is closed next, the build after resumes there.

A build whose only news is a close (nothing landed since the last build, the same clock,
catalog and models) changes only what a close changes: the invoices' statuses and numbers
and what reads them (`int_invoices_numbered` and downstream). It rebuilds only those; the
ledger's checkpoint at the new close was taken by the last build.

No Dagster imports: the dbt asset and the tests' build helper both call this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credits_warehouse.catalog import Catalog
from credits_warehouse.ingest import discover, pending_files
from credits_warehouse.periods import period_bounds
from credits_warehouse.warehouse import CATALOG_DDL, closed_through, connect, write_catalog

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


def _last_build(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """(fingerprint, checkpoint_at, as_of, last_batch_seq) of the last build."""
    rows = con.execute(
        "select fingerprint, checkpoint_at, as_of, last_batch_seq from raw.build_state"
        " order by build_seq desc limit 1"
    ).fetchall()
    return rows[0] if rows else None


def last_batch_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The last load batch that loaded anything (0 before any)."""
    return con.execute(
        "select coalesce(max(batch_seq), 0) from raw.load_batches where files_loaded > 0"
    ).fetchall()[0][0]


# What a close changes when nothing else did (see the module's docstring).
CLOSE_CHANGES = "int_invoices_numbered"


def models_a_close_leaves_alone(manifest_path: Path) -> list[str]:
    """The models a close-only build skips, each after its parents: all but `CLOSE_CHANGES`
    and what reads it."""
    manifest = json.loads(manifest_path.read_text())
    models = {
        uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }
    root = next(uid for uid, node in models.items() if node["name"] == CLOSE_CHANGES)
    changed, queue = {root}, [root]
    while queue:
        for child in manifest["child_map"].get(queue.pop(), []):
            if child in models and child not in changed:
                changed.add(child)
                queue.append(child)
    left = {uid for uid in models if uid not in changed}
    return [models[uid]["name"] for uid in _upstream_first(left, manifest["parent_map"])]


def _upstream_first(nodes: set[str], parent_map: dict[str, list[str]]) -> list[str]:
    """`nodes` in an order where each comes after its parents among them (ties by name)."""
    done: list[str] = []
    waiting = sorted(nodes)
    while waiting:
        ready = [n for n in waiting if not set(parent_map.get(n, [])) & (nodes - set(done))]
        done += ready
        waiting = [n for n in waiting if n not in ready]
    return done


def tables_checked_by_a_build(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> set[str]:
    """The raw tables among `tables` whose latest load batch a published build read: its run
    judged that batch (a failed check publishes nothing), so a run that loads no row into
    them need not judge it again. Rows written into `raw` by other means, after no build or
    in a batch past the last build's, are judged as before."""
    last_built = con.execute(
        "select coalesce(max(last_batch_seq), 0) from raw.build_state"
    ).fetchall()[0][0]
    return {
        table
        for table in tables
        if con.execute(
            f"select coalesce(max(batch_seq), 0) <= ? from raw.{table}",  # noqa: S608 - fixed names
            [last_built],
        ).fetchall()[0][0]
    }


def checkpoint_instant(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The first instant after the last closed period, or None before any close."""
    through = closed_through(con)
    return period_bounds(through)[1] if through else None


@dataclass(frozen=True)
class BuildPlan:
    """What a build reads and where its ledger starts and checkpoints."""

    fingerprint: str
    full_refresh_reason: str | None
    resume_from: dt.datetime | None  # None: the ledger from the beginning
    checkpoint_at: dt.datetime | None  # None: nothing closed; else where the next resumes
    last_batch_seq: int = 0  # the last load batch this build reads
    # Only closes changed since the last build: the models it leaves as that build made
    # them (`models_a_close_leaves_alone`), each after its parents; empty otherwise.
    left_alone: tuple[str, ...] = ()

    @property
    def closes_only(self) -> bool:
        return bool(self.left_alone)

    @property
    def full_refresh(self) -> bool:
        return self.full_refresh_reason is not None


def plan_build(
    con: duckdb.DuckDBPyConnection,
    manifest_path: Path,
    full_refresh: bool = False,
    as_of: dt.datetime | None = None,
) -> BuildPlan:
    """How the next build goes, as of `as_of`; `full_refresh` asks for everything from raw."""
    fingerprint = build_fingerprint(con, manifest_path)
    reason = "asked for" if full_refresh else full_refresh_reason(con, fingerprint)
    last = None if reason else _last_build(con)
    checkpoint_at = checkpoint_instant(con)
    batch_seq = last_batch_seq(con)
    closes_only = (
        last is not None
        and as_of is not None
        and last[2] == as_of
        and last[3] == batch_seq
        and checkpoint_at is not None
        and checkpoint_at != last[1]
    )
    return BuildPlan(
        fingerprint=fingerprint,
        full_refresh_reason=reason,
        resume_from=last[1] if last else None,
        checkpoint_at=checkpoint_at,
        last_batch_seq=batch_seq,
        left_alone=tuple(models_a_close_leaves_alone(manifest_path)) if closes_only else (),
    )


# The run's values reach dbt as environment variables, one per name (`CREDITS_RUN_AS_OF`, …):
# the macro `run_var` (dbt/macros/run_vars.sql) and the Python model int_ledger_walked read
# them; tests/unit/test_partitions.py holds the macro to `run_var_name`.
RUN_VAR_PREFIX = "CREDITS_RUN_"


def run_var_name(name: str) -> str:
    """The environment variable that carries the run's value `name` (`as_of`, ...)."""
    return RUN_VAR_PREFIX + name.upper()


def dbt_env(variables: dict[str, str]) -> dict[str, str]:
    """The environment variables that hand dbt a run's values (partitions.dbt_vars)."""
    return {run_var_name(name): value for name, value in variables.items()}


def dbt_build_args(plan: BuildPlan) -> list[str]:
    """`dbt build`'s arguments for a plan: everything, incremental, or a close's models.
    The run's clock and window go by environment (`dbt_env`), not `--vars`. dbt's unit
    tests (dbt/models/_unit_tests.yml) run on fixtures, not on the run's data, so a run
    leaves them out: tests/dbt/test_dbt_unit_tests.py runs them."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if plan.full_refresh:
        return [*args, "--full-refresh"]
    if plan.closes_only:
        # One argument, the names space-separated (a union in dbt's selection syntax):
        # dagster-dbt takes the single value after --exclude into its own selection.
        # `buildable`: a check runs when every model it reads is built or upstream of one
        # built, so the frozen-figures and invoice checks run, those of skipped models not.
        return [*args, "--exclude", " ".join(plan.left_alone), "--indirect-selection", "buildable"]
    return args


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
        " select coalesce(max(build_seq), 0) + 1, ?, ?, ?, ?, ?, ? from raw.build_state",
        [
            plan.fingerprint,
            as_of,
            plan.full_refresh,
            plan.resume_from,
            plan.checkpoint_at,
            plan.last_batch_seq,
        ],
    ).fetchall()
