"""The ledger walk over Arrow record batches grouped by customer (docs/incremental.md).

    walk_batches(batches, as_of=..., resume_from=...) -> batches

In: one stream of tagged rows in `INPUT_SCHEMA`, `input_kind` saying what each row is
(`INPUT_KINDS`), each customer's rows together. The dbt view `int_ledger_walk_inputs` makes
every kind but two; a resuming build adds the customer's `checkpoint` and the earlier
spans (`prior_span`) of segments that a void names, and keeps only the segments and
positions from the resume point on.

Out: rows of `WALKED_SCHEMA` (the table `int_ledger_walked`), told apart by `row_kind`:
entries, segment spans, created grants (top-ups, rollovers), what each grant amendment did,
and the checkpoints at each period end after the resume point.

It holds one customer's rows at a time, so memory follows the largest customer, not the
data set. It imports neither Dagster nor dbt: the dbt Python model feeds it from DuckDB, and
a Spark job can run it through `mapInArrow` over rows partitioned and sorted by customer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from credits_warehouse.ledger import (
    Amendment,
    CustomerInput,
    Grant,
    PlanSpell,
    Positions,
    Refund,
    Segment,
    TopupSetting,
    Void,
    walk_customer,
)

CREDITS = pa.decimal128(38, 12)
INSTANT = pa.timestamp("us")

# The input rows: each kind fills its own columns and leaves the others null.
INPUT_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("input_kind", pa.string()),
        ("grant_id", pa.string()),  # grant, refund, amendment, prior_span
        ("grant_kind", pa.string()),  # grant
        ("credits", CREDITS),  # grant, segment
        ("effective_at", INSTANT),  # grant, amendment
        ("expires_at", INSTANT),  # grant
        ("priority", pa.int32()),  # grant, topup
        ("cost_basis_per_credit", CREDITS),  # grant, topup
        ("currency", pa.string()),  # grant, topup
        ("paid_amount", pa.int64()),  # grant
        ("source_type", pa.string()),  # grant
        ("source_id", pa.string()),  # grant
        ("applies_to", pa.string()),  # grant, topup ("" or null: every aggregator)
        ("segment_start_at", INSTANT),  # segment, void, position, prior_span
        ("eligibility_class", pa.string()),  # segment, void, position, prior_span
        ("run_seq", pa.int64()),  # segment
        ("first_booked_at", INSTANT),  # segment
        ("last_booked_at", INSTANT),  # segment
        ("started_at", INSTANT),  # spell
        ("ended_at", INSTANT),  # spell
        ("overage", pa.string()),  # spell
        ("rollover_max_credits", CREDITS),  # spell
        ("rollover_expires_after_periods", pa.int32()),  # spell
        ("enabled_from", INSTANT),  # topup
        ("enabled_to", INSTANT),  # topup
        ("threshold_credits", CREDITS),  # topup
        ("max_per_period", pa.int32()),  # topup
        ("bundle_credits", CREDITS),  # topup
        ("expires_after_days", pa.int32()),  # topup
        ("price_amount", pa.int64()),  # topup
        ("voided_at", INSTANT),  # void
        ("event_id", pa.string()),  # void
        ("position_before", CREDITS),  # void
        ("position_after", CREDITS),  # void, position
        ("refunded_at", INSTANT),  # refund
        ("refund_id", pa.string()),  # refund
        ("amendment_id", pa.string()),  # amendment
        ("amendment_action", pa.string()),  # amendment
        ("new_expires_at", INSTANT),  # amendment
        ("booked_at", INSTANT),  # position
        ("position_from", CREDITS),  # prior_span, segment (where its run starts)
        ("position_to", CREDITS),  # prior_span
        ("entry_type", pa.string()),  # prior_span
        ("span_seq", pa.int64()),  # prior_span
        ("checkpoint", pa.string()),  # checkpoint (JSON)
    ]
)

INPUT_KINDS = (
    "grant",  # a grant or negative adjustment (int_grants_unioned)
    "segment",  # a run of debits of one class between two instants (int_usage_segments)
    "spell",  # a plan subscription's spell (int_plan_spells)
    "topup",  # an auto top-up setting (int_auto_topups_priced)
    "void",  # one span of a voided debit (int_voids_positioned)
    "refund",  # a refund of a purchased grant (int_refunds_validated)
    "amendment",  # a grant amendment the walk applies (int_grant_amendments_sequenced)
    "position",  # a debit's running position, top-up customers only (int_usage_positioned)
    "checkpoint",  # the state at the resume point (int_ledger_walked)
    "prior_span",  # a span before the resume point of a segment a void names (same)
)

# The order a caller sorts the rows in: customers together, and within a kind the order
# the walk reads them in (columns another kind leaves null do not disturb it).
INPUT_ORDER = (
    "customer_id",
    "input_kind",
    "segment_start_at",
    "run_seq",
    "eligibility_class",
    "position_after",
    "booked_at",
    "span_seq",
    "event_id",
    "refunded_at",
    "refund_id",
    "amendment_id",
    "started_at",
    "enabled_from",
    "effective_at",
    "grant_id",
)

WALKED_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("row_kind", pa.string()),
        ("walked_at", INSTANT),
        ("entry_at", INSTANT),
        ("entry_rank", pa.int32()),
        ("entry_seq", pa.int64()),
        ("period", pa.string()),
        ("entry_type", pa.string()),
        ("grant_id", pa.string()),
        ("credits", CREDITS),
        ("segment_start_at", INSTANT),
        ("eligibility_class", pa.string()),
        ("position_from", CREDITS),
        ("position_to", CREDITS),
        ("span_seq", pa.int64()),
        ("kind", pa.string()),
        ("effective_at", INSTANT),
        ("expires_at", INSTANT),
        ("priority", pa.int32()),
        ("cost_basis_per_credit", CREDITS),
        ("currency", pa.string()),
        ("paid_amount", pa.int64()),
        ("source_type", pa.string()),
        ("source_id", pa.string()),
        ("applies_to", pa.string()),
        ("amendment_id", pa.string()),
        ("amendment_outcome", pa.string()),
        ("checkpoint", pa.string()),
    ]
)

# A customer is walked when it has a grant, usage or a checkpoint; a plan spell or top-up
# setting alone books nothing.
WALKED_WHEN = frozenset({"grant", "segment", "checkpoint"})

OUTPUT_BATCH_ROWS = 8192


def walk_batches(
    batches: Iterable[pa.RecordBatch],
    *,
    as_of: dt.datetime,
    resume_from: dt.datetime | None = None,
) -> Iterator[pa.RecordBatch]:
    """Walk each customer of `batches` (rows of `INPUT_SCHEMA`, a customer's rows together)
    and yield its rows of `WALKED_SCHEMA`."""
    pending: list[dict] = []
    for customer_id, table in customer_tables(batches):
        pending += walk_one(customer_id, table, as_of, resume_from)
        if len(pending) >= OUTPUT_BATCH_ROWS:
            yield pa.RecordBatch.from_pylist(pending, schema=WALKED_SCHEMA)
            pending = []
    if pending:
        yield pa.RecordBatch.from_pylist(pending, schema=WALKED_SCHEMA)


def customer_tables(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, pa.Table]]:
    """Each customer's rows as one table, in stream order. A customer whose rows come back
    after another's is an error: the caller did not group the stream."""
    seen: set[str] = set()
    current: str | None = None
    pieces: list[pa.RecordBatch] = []
    for batch in batches:
        ids = batch.column("customer_id")
        if len(ids) == 0:
            continue
        changes = pc.indices_nonzero(pc.not_equal(ids[1:], ids[:-1])).to_pylist()
        bounds = [0, *(i + 1 for i in changes), len(ids)]
        for lo, hi in zip(bounds, bounds[1:], strict=False):
            customer_id = ids[lo].as_py()
            if customer_id != current:
                if current is not None:
                    yield current, pa.Table.from_batches(pieces)
                if customer_id in seen:
                    raise ValueError(
                        f"walk inputs are not grouped by customer: {customer_id} comes back"
                    )
                seen.add(customer_id)
                current, pieces = customer_id, []
            pieces.append(batch.slice(lo, hi - lo))
    if current is not None:
        yield current, pa.Table.from_batches(pieces)


def walk_one(
    customer_id: str,
    table: pa.Table,
    as_of: dt.datetime,
    resume_from: dt.datetime | None,
) -> list[dict]:
    """One customer's output rows; nothing when it has no grant, usage or checkpoint."""
    kinds = table.column("input_kind")
    if not WALKED_WHEN.intersection(pc.unique(kinds).to_pylist()):
        return []
    data = customer_input(customer_id, table)
    out = walk_customer(data, as_of, resume_from)
    rows = [
        {"customer_id": customer_id, "row_kind": "entry", "walked_at": e["entry_at"], **e}
        for e in out.entries
    ]
    rows += [
        {"customer_id": customer_id, "row_kind": "span", "walked_at": s["segment_first_at"], **s}
        for s in out.spans
    ]
    rows += [
        {
            "customer_id": customer_id,
            "row_kind": "grant",
            "walked_at": g.effective_at,
            "kind": g.kind,
            **{f: getattr(g, f) for f in GRANT_OUTPUT_FIELDS},
        }
        for g in out.created
    ]
    rows += [
        {
            "customer_id": customer_id,
            "row_kind": "amendment",
            "walked_at": a["effective_at"],
            "grant_id": a["grant_id"],
            "expires_at": a["expires_at"],
            "amendment_id": a["amendment_id"],
            "amendment_outcome": a["outcome"],
        }
        for a in out.amendments
    ]
    rows += [
        {
            "customer_id": customer_id,
            "row_kind": "checkpoint",
            "walked_at": dt.datetime.fromisoformat(c["at"]),
            "checkpoint": json.dumps(c, sort_keys=True),
        }
        for c in out.checkpoints
    ]
    return rows


GRANT_OUTPUT_FIELDS = (
    "grant_id", "credits", "effective_at", "expires_at", "priority", "cost_basis_per_credit",
    "currency", "paid_amount", "source_type", "source_id", "applies_to",
)  # fmt: skip


def _rows(table: pa.Table, kind: str, columns: list[str]) -> list[dict]:
    return table.filter(pc.equal(table.column("input_kind"), kind)).select(columns).to_pylist()


def _made(table: pa.Table, kind: str, cls: type, fields: dict[str, str], **fixed) -> list:
    """The rows of `kind` as `cls` objects: each field from its input column."""
    rows = table.filter(pc.equal(table.column("input_kind"), kind))
    columns = [rows.column(c).to_pylist() for c in fields.values()]
    names = list(fields)
    return [
        cls(**fixed, **dict(zip(names, values, strict=True)))
        for values in zip(*columns, strict=True)
    ]


# Each input kind's object fields and the input columns they come from.
GRANT_FIELDS = {f: f for f in GRANT_OUTPUT_FIELDS} | {"kind": "grant_kind"}
SEGMENT_FIELDS = {
    "start": "segment_start_at", "credits": "credits", "first_at": "first_booked_at",
    "last_at": "last_booked_at", "eligibility": "eligibility_class", "run_seq": "run_seq",
    "position_from": "position_from",
}  # fmt: skip
SPELL_FIELDS = {
    f: f for f in ("started_at", "ended_at", "overage", "rollover_max_credits",
                   "rollover_expires_after_periods")
}  # fmt: skip
AMENDMENT_FIELDS = {
    f: f for f in ("effective_at", "amendment_id", "grant_id", "new_expires_at")
} | {"action": "amendment_action"}  # fmt: skip
TOPUP_FIELDS = {
    f: f for f in ("enabled_from", "enabled_to", "max_per_period", "bundle_credits",
                   "expires_after_days", "priority", "cost_basis_per_credit", "currency",
                   "price_amount", "applies_to")
} | {"threshold": "threshold_credits"}  # fmt: skip


def customer_input(customer_id: str, table: pa.Table) -> CustomerInput:
    """One customer's walk inputs, from its tagged rows."""
    spells = _made(table, "spell", PlanSpell, SPELL_FIELDS)
    for spell in spells:  # a plan without rollover
        spell.rollover_max_credits = spell.rollover_max_credits or Decimal(0)
        spell.rollover_expires_after_periods = spell.rollover_expires_after_periods or 1
    topups = _made(table, "topup", TopupSetting, TOPUP_FIELDS)
    grants = _made(table, "grant", Grant, GRANT_FIELDS, customer_id=customer_id)
    for scoped in (*topups, *grants):  # every aggregator
        scoped.applies_to = scoped.applies_to or ""
    voids: dict[str, Void] = {}
    void_columns = [
        "event_id",
        "voided_at",
        "segment_start_at",
        "eligibility_class",
        "position_before",
        "position_after",
    ]
    for v in _rows(table, "void", void_columns):
        void = voids.setdefault(v["event_id"], Void(v["voided_at"], v["event_id"], []))
        void.spans.append(
            (
                v["segment_start_at"],
                v["eligibility_class"] or "",
                v["position_before"],
                v["position_after"],
            )
        )
    refunds = [
        Refund(r["refunded_at"], r["refund_id"], r["grant_id"])
        for r in _rows(table, "refund", ["refunded_at", "refund_id", "grant_id"])
    ]
    checkpoints = _rows(table, "checkpoint", ["checkpoint"])
    prior_spans: dict[tuple[dt.datetime, str], list[tuple]] = {}
    prior_columns = [
        "segment_start_at", "eligibility_class", "position_from", "position_to", "grant_id",
        "entry_type",
    ]  # fmt: skip
    for s in _rows(table, "prior_span", prior_columns):
        prior_spans.setdefault((s["segment_start_at"], s["eligibility_class"] or ""), []).append(
            (s["position_from"], s["position_to"], s["grant_id"], s["entry_type"])
        )
    return CustomerInput(
        customer_id=customer_id,
        grants=grants,
        segments=_segments(table),
        spells=spells,
        topups=topups,
        voids=[voids[event_id] for event_id in sorted(voids)],
        refunds=refunds,
        amendments=_made(table, "amendment", Amendment, AMENDMENT_FIELDS),
        positions=_positions(table) if topups else None,
        checkpoint=json.loads(checkpoints[0]["checkpoint"]) if checkpoints else None,
        prior_spans=prior_spans,
    )


def _segments(table: pa.Table) -> list[Segment]:
    """The segment rows (runs), each in its class ("" when the row names none: the one class
    of a customer without scoped grants), from position 0 unless it says otherwise."""
    segments = _made(table, "segment", Segment, SEGMENT_FIELDS)
    for segment in segments:
        segment.eligibility = segment.eligibility or ""
        segment.run_seq = segment.run_seq or 0
        segment.position_from = segment.position_from or Decimal(0)
    return segments


def _positions(table: pa.Table):
    """Debit positions per segment and class, for a customer with an auto top-up (rows
    arrive sorted by segment, class, position and instant)."""
    rows = table.filter(pc.equal(table.column("input_kind"), "position"))
    starts = rows.column("segment_start_at").to_pylist()
    classes = [c or "" for c in rows.column("eligibility_class").to_pylist()]
    after = rows.column("position_after").to_pylist()
    booked = rows.column("booked_at").to_pylist()
    index: dict[tuple[dt.datetime, str], tuple[int, int]] = {}
    for i, key in enumerate(zip(starts, classes, strict=True)):
        first, _ = index.get(key, (i, i))
        index[key] = (first, i + 1)

    def positions(segment_start: dt.datetime, eligibility: str) -> Positions:
        first, last = index[(segment_start, eligibility)]
        return Positions(after=after[first:last], booked_at=booked[first:last])

    return positions
