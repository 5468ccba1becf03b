"""`CREDITS_ENGINE=spark`: the dbt models built by Spark, the DuckDB file still the control
plane (docs/spark.md, "The engine switch").

DuckDB is the default engine and its path does not pass through here. With
`CREDITS_ENGINE=spark` the dbt step of a run (`credits run`, `close`, `backfill`, `demo`, a
Dagster job) does three things instead of `dbt build` on DuckDB:

1. `prepare`: the DuckDB file's raw tables go to `<spark dir>/raw/` as parquet
   (spark_engine.export_raw_tables: each new load batch once, the catalog and control
   tables whole). Landing files are still read once each by the one ingest
   (credits_warehouse/ingest.py), which records them in `raw.loaded_files`.
2. `build`: the models built by dbt's `spark` target in a process of its own (the JVM lives
   as long as it), which calls spark_engine.run_models. Each model it builds is written to a
   folder of this build, `<spark dir>/outputs/<build id>/<model>.parquet`.
3. `publish`: each model built is named in the DuckDB file as a view of the same schema and
   name (`marts.fct_invoices`, `reporting.rpt_statements`, ...) over its folder, columns
   cast to the types of the model's contract, and the build is recorded in
   `raw.spark_builds`.

So everything after the dbt step reads Spark's rows through DuckDB, unchanged: the pandera
checks, the finance assets that persist invoice numbers and frozen figures, the alert
outbox, the PDF renderer, `credits export`, and analysts with the DuckDB file. The control
tables (loaded files, load batches, closes, invoice numbers, frozen figures, alerts sent,
deliveries, builds) stay DuckDB tables, written as before.

Why a folder per build and views, not copies: a run writes a copy of the DuckDB file and
swaps it in only when every step succeeded. The copy's views name the new build's folder;
the published file's views still name the last good build's, which is kept until a later
run has replaced it. So a run that fails leaves what readers see as it was, as on DuckDB,
and nothing is copied twice. A reader that keeps a connection open across two runs may find
its folder gone (reconnect, as after any run).

No Dagster imports: the dbt asset (dagster_project/dbt.py) and the tests call this.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credits_warehouse.spark_engine import RawExport, export_raw_tables
from credits_warehouse.warehouse import working_copy_path

ENGINE_VARIABLE = "CREDITS_ENGINE"
ENGINES = ("duckdb", "spark")
SPARK_DIR_VARIABLE = "CREDITS_SPARK_DIR"
# While the port is under way: the models to build on Spark, a dbt selection (space
# separated); models outside it are not built and what reads them is skipped.
SELECT_VARIABLE = "CREDITS_SPARK_SELECT"
EVERY_MODEL = ("fqn:*",)
# dbt views over the control tables that a close writes after its build (finance assets:
# frozen figures, invoice numbers), and the views downstream of them (int_usage_restated,
# rpt_restatements). On DuckDB a view reads them as they are now; a view published over a
# Spark build's parquet would hold them as they were before the close. So these few views,
# which hold no rows of their own, are made in the DuckDB file by dbt's DuckDB target over
# the published models, after each Spark build (dagster_project/dbt.py), as on DuckDB.
LIVE_VIEWS = (
    "source:control.frozen_figures+,config.materialized:view",
    "source:control.invoice_numbers+,config.materialized:view",
)
REPO_ROOT = Path(__file__).resolve().parents[1]

SPARK_BUILDS_DDL = """
create table if not exists raw.spark_builds (
    build_seq integer primary key,
    build_id varchar not null unique,
    built_at timestamp not null,
    outputs varchar not null,
    models integer not null
)
"""


class SparkBuildError(RuntimeError):
    """The Spark build failed; the message names what failed, in one line."""


def engine(environ: Mapping[str, str] | None = None) -> str:
    """The engine a run builds with: CREDITS_ENGINE, `duckdb` when unset."""
    text = (os.environ if environ is None else environ).get(ENGINE_VARIABLE, "").strip()
    if not text:
        return "duckdb"
    if text.lower() not in ENGINES:
        raise ValueError(f"{ENGINE_VARIABLE} must be one of {', '.join(ENGINES)}, not {text!r}")
    return text.lower()


def spark_dir(warehouse: Path) -> Path:
    """Where Spark's side of a warehouse lives: CREDITS_SPARK_DIR, else `<warehouse>.spark`
    beside the DuckDB file (the real file's when `warehouse` is a run's working copy)."""
    given = os.environ.get(SPARK_DIR_VARIABLE, "").strip()
    if given:
        return Path(given).expanduser().resolve()
    original = warehouse.with_name(warehouse.name.removesuffix(".work"))
    if original != warehouse and working_copy_path(original) == warehouse:
        warehouse = original
    return warehouse.with_name(f"{warehouse.name}.spark")


def selection(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The dbt selection built on Spark: CREDITS_SPARK_SELECT, else every model."""
    text = (os.environ if environ is None else environ).get(SELECT_VARIABLE, "")
    return tuple(text.split()) or EVERY_MODEL


@dataclass(frozen=True)
class Prepared:
    """A build about to start: its id, the folder its outputs go to, and the raw export."""

    build_id: str
    outputs: Path
    raw: RawExport
    rebuilt: str | None  # why Spark's own tables were dropped first, if they were


def prepare(
    con: duckdb.DuckDBPyConnection, folder: Path, full_refresh: str | None, as_of: dt.datetime
) -> Prepared:
    """Export raw, drop the outputs of builds the DuckDB file no longer names, and drop
    Spark's own tables (a rebuild from raw) when `full_refresh` gives a reason or the raw
    export removed batches (a run that failed after its Spark build was rolled back in
    DuckDB: Spark's incremental tables may hold its rows)."""
    con.execute(SPARK_BUILDS_DDL)
    raw = export_raw_tables(con, folder / "raw")
    rebuilt = full_refresh or (
        f"raw files no longer in DuckDB: {', '.join(raw.removed[:3])}" if raw.rewound else None
    )
    if rebuilt:
        for state in ("tables", "metastore_db"):
            shutil.rmtree(folder / state, ignore_errors=True)
    outputs_root = folder / "outputs"
    outputs_root.mkdir(parents=True, exist_ok=True)
    kept = {
        Path(outputs).name
        for (outputs,) in con.execute(
            "select outputs from raw.spark_builds order by build_seq desc limit 1"
        ).fetchall()
    }
    for old in outputs_root.iterdir():
        if old.name not in kept:
            shutil.rmtree(old, ignore_errors=True)
    build_id = f"{as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    return Prepared(build_id, outputs_root / build_id, raw, rebuilt)


def build(
    folder: Path,
    prepared: Prepared,
    select: Sequence[str],
    env: Mapping[str, str],
    echo: Callable[[str], None],
) -> dict:
    """Run the Spark build in a process of its own; each line it prints goes to `echo`.
    Returns its summary (`built.json`: the models built, timings, every dbt step's results
    with the data tests') with `failed`, the dbt nodes that failed. Raises SparkBuildError if the process
    fails."""
    command = [
        sys.executable,
        "-m",
        "credits_warehouse.spark_warehouse",
        str(folder / "raw"),
        str(folder),
        str(prepared.outputs),
        "--select",
        *select,
    ]
    process_env = {
        **os.environ,
        **env,
        SPARK_DIR_VARIABLE: str(folder),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": os.environ.get("DBT_SEND_ANONYMOUS_USAGE_STATS", "false"),
    }
    tail: deque[str] = deque(maxlen=20)
    with subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
        command,
        cwd=REPO_ROOT,
        env=process_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            echo(line)
            tail.append(line.rstrip())
    summary_path = prepared.outputs / "built.json"
    if process.returncode != 0 or not summary_path.exists():
        last = next((line for line in reversed(tail) if line.strip()), "no output")
        raise SparkBuildError(f"the Spark build failed (exit {process.returncode}): {last}")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    results = summary["run_results"]  # every dbt step's, models and tests
    summary["failed"] = [
        r["unique_id"]
        for r in results.get("results", [])
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    return summary


def publish(
    con: duckdb.DuckDBPyConnection,
    prepared: Prepared,
    models: Sequence[str],
    manifest: Mapping,
    built_at: dt.datetime,
) -> list[str]:
    """Name each built model in the DuckDB file as a view over its folder in this build's
    outputs, in the schema dbt gives it on DuckDB, columns cast to its contract's types
    (JSON, hugeint and the like read back from parquet as text or decimal otherwise).
    Records the build in `raw.spark_builds`. Returns `schema.model` of each view."""
    nodes = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
    }
    published = []
    for model in models:
        node = nodes[model]
        schema = node["schema"]
        files = str(prepared.outputs / f"{model}.parquet" / "*.parquet")
        con.execute(f'create schema if not exists "{schema}"')
        columns = [
            name
            for (name, *_) in con.execute(
                "describe select * from read_parquet(?)", [files]
            ).fetchall()
        ]
        types = {name: c.get("data_type") for name, c in node.get("columns", {}).items()}
        select = ", ".join(
            f'cast("{name}" as {types[name]}) as "{name}"' if types.get(name) else f'"{name}"'
            for name in columns
        )
        kind = con.execute(
            "select table_type from information_schema.tables"
            " where table_schema = ? and table_name = ?",
            [schema, model],
        ).fetchall()
        if kind and kind[0][0] == "BASE TABLE":  # built on DuckDB before the switch
            con.execute(f'drop table "{schema}"."{model}"')
        # Names from the manifest and the file's own columns, types from the model's
        # contract, the path ours (a quote in it is doubled): no data is spliced.
        location = files.replace("'", "''")
        con.execute(
            f'create or replace view "{schema}"."{model}" as'  # noqa: S608
            f" select {select} from read_parquet('{location}')"
        )
        published.append(f"{schema}.{model}")
    con.execute(
        "insert into raw.spark_builds"
        " select coalesce(max(build_seq), 0) + 1, ?, ?, ?, ? from raw.spark_builds",
        [prepared.build_id, built_at, str(prepared.outputs), len(published)],
    ).fetchall()
    return published


def main(argv: Sequence[str] | None = None) -> None:
    """The build process: `python -m credits_warehouse.spark_warehouse RAW_DIR SPARK_DIR
    OUT_DIR --select MODELS...`, one Spark session for every dbt step of it."""
    import argparse

    from credits_warehouse.spark_engine import run_models

    parser = argparse.ArgumentParser(prog="python -m credits_warehouse.spark_warehouse")
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("spark_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--select", nargs="+", required=True)
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    timings = run_models(
        raw_dir=args.raw_dir.resolve(),
        spark_dir=args.spark_dir.resolve(),
        out_dir=args.out_dir.resolve(),
        select=args.select,
        test=True,
    )
    print(json.dumps({"spark timings (s)": timings}), flush=True)


if __name__ == "__main__":
    main()
