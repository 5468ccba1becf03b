"""The dbt project on a local Spark session (docs/spark.md): the raw tables of a DuckDB
warehouse exported as parquet, named as Spark sources, and models built on them by dbt's
`spark` target, the ledger walk between its dbt steps (spark_walk.py).

Needs the optional extra `spark` (pyspark, dbt-spark) and Java 17. `run_models` is meant to
run in a process of its own (`python -m credits_warehouse.spark_engine`): the session and
its JVM live as long as that process, and one session serves every dbt step of it.

    python -m credits_warehouse.spark_engine RAW_DIR SPARK_DIR OUT_DIR --select MODELS...
        [--parents DIR] [--test] [--query NAME FILE]... [--also RAW_DIR OUT_DIR]...

reads RAW_DIR/<table>/ (export_raw_tables), keeps Spark's tables and metastore in SPARK_DIR, and writes
each built model's rows to OUT_DIR/<model>.parquet; the run's clock comes from the
environment as for DuckDB (CREDITS_RUN_AS_OF, credits_warehouse/incremental.py dbt_env).
A selection holding the ledger walk runs in two dbt steps around it (`run_models`,
credits_warehouse/spark_walk.py).
With --test, `dbt test` then runs the data tests of the selection on Spark too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from credits_warehouse.atomic_files import write_atomically
from credits_warehouse.incremental import run_var_name
from credits_warehouse.warehouse import MODEL_SCHEMAS

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt"


# The landing tables (credits_warehouse.ingest.LANDING_TABLES): appended to one load batch
# at a time, so they are written one file per batch, each once. Every other raw table
# (catalog, control) is small and rewritten whole at each export.
BATCH_COLUMN = "batch_seq"
BATCH_ID_COLUMN = "load_batch_id"
# Raw tables whose models read DuckDB's row id: it is written as a real column, `rowid`.
ROWID_TABLES = ("events",)
SAFE_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class RawExport:
    """What `export_raw_tables` did: the tables, the batch files it wrote, and the files it
    removed because DuckDB no longer has them (a run that failed and was rolled back, or
    columns that changed): then Spark's own tables may hold rows of them and are rebuilt."""

    tables: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def rewound(self) -> bool:
        return bool(self.removed)


def export_raw_tables(con: duckdb.DuckDBPyConnection, out_dir: Path) -> RawExport:
    """Bring `out_dir/<table>/` up to date with every table of DuckDB's schema `raw`.

    A landing table (it has a `batch_seq` column) is one parquet file per load batch,
    `batch-<load_batch_id>.parquet`, written once: an export after a run that loaded
    nothing writes nothing. Beside them `columns-<hash>.parquet`, no rows, gives Spark the
    columns while a table is empty and records which columns the batch files have; when
    DuckDB's columns change every batch is written again. Any other raw table is
    `all.parquet`, rewritten each time. Files are written under a dot name (which Spark
    skips) and renamed into place, so a reader sees whole files only.

    Spark tables have no row ids, so the tables in ROWID_TABLES carry their DuckDB rowid as
    a real column named `rowid`: the models read `rowid` the same way on both engines, and
    a batch's rowids are written once, with the batch. The code reads no column by name but
    `batch_seq` and `load_batch_id`: the rest is whatever the raw table has.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    export = RawExport()
    export.tables = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'raw' and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
    ]
    for name in export.tables:
        relation = con.table(f"raw.{name}")
        if name in ROWID_TABLES:
            relation = relation.select("rowid, *")
        folder = out_dir / name
        folder.mkdir(exist_ok=True)
        if BATCH_COLUMN in relation.columns and BATCH_ID_COLUMN in relation.columns:
            _export_batches(con, relation, folder, export)
        else:
            _write_parquet(relation, folder / "all.parquet")
    return export


def _export_batches(
    con: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    folder: Path,
    export: RawExport,
) -> None:
    signature = json.dumps(
        [[c, str(t)] for c, t in zip(relation.columns, relation.types, strict=True)]
    )
    columns_file = f"columns-{hashlib.sha256(signature.encode()).hexdigest()[:16]}.parquet"
    batches = relation.aggregate(f"{BATCH_COLUMN}, min({BATCH_ID_COLUMN})").fetchall()
    wanted = {}
    for seq, batch_id in batches:
        if not SAFE_NAME.fullmatch(batch_id):
            raise ValueError(
                f"export_raw_tables: a load batch id not fit for a file name: {batch_id!r}"
            )
        wanted[f"batch-{batch_id}.parquet"] = seq
    present = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
    if columns_file not in present:  # new, or DuckDB's columns changed: write every batch
        for name in sorted(present):
            (folder / name).unlink()
            export.removed.append(f"{folder.name}/{name}")
        present = set()
        _write_parquet(relation.limit(0), folder / columns_file)
    for name in sorted(present - wanted.keys() - {columns_file}):
        (folder / name).unlink()
        export.removed.append(f"{folder.name}/{name}")
    for name, seq in sorted(wanted.items()):
        if name not in present:
            batch = relation.filter(
                duckdb.ColumnExpression(BATCH_COLUMN) == duckdb.ConstantExpression(seq)
            )
            _write_parquet(batch, folder / name)
            export.written.append(f"{folder.name}/{name}")


def _write_parquet(relation: duckdb.DuckDBPyRelation, path: Path) -> None:
    """`relation` as the parquet file `path`, which appears whole or not at all."""
    staged = path.with_name(f".{path.name}.tmp")
    relation.write_parquet(str(staged))
    os.replace(staged, path)


def export_model_tables(
    con: duckdb.DuckDBPyConnection, models: Sequence[str], out_dir: Path
) -> list[str]:
    """Write the named models of a DuckDB warehouse to `out_dir/<schema>.<model>.parquet`.

    For building a model on Spark on top of DuckDB's build of its parents (`run_models`'s
    `parents_dir`), so a model can be ported and compared before everything upstream of it
    runs on Spark. `hugeint` columns are written as decimal(38, 0): parquet has no 128-bit
    integer and DuckDB would write a double.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for model in models:
        found = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [model]
        ).fetchall()
        if len(found) != 1:
            raise ValueError(f"export_model_tables: {model!r} is in {len(found)} schemas, not one")
        (schema,) = found[0]
        columns = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, model],
        ).fetchall()
        select = ", ".join(
            f'cast("{name}" as decimal(38, 0)) as "{name}"' if kind == "HUGEINT" else f'"{name}"'
            for name, kind in columns
        )
        # Names from information_schema, quoted; no value is spliced.
        con.sql(f'select {select} from "{schema}"."{model}"').write_parquet(  # noqa: S608
            str(out_dir / f"{schema}.{model}.parquet")
        )
        written.append(f"{schema}.{model}")
    return written


def _register_parents(parents_dir: Path) -> list[str]:
    """Name every `<schema>.<model>.parquet` in `parents_dir` as that Spark table."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    names = []
    for path in sorted(parents_dir.glob("*.*.parquet")):
        schema, model = path.name.removesuffix(".parquet").split(".")
        location = str(path.resolve())
        if "'" in location or "\\" in location:
            raise ValueError(f"a parents path with a quote or backslash: {location}")
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"drop table if exists {schema}.{model}")
        spark.sql(f"create table {schema}.{model} using parquet location '{location}'")
        names.append(f"{schema}.{model}")
    return names


def _dbt_common_args(target_path: Path) -> list[str]:
    return [
        "--target",
        "spark",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_path / "target"),
        "--log-path",
        str(target_path / "logs"),
    ]


def _dbt(args: Sequence[str], target_path: Path, *, check: bool = True) -> bool:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([*args, *_dbt_common_args(target_path)])
    if check and not result.success:
        raise RuntimeError(f"dbt {args[0]} on spark failed: {result.exception or result.result}")
    return result.success


# The walk: a dbt Python model on DuckDB, `spark_walk.walk_ledger` on Spark (dbt-spark runs
# Python models only on Databricks or Dataproc). run_models never lets dbt run it there.
WALK_MODEL = "int_ledger_walked"
WALK_INPUTS_MODEL = "int_ledger_walk_inputs"
VOIDS_MODEL = "int_voids_positioned"


def run_models(
    raw_dir: Path,
    spark_dir: Path,
    out_dir: Path,
    select: Sequence[str],
    parents_dir: Path | None = None,
    *,
    as_of: dt.datetime | None = None,
    resume_from: dt.datetime | None = None,
    test: bool = False,
    queries: dict[str, str] | None = None,
) -> dict:
    """Register the raw parquet files, `dbt run --select` on the spark target, and write
    each model that built to `out_dir/<model>.parquet`. Returns the timings in seconds.

    `parents_dir`: models built elsewhere (`export_model_tables`), named as Spark tables
    before the run, so the selection's refs to them read DuckDB's rows.

    When the selection holds the ledger walk (int_ledger_walked), the run goes in three
    steps: dbt runs the selected models the walk does not feed (up to its inputs,
    int_ledger_walk_inputs), `spark_walk.walk_ledger` writes the walk's table, then dbt runs
    the selected models downstream of it. `as_of` and `resume_from` are the walk's clock
    and resume point; by default the run's (CREDITS_RUN_AS_OF, CREDITS_RUN_RESUME_FROM, as
    the dbt models read them, else dbt_project.yml's defaults).

    `test`: then run the data tests of the selection (`run_data_tests`); built.json gets
    each one's status under "tests".

    `queries`: Spark SQL run in the same session after the models, each written to
    `out_dir/<name>.parquet` (the cross-engine test checks macros on edge values so)."""
    os.environ["CREDITS_SPARK_DIR"] = str(spark_dir)
    # The walk's Python workers run this interpreter (its pyarrow and this package), not
    # whatever `python3` is first on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.monotonic()
    _dbt(
        ["run-operation", "register_raw_parquet", "--args", json.dumps({"path": str(raw_dir)})],
        spark_dir,
    )
    if parents_dir is not None:
        _register_parents(parents_dir)
    timings["session_start_and_register"] = time.monotonic() - started

    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    results = _build_selection(spark, select, spark_dir, timings, as_of, resume_from)
    started = time.monotonic()
    built, zoned = _export(spark, results, queries or {}, out_dir)
    timings["export_results"] = time.monotonic() - started
    tests = None
    every_result = [result for result, _ in results]
    if test:
        started = time.monotonic()
        tests = run_data_tests(select, spark_dir)
        every_result += _last_run_results(spark_dir)
        timings["dbt_test"] = time.monotonic() - started
    # Every dbt step's results in one place: a run in steps (around the walk, then the
    # tests) leaves only the last step's in dbt's own run_results.json.
    summary = json.dumps(
        {
            "models": built,
            # Columns Spark holds as a zoned instant (`timestamp`); the project's are all
            # naive (`timestamp_ntz`), so this stays empty unless a function slipped one in.
            "zoned_columns": zoned,
            "timings": timings,
            **({"tests": tests} if test else {}),
            "run_results": {"results": every_result},
        },
        indent=2,
        default=str,
    )
    write_atomically(summary.encode("utf-8"), out_dir / "built.json")
    return timings


def _build_selection(
    spark,
    select: Sequence[str],
    spark_dir: Path,
    timings: dict[str, float],
    as_of: dt.datetime | None,
    resume_from: dt.datetime | None,
) -> list[tuple[dict, dict]]:
    """dbt run of the selection, in steps around the walk when it holds the walk; returns
    each model's (run result, manifest node). A model that fails leaves the others built."""
    walks = WALK_MODEL in _dbt_ls(select, spark_dir)
    if not walks:
        started = time.monotonic()
        _dbt(["run", "--select", *select, "--exclude", WALK_MODEL], spark_dir, check=False)
        timings["dbt_run"] = time.monotonic() - started
        return _run_results(spark_dir)
    started = time.monotonic()
    _dbt(["run", "--select", *select, "--exclude", f"{WALK_MODEL}+"], spark_dir, check=False)
    timings["dbt_run_before_walk"] = time.monotonic() - started
    results = _run_results(spark_dir)
    nodes = {node["name"]: node for _, node in _model_nodes(spark_dir).items()}
    if any(
        node["name"] == WALK_INPUTS_MODEL and result["status"] != "success"
        for result, node in results
    ):
        return results
    from credits_warehouse.spark_walk import walk_ledger

    started = time.monotonic()
    walk_ledger(
        spark,
        as_of=as_of or _run_instant("as_of"),
        resume_from=resume_from or _run_instant("resume_from"),
        inputs_table=_relation(nodes[WALK_INPUTS_MODEL]),
        walked_table=_relation(nodes[WALK_MODEL]),
        voids_table=_relation(nodes[VOIDS_MODEL]),
    )
    timings["walk"] = time.monotonic() - started
    walked = nodes[WALK_MODEL]
    # A result as dbt writes one, so every reader of built.json finds the walk like a model.
    results.append(
        (
            {"unique_id": walked["unique_id"], "status": "success",
             "execution_time": timings["walk"], "message": "walked on Spark"},
            walked,
        )
    )  # fmt: skip
    started = time.monotonic()
    # Each item intersected with what the walk feeds (a comma is an intersection).
    after = [f"{WALK_MODEL}+,{item}" for item in select]
    _dbt(["run", "--select", *after, "--exclude", WALK_MODEL], spark_dir, check=False)
    timings["dbt_run_after_walk"] = time.monotonic() - started
    return results + _run_results(spark_dir)


def _export(
    spark, results: list[tuple[dict, dict]], queries: dict[str, str], out_dir: Path
) -> tuple[list[str], dict[str, list[str]]]:
    """Each model that built, and each query, to `out_dir/<name>.parquet`; returns the
    models' names and, per model, its zoned-instant columns."""
    built, zoned = [], {}
    for result, node in results:
        if result["status"] != "success":
            continue
        name = node["alias"]
        table = spark.table(_relation(node))
        table.write.mode("overwrite").parquet(str(out_dir / f"{name}.parquet"))
        built.append(name)
        if columns := [f.name for f in table.schema if f.dataType.simpleString() == "timestamp"]:
            zoned[name] = columns
    for name, query in queries.items():
        spark.sql(query).write.mode("overwrite").parquet(str(out_dir / f"{name}.parquet"))
    return built, zoned


def drop_models() -> None:
    """Forget every model Spark built (their schemas, tables and files), so the next
    `run_models` in the same session builds from scratch on other raw tables."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    for schema in MODEL_SCHEMAS:
        spark.sql(f"drop database if exists {schema} cascade")


def _dbt_ls(select: Sequence[str], target_path: Path) -> list[str]:
    """The names of the models `select` picks."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            "ls",
            "--select",
            *select,
            "--resource-type",
            "model",
            "--output",
            "name",
            "--quiet",
            *_dbt_common_args(target_path),
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt ls on spark failed: {result.exception or result.result}")
    return list(result.result)


def _model_nodes(target_path: Path) -> dict[str, dict]:
    manifest = json.loads((target_path / "target" / "manifest.json").read_text(encoding="utf-8"))
    return {
        uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }


def _last_run_results(target_path: Path) -> list[dict]:
    """The last dbt step's results (dbt's run_results.json)."""
    run_results = json.loads(
        (target_path / "target" / "run_results.json").read_text(encoding="utf-8")
    )
    return run_results["results"]


def _run_results(target_path: Path) -> list[tuple[dict, dict]]:
    """The last dbt step's results, each with its manifest node."""
    nodes = _model_nodes(target_path)
    return [(result, nodes[result["unique_id"]]) for result in _last_run_results(target_path)]


def _relation(node: dict) -> str:
    return f"{node['schema']}.{node['alias']}"


def _run_instant(name: str) -> dt.datetime | None:
    """The run's value `name` as the dbt models read it (macro run_var): the environment,
    else dbt_project.yml's default; None when empty."""
    text = os.environ.get(run_var_name(name))
    if text is None:
        project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
        text = project["vars"][name]
    return dt.datetime.fromisoformat(text) if text else None


def run_data_tests(select: Sequence[str], spark_dir: Path) -> dict[str, str]:
    """`dbt test` on the spark target for the data tests of `select` whose every model is in
    it (indirect selection `cautious`: a test reading a model built elsewhere is left out).
    The unit tests run on fixtures, not on the build, and are left out as in a production
    build. Returns {test name: dbt's status (pass, fail, error, ...)}."""
    _dbt(
        [
            "test",
            "--select",
            *select,
            "--indirect-selection",
            "cautious",
            "--exclude-resource-type",
            "unit_test",
        ],
        spark_dir,
        check=False,
    )
    manifest = json.loads((spark_dir / "target" / "manifest.json").read_text(encoding="utf-8"))
    return {
        manifest["nodes"][result["unique_id"]]["name"]: result["status"]
        for result in _last_run_results(spark_dir)
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m credits_warehouse.spark_engine")
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("spark_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--select", nargs="+", required=True)
    parser.add_argument(
        "--parents",
        type=Path,
        help="a folder of <schema>.<model>.parquet (export_model_tables) named as tables first",
    )
    parser.add_argument(
        "--also",
        nargs=2,
        action="append",
        type=Path,
        default=[],
        metavar=("RAW_DIR", "OUT_DIR"),
        help="then build the same selection from scratch on these raw tables, in the same session",
    )
    parser.add_argument(
        "--test", action="store_true", help="then run the selection's data tests on Spark"
    )
    parser.add_argument(
        "--query",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "FILE"),
        help="Spark SQL in FILE run after the models, written to OUT_DIR/NAME.parquet",
    )
    args = parser.parse_args(argv)
    queries = {name: Path(path).read_text(encoding="utf-8") for name, path in args.query}
    timings = run_models(
        args.raw_dir.resolve(),
        args.spark_dir.resolve(),
        args.out_dir,
        args.select,
        args.parents.resolve() if args.parents else None,
        test=args.test,
        queries=queries,
    )
    print(json.dumps(timings))
    for raw_dir, out_dir in args.also:
        drop_models()
        print(
            json.dumps(
                run_models(
                    raw_dir.resolve(),
                    args.spark_dir.resolve(),
                    out_dir,
                    args.select,
                    test=args.test,
                    queries=queries,
                )
            )
        )


if __name__ == "__main__":
    main()
