"""The ledger walk on Spark (docs/spark.md "The walk"): the walk code that serves DuckDB,
`ledger_batches.walk_batches`, run by `DataFrame.mapInArrow` over the rows of the dbt view
`int_ledger_walk_inputs`, into the table `int_ledger_walked`.

On DuckDB the walk is the dbt Python model int_ledger_walked; dbt-spark runs Python models
only on Databricks or Dataproc, so on the `spark` target that model is never run by dbt:
`spark_engine.run_models` runs the dbt models up to the walk's inputs, then `walk_ledger`,
then the models that read the walk. Their `ref('int_ledger_walked')` names the same table
on both engines, so their SQL is the same.

The inputs are repartitioned by customer and sorted within each partition in `INPUT_ORDER`
(nulls last, as DuckDB sorts), so each Python worker sees each of its customers' rows
together, in the order the walk reads them; walk_batches holds one customer's rows at a time
and Spark's sort spills to disk, so memory is bounded by the largest customer.

Resuming (docs/incremental.md): with `resume_from` and the table already there, the walk
takes what the last build kept as input (each customer's checkpoint at `resume_from`, and
the earlier spans of segments a void names), walks only the segments and positions from
there on, and keeps the earlier rows. A parquet table cannot delete rows, so the kept rows
and the new ones are written to a new table that then replaces the old (the rows written
are the whole table; the walk itself is only the open periods). Without a table, or without
`resume_from`, everything is walked.

No Dagster imports: the Spark engine and a Dagster asset both call this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pyarrow as pa

from credits_warehouse.ledger_batches import INPUT_ORDER, INPUT_SCHEMA, WALKED_SCHEMA, walk_batches

INPUTS_TABLE = "intermediate.int_ledger_walk_inputs"
WALKED_TABLE = "intermediate.int_ledger_walked"
# A resuming walk takes the earlier spans of the segments these voids name.
VOIDS_TABLE = "intermediate.int_voids_positioned"

# The Spark SQL type of each Arrow type of INPUT_SCHEMA and WALKED_SCHEMA.
_SPARK_TYPES = {
    pa.string(): "string",
    pa.timestamp("us"): "timestamp_ntz",
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.decimal128(38, 12): "decimal(38, 12)",
}


def spark_ddl(schema: pa.Schema) -> str:
    """An Arrow schema as a Spark DDL string (`name type, ...`)."""
    return ", ".join(f"{field.name} {_SPARK_TYPES[field.type]}" for field in schema)


def walk_ledger(
    spark,
    *,
    as_of: dt.datetime,
    resume_from: dt.datetime | None = None,
    inputs_table: str = INPUTS_TABLE,
    walked_table: str = WALKED_TABLE,
    voids_table: str = VOIDS_TABLE,
    partitions: int | None = None,
) -> None:
    """Walk every customer of `inputs_table` into `walked_table`.

    `partitions`: how many groups of customers the walk runs in (default: the session's
    shuffle partitions)."""
    from pyspark.sql import functions as F

    exists = spark.catalog.tableExists(walked_table)
    resuming = resume_from is not None and exists
    inputs = spark.table(inputs_table).select(*(F.col(f.name) for f in INPUT_SCHEMA))
    if resuming:
        inputs = _resumed_inputs(spark, inputs, walked_table, voids_table, resume_from)
    inputs = inputs.repartition(
        partitions or int(spark.conf.get("spark.sql.shuffle.partitions")), "customer_id"
    ).sortWithinPartitions(*(F.col(name).asc_nulls_last() for name in INPUT_ORDER))

    walk_from = resume_from if resuming else None

    def walk_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # Spark's Arrow batches carry INPUT_SCHEMA's columns in its order; the cast only
        # names the types exactly (Spark may send strings as large_string).
        typed = (
            pa.RecordBatch.from_arrays(
                [b.column(f.name).cast(f.type) for f in INPUT_SCHEMA], schema=INPUT_SCHEMA
            )
            for b in batches
        )
        yield from walk_batches(typed, as_of=as_of, resume_from=walk_from)

    walked = inputs.mapInArrow(walk_partition, spark_ddl(WALKED_SCHEMA))
    schema = walked_table.split(".")[0]
    spark.sql(f"create database if not exists {schema}")
    if not resuming:
        walked.write.mode("overwrite").saveAsTable(walked_table)
        return

    # Resuming: the rows the last build made before the resume point stay, and so does the
    # checkpoint the walk resumed from (what int_ledger_walked.py's delete keeps on DuckDB).
    at = _instant(resume_from)
    kept = spark.table(walked_table).where(
        ((F.col("walked_at") < at) & (F.col("row_kind") != "checkpoint"))
        | ((F.col("row_kind") == "checkpoint") & (F.col("walked_at") == at))
    )
    next_table = f"{walked_table}__next"
    spark.sql(f"drop table if exists {next_table}")
    kept.unionByName(walked).write.saveAsTable(next_table)
    spark.sql(f"drop table {walked_table}")
    spark.sql(f"alter table {next_table} rename to {walked_table}")


def _resumed_inputs(spark, inputs, walked_table: str, voids_table: str, resume_from: dt.datetime):
    """The inputs of a resuming walk (int_ledger_walked.py on DuckDB): segments and
    positions from the resume point on, every other kind whole, and what the last build
    kept: each customer's checkpoint at the resume point and the earlier spans of the
    segments a void names."""
    from pyspark.sql import functions as F

    at = _instant(resume_from)
    kind = F.col("input_kind")
    inputs = inputs.where(
        ((kind == "segment") & (F.col("first_booked_at") >= at))
        | ((kind == "position") & (F.col("booked_at") >= at))
        | ~kind.isin("segment", "position")
    )
    this = spark.table(walked_table)
    checkpoints = this.where((F.col("row_kind") == "checkpoint") & (F.col("walked_at") == at))
    voided = spark.table(voids_table).select("customer_id", "segment_start_at").distinct()
    spans = this.where((F.col("row_kind") == "span") & (F.col("walked_at") < at)).join(
        voided, ["customer_id", "segment_start_at"]
    )
    prior_span_columns = (
        "segment_start_at", "eligibility_class", "position_from", "position_to", "grant_id",
        "entry_type", "span_seq",
    )  # fmt: skip
    return inputs.unionByName(_as_input(checkpoints, "checkpoint", ("checkpoint",))).unionByName(
        _as_input(spans, "prior_span", prior_span_columns)
    )


def _as_input(rows, kind: str, columns: tuple[str, ...]):
    """`rows` of the walked table as input rows of `kind`: their `columns`, others null."""
    from pyspark.sql import functions as F

    keep = {"customer_id", *columns}
    return rows.select(
        *(
            F.lit(kind).alias(f.name)
            if f.name == "input_kind"
            else (F.col(f.name) if f.name in keep else F.lit(None))
            .cast(_SPARK_TYPES[f.type])
            .alias(f.name)
            for f in INPUT_SCHEMA
        )
    )


def _instant(at: dt.datetime):
    """A naive UTC instant as a Spark timestamp_ntz literal, from its text (a datetime
    literal would go through the Python process's local time zone)."""
    from pyspark.sql import functions as F

    return F.lit(at.isoformat(sep=" ")).cast("timestamp_ntz")
