"""The ledger walk: grants, expiries, repayments, top-ups, rollovers, voids, refunds, grant
amendments and period ends, visited segment by segment (docs/ledger.md).

Why Python: the walk is sequential — each step depends on what earlier steps left in each
grant — and SQL could only express it as a recursive CTE per customer. The logic lives in
`credits_warehouse/ledger.py`, run a customer at a time over Arrow record batches by
`credits_warehouse/ledger_batches.py` (both tested on their own). This step only streams the
inputs (`int_ledger_walk_inputs`, sorted a bucket of customers at a time) through it into
one table, told apart by `row_kind`:
- `entry`: ledger entries other than usage draws;
- `span`: which grant (or shortfall) covers which span of a segment's running total;
- `grant`: grants the walk creates (auto top-ups, rollovers);
- `amendment`: what each grant amendment the walk applies did (`amendment_outcome`, and the
  grant's new `expires_at`);
- `checkpoint`: each customer's walk state at each period end after the one this build
  resumed from (`checkpoint`, JSON): the next build resumes from the one at the end of
  the last closed period (docs/incremental.md).
`walked_at` dates every row (a span by its segment's first debit), so a resuming build
replaces exactly the rows at or after the instant it resumes from.
"""

import datetime as dt
import os

import pyarrow as pa

from credits_warehouse.incremental import run_var_name
from credits_warehouse.ledger_batches import INPUT_ORDER, INPUT_SCHEMA, WALKED_SCHEMA, walk_batches

INPUT_BATCH_ROWS = 65536
# At most about this many input rows in one sort. DuckDB sorts the stream the walk reads
# within its memory limit and does not spill it as it spills a table's sort: at 100M events
# (some 15M rows, most of them debit positions of auto top-up customers) one sort of every
# row ran out of memory. The environment can lower it (a test walks in many buckets).
WALK_BUCKET_ROWS = int(os.environ.get("CREDITS_WALK_BUCKET_ROWS", "1000000"))


def _run_var(name, configured):
    """The run's value, read as the macro run_var reads it (dbt/macros/run_vars.sql): the
    environment first, at run time. The models yml's config (`--vars` or the default) is
    only the fallback: dbt renders it when it parses, and a parse kept from an earlier run
    carries that run's values."""
    return os.environ.get(run_var_name(name), configured)


def _instant(text):
    return dt.datetime.fromisoformat(text) if text else None


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    as_of = dt.datetime.fromisoformat(_run_var("as_of", dbt.config.get("as_of")))
    resume_from = (
        _instant(_run_var("resume_from", dbt.config.get("resume_from")))
        if dbt.is_incremental
        else None
    )

    if dbt.is_incremental:
        _drop_resume_window(session, dbt.this, resume_from)
    inputs = dbt.ref("int_ledger_walk_inputs")
    if resume_from:
        at = f"cast('{resume_from.isoformat()}' as timestamp)"
        inputs = inputs.filter(
            f"input_kind = 'segment' and first_booked_at >= {at}"
            f" or input_kind = 'position' and booked_at >= {at}"
            " or input_kind not in ('segment', 'position')"
        ).union(_kept_inputs(session, dbt, at))
    walked = walk_batches(_sorted_by_bucket(inputs), as_of=as_of, resume_from=resume_from)
    # A stream, not a table: dbt-duckdb writes it on a cursor of its own while this one
    # still reads the sorted inputs, so the walk's output is never all in memory at once
    # (at 100M events it was gigabytes beside DuckDB's own memory limit).
    return pa.RecordBatchReader.from_batches(WALKED_SCHEMA, walked)


def _sorted_by_bucket(inputs):
    """The input rows in walk order, a bucket of customers at a time: the customers split by
    the hash of their id into as many buckets as keep each sort near WALK_BUCKET_ROWS rows.
    Each customer's rows stay together, which is all the walk asks (buckets are disjoint)."""
    (rows,) = inputs.aggregate("count(*)").fetchall()[0]
    buckets = max(1, -(-rows // WALK_BUCKET_ROWS))
    order = ", ".join(INPUT_ORDER)
    for bucket in range(buckets):
        # Both numbers are this function's integers, not data.
        part = inputs.filter(f"hash(customer_id) % {buckets} = {bucket}") if buckets > 1 else inputs
        yield from part.order(order).to_arrow_reader(INPUT_BATCH_ROWS)


def _kept_inputs(session, dbt, at):
    """What a resuming build kept from the last one, as input rows: each customer's
    checkpoint at the resume point, and the earlier spans of segments a void names."""
    this = session.sql(f"select * from {dbt.this}")  # noqa: S608 - dbt's own relation name
    checkpoints = this.filter(f"row_kind = 'checkpoint' and walked_at = {at}")
    voided = dbt.ref("int_voids_positioned").project("customer_id, segment_start_at").distinct()
    spans = this.filter(f"row_kind = 'span' and walked_at < {at}").join(
        voided, "customer_id, segment_start_at"
    )
    return checkpoints.project(_as_input("checkpoint", ["checkpoint"])).union(
        spans.project(
            _as_input(
                "prior_span",
                [
                    "segment_start_at",
                    "eligibility_class",
                    "position_from",
                    "position_to",
                    "grant_id",
                    "entry_type",
                    "span_seq",
                ],
            )
        )  # fmt: skip
    )


def _as_input(kind, columns):
    """A select list giving rows of `kind` the walk's input columns, others null."""
    types = {pa.string(): "varchar", pa.timestamp("us"): "timestamp", pa.int32(): "integer",
             pa.int64(): "bigint", pa.decimal128(38, 12): "decimal(38, 12)"}  # fmt: skip
    keep = {"customer_id", *columns}
    return ", ".join(
        f"cast('{kind}' as varchar) as input_kind"
        if f.name == "input_kind"
        else f"cast({f.name if f.name in keep else 'null'} as {types[f.type]}) as {f.name}"
        for f in INPUT_SCHEMA
    )


def _drop_resume_window(session, this, resume_from):
    """The rows this build recomputes go first (all of them when it does not resume),
    but the checkpoint it resumes from stays until the build is recorded; older
    checkpoints are not needed again. (What the SQL models' pre-hooks do; a hook would
    leave a result open on the connection this model runs on.)"""
    if resume_from is None:
        session.execute(f"delete from {this}").fetchall()  # noqa: S608 - dbt's relation name
        return
    # dbt's own relation name; the instants are bound.
    window = f"delete from {this} where walked_at >= ? and row_kind <> 'checkpoint'"  # noqa: S608
    session.execute(
        window + " or row_kind = 'checkpoint' and walked_at <> ?",
        [resume_from, resume_from],
    ).fetchall()
