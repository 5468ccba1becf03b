"""The ledger walk: grants, expiries, repayments, top-ups, rollovers, voids, refunds and
period ends, visited segment by segment (docs/ledger.md).

Why Python: the walk is sequential — each step depends on what earlier steps left in each
grant — and SQL could only express it as a recursive CTE per customer. The logic lives in
`dagster_project/ledger.py` (tested on its own); this model only feeds it and collects its
three outputs in one table, told apart by `row_kind`:
- `entry`: ledger entries other than usage draws;
- `span`: which grant (or shortfall) covers which span of a segment's running total;
- `grant`: grants the walk creates (auto top-ups, rollovers).
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import polars as pl
import pyarrow as pa

from dagster_project.ledger import (
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


def _rows(relation):
    return relation.to_arrow_table().to_pylist()


def _positions_index(dbt, topup_customers):
    """Debit positions of the customers who have an auto top-up, sliced per segment."""
    if not topup_customers:
        return {}
    with_topups = dbt.ref("int_auto_topups_priced").select("customer_id").distinct()
    table = (
        dbt.ref("int_usage_positioned")
        .join(with_topups, "customer_id")
        .select("customer_id, segment_start_at, position_after, booked_at")
        .order("customer_id, segment_start_at, position_after, booked_at")
        .to_arrow_table()
    )
    frame = pl.from_arrow(table).with_row_index("row")
    bounds = frame.group_by(["customer_id", "segment_start_at"], maintain_order=True).agg(
        pl.col("row").min().alias("first"), pl.len().alias("n")
    )
    after = table.column("position_after").to_pylist()
    booked = table.column("booked_at").to_pylist()
    index = {}
    for customer_id, start, first, n in bounds.iter_rows():
        index[(customer_id, start)] = (first, first + n)

    def lookup(customer_id):
        def positions(segment_start):
            first, last = index[(customer_id, segment_start)]
            return Positions(after=after[first:last], booked_at=booked[first:last])

        return positions

    return lookup


def model(dbt, session):
    dbt.config(materialized="table")
    # Python models cannot call var(); the models yml passes the clock in as config.
    as_of = dt.datetime.fromisoformat(dbt.config.get("as_of"))

    grants = defaultdict(list)
    for g in _rows(dbt.ref("int_grants_unioned")):
        grants[g["customer_id"]].append(
            Grant(
                grant_id=g["grant_id"],
                customer_id=g["customer_id"],
                kind=g["kind"],
                credits=g["credits"],
                effective_at=g["effective_at"],
                expires_at=g["expires_at"],
                priority=g["priority"],
                cost_basis_per_credit=g["cost_basis_per_credit"],
                currency=g["currency"],
                paid_amount=g["paid_amount"],
                source_type=g["source_type"],
                source_id=g["source_id"],
            )
        )
    segments = defaultdict(list)
    for s in _rows(dbt.ref("int_usage_segments").order("customer_id, segment_start_at")):
        segments[s["customer_id"]].append(
            Segment(s["segment_start_at"], s["credits"], s["first_booked_at"], s["last_booked_at"])
        )
    spells = defaultdict(list)
    for s in _rows(dbt.ref("int_plan_spells")):
        spells[s["customer_id"]].append(
            PlanSpell(
                s["started_at"],
                s["ended_at"],
                s["overage"],
                s["rollover_max_credits"] or Decimal(0),
                s["rollover_expires_after_periods"] or 1,
            )
        )
    topups = defaultdict(list)
    for t in _rows(dbt.ref("int_auto_topups_priced")):
        topups[t["customer_id"]].append(
            TopupSetting(
                enabled_from=t["enabled_from"],
                enabled_to=t["enabled_to"],
                threshold=t["threshold_credits"],
                max_per_period=t["max_per_period"],
                bundle_credits=t["bundle_credits"],
                expires_after_days=t["expires_after_days"],
                priority=t["priority"],
                cost_basis_per_credit=t["cost_basis_per_credit"],
                currency=t["currency"],
                price_amount=t["price_amount"],
            )
        )
    voids = {}
    for v in _rows(dbt.ref("int_voids_positioned")):
        key = (v["customer_id"], v["event_id"])
        voids.setdefault(key, Void(v["voided_at"], v["event_id"], []))
        voids[key].spans.append((v["segment_start_at"], v["position_before"], v["position_after"]))
    voids_by_customer = defaultdict(list)
    for (customer_id, _), v in sorted(voids.items()):
        voids_by_customer[customer_id].append(v)
    refunds = defaultdict(list)
    for r in _rows(dbt.ref("int_refunds_validated").filter("quarantine_reason is null")):
        refunds[r["customer_id"]].append(Refund(r["refunded_at"], r["refund_id"], r["grant_id"]))
    with_topups = set(topups)
    positions = _positions_index(dbt, with_topups)

    entries, spans, created = [], [], []
    for customer_id in sorted(set(grants) | set(segments)):
        out = walk_customer(
            CustomerInput(
                customer_id=customer_id,
                grants=grants[customer_id],
                segments=segments[customer_id],
                spells=spells[customer_id],
                topups=topups[customer_id],
                voids=voids_by_customer[customer_id],
                refunds=refunds[customer_id],
                positions=positions(customer_id) if customer_id in with_topups else None,
            ),
            as_of,
        )
        entries += [{"customer_id": customer_id, "row_kind": "entry", **e} for e in out.entries]
        spans += [{"customer_id": customer_id, "row_kind": "span", **s} for s in out.spans]
        created += [
            {
                "customer_id": customer_id,
                "row_kind": "grant",
                "grant_id": g.grant_id,
                "kind": g.kind,
                "credits": g.credits,
                "effective_at": g.effective_at,
                "expires_at": g.expires_at,
                "priority": g.priority,
                "cost_basis_per_credit": g.cost_basis_per_credit,
                "currency": g.currency,
                "paid_amount": g.paid_amount,
                "source_type": g.source_type,
                "source_id": g.source_id,
            }
            for g in out.created
        ]

    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("row_kind", pa.string()),
            ("entry_at", pa.timestamp("us")),
            ("entry_rank", pa.int32()),
            ("entry_seq", pa.int64()),
            ("period", pa.string()),
            ("entry_type", pa.string()),
            ("grant_id", pa.string()),
            ("credits", CREDITS),
            ("segment_start_at", pa.timestamp("us")),
            ("position_from", CREDITS),
            ("position_to", CREDITS),
            ("span_seq", pa.int64()),
            ("kind", pa.string()),
            ("effective_at", pa.timestamp("us")),
            ("expires_at", pa.timestamp("us")),
            ("priority", pa.int32()),
            ("cost_basis_per_credit", CREDITS),
            ("currency", pa.string()),
            ("paid_amount", pa.int64()),
            ("source_type", pa.string()),
            ("source_id", pa.string()),
        ]
    )
    return pa.Table.from_pylist(entries + spans + created, schema=schema)
