"""The walk over Arrow record batches (credits_warehouse/ledger_batches.py): hand-made
inputs, cut into batches every possible way, give what walking each customer alone gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from credits_warehouse.ledger import CheckpointMismatch, walk_customer
from credits_warehouse.ledger_batches import (
    INPUT_SCHEMA,
    WALKED_SCHEMA,
    customer_input,
    walk_batches,
)

D = Decimal
AS_OF = dt.datetime(2026, 2, 1)


def at(day: int, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, day)


def grant(customer_id, grant_id, credits, day, expires=None, priority=1):
    return {
        "customer_id": customer_id, "input_kind": "grant", "grant_id": grant_id,
        "grant_kind": "promotion", "credits": D(credits), "effective_at": at(day),
        "expires_at": expires, "priority": priority, "cost_basis_per_credit": D(0),
        "source_type": "promotion", "source_id": grant_id,
    }  # fmt: skip


def segment(customer_id, day, credits):
    start = at(1) + dt.timedelta(days=day - 1)
    return {
        "customer_id": customer_id, "input_kind": "segment", "segment_start_at": start,
        "credits": D(credits), "first_booked_at": start,
        "last_booked_at": start + dt.timedelta(hours=1),
    }  # fmt: skip


# Customer a: 100 promo credits on Jan 1, 30 credits used on Jan 2 and 90 on Jan 3, so
# the promo covers [0, 100) of the running total and 20 is a shortfall (no plan:
# unfunded). Customer b: 50 credits expiring on Jan 10, 10 used on Jan 5: 40 expire.
# Customer c has only a plan spell and is not walked.
ROWS = [
    grant("a", "promo-a", "100", 1),
    segment("a", 2, "30"),
    segment("a", 3, "90"),
    grant("b", "promo-b", "50", 1, expires=at(10)),
    segment("b", 5, "10"),
    {
        "customer_id": "c",
        "input_kind": "spell",
        "started_at": at(1),
        "overage": "allowed",
        "rollover_max_credits": D(0),
        "rollover_expires_after_periods": 1,
    },  # fmt: skip
]


def table(rows=ROWS) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=INPUT_SCHEMA)


def walked(batches, as_of=AS_OF, **kwargs) -> list[dict]:
    out = pa.Table.from_batches(list(walk_batches(batches, as_of=as_of, **kwargs)), WALKED_SCHEMA)
    return out.to_pylist()


def test_spans_and_entries_worked_by_hand():
    rows = walked(table().to_batches())
    spans = [
        (r["customer_id"], r["segment_start_at"].day, r["position_from"], r["position_to"],
         r["grant_id"], r["entry_type"])
        for r in rows if r["row_kind"] == "span"
    ]  # fmt: skip
    assert spans == [
        ("a", 2, D(0), D(30), "promo-a", "usage"),
        ("a", 3, D(0), D(70), "promo-a", "usage"),
        ("a", 3, D(70), D(90), None, "unfunded"),
        ("b", 5, D(0), D(10), "promo-b", "usage"),
    ]
    expiries = [(r["customer_id"], r["credits"]) for r in rows if r["entry_type"] == "expiry"]
    assert expiries == [("b", D(-40))]
    assert {r["customer_id"] for r in rows} == {"a", "b"}


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6])
def test_any_cut_into_batches_gives_the_same_rows(size):
    assert walked(table().to_batches(max_chunksize=size)) == walked(table().to_batches())


def test_the_same_rows_as_walking_each_customer_alone():
    rows = walked(table().to_batches())
    for customer_id in ("a", "b"):
        mine = table().filter(pa.compute.equal(table().column("customer_id"), customer_id))
        out = walk_customer(customer_input(customer_id, mine), AS_OF)
        ours = [r for r in rows if r["customer_id"] == customer_id]
        entry = ("entry_at", "entry_type", "credits", "grant_id", "entry_seq")
        assert [tuple(r[k] for k in entry) for r in ours if r["row_kind"] == "entry"] == [
            tuple(e[k] for k in entry) for e in out.entries
        ]
        span = ("segment_start_at", "position_from", "position_to", "grant_id", "span_seq")
        assert [tuple(r[k] for k in span) for r in ours if r["row_kind"] == "span"] == [
            tuple(s[k] for k in span) for s in out.spans
        ]


def test_a_customer_whose_rows_come_back_is_refused():
    shuffled = table([ROWS[0], ROWS[3], ROWS[1]])
    with pytest.raises(ValueError, match="not grouped by customer: a comes back"):
        walked(shuffled.to_batches())


def test_resuming_without_a_checkpoint_refuses_history_before_the_resume_point():
    with pytest.raises(
        CheckpointMismatch, match="customer a: a grant, void, refund or grant amendment dated"
    ):
        walked(table(ROWS[:3]).to_batches(), resume_from=at(15))


def test_a_checkpoint_at_each_period_end_and_resuming_from_any_gives_the_same_rows():
    """Walked to April: a checkpoint at Feb 1, Mar 1 and Apr 1 for each customer with
    anything before. Resumed from any of them, the walk gives the whole walk's rows from
    there on (usage in January, February and March; b's promo expires on Jan 10)."""
    april = dt.datetime(2026, 4, 1)
    rows = ROWS + [segment("a", 40, "5"), segment("a", 70, "5"), segment("b", 45, "1")]
    whole = table(sorted(rows, key=lambda r: r["customer_id"]))
    full = walked(whole.to_batches(), as_of=april)
    at = dt.datetime.fromisoformat
    assert sorted(
        (r["customer_id"], r["walked_at"]) for r in full if r["row_kind"] == "checkpoint"
    ) == [(c, at(f"2026-{m:02}-01")) for c in "ab" for m in (2, 3, 4)]
    for resume in (at("2026-02-01"), at("2026-03-01")):
        kept = [
            {
                "customer_id": r["customer_id"],
                "input_kind": "checkpoint",
                "checkpoint": r["checkpoint"],
            }
            for r in full
            if r["row_kind"] == "checkpoint" and r["walked_at"] == resume
        ]
        later = [r for r in rows if r["input_kind"] != "segment" or r["segment_start_at"] >= resume]
        resumed = table(sorted(later + kept, key=lambda r: r["customer_id"]))
        got = walked(resumed.to_batches(), as_of=april, resume_from=resume)
        assert got == [
            r for r in full if r["walked_at"] >= resume and not (
                r["row_kind"] == "checkpoint" and r["walked_at"] == resume
            )
        ]  # fmt: skip
