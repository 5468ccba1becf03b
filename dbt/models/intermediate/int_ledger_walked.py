"""The ledger walk: grants, expiries, repayments, top-ups, rollovers, voids, refunds and
period ends, visited segment by segment (docs/ledger.md).

Why Python: the walk is sequential — each step depends on what earlier steps left in each
grant — and SQL could only express it as a recursive CTE per customer. The logic lives in
`dagster_project/ledger.py` (tested on its own); this model only feeds it and collects its
outputs in one table, told apart by `row_kind`:
- `entry`: ledger entries other than usage draws;
- `span`: which grant (or shortfall) covers which span of a segment's running total;
- `grant`: grants the walk creates (auto top-ups, rollovers);
- `checkpoint`: each customer's walk state at the first instant after the last closed
  period (`checkpoint`, JSON), from which the next build resumes (docs/incremental.md).
`walked_at` dates every row (a span by its segment's first debit), so a resuming build
replaces exactly the rows at or after the instant it resumes from.
"""

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import polars as pl
import pyarrow as pa

from dagster_project.ledger import (
    CheckpointMismatch,
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


def _positions_index(dbt, topup_customers, window):
    """Debit positions of the customers who have an auto top-up, sliced per segment."""
    if not topup_customers:
        return {}
    with_topups = dbt.ref("int_auto_topups_priced").select("customer_id").distinct()
    table = (
        dbt.ref("int_usage_positioned")
        .filter(window("booked_at"))
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


def _instant(text):
    return dt.datetime.fromisoformat(text) if text else None


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    # Python models cannot call var(); the models yml passes the vars in as config.
    as_of = dt.datetime.fromisoformat(dbt.config.get("as_of"))
    resume_from = _instant(dbt.config.get("resume_from")) if dbt.is_incremental else None
    checkpoint_at = _instant(dbt.config.get("checkpoint_at"))

    def window(column):
        return f"{column} >= '{resume_from.isoformat()}'" if resume_from else "true"

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
    segment_rows = dbt.ref("int_usage_segments").filter(window("first_booked_at"))
    for s in _rows(segment_rows.order("customer_id, segment_start_at")):
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
    positions = _positions_index(dbt, with_topups, window)
    checkpoints, prior_spans = {}, defaultdict(lambda: defaultdict(list))
    if dbt.is_incremental:
        _drop_resume_window(session, dbt.this, resume_from)
    if resume_from:
        at = f"'{resume_from.isoformat()}'"
        this = session.sql(f"select * from {dbt.this}")  # noqa: S608 - dbt's own relation name
        for c in _rows(this.filter(f"row_kind = 'checkpoint' and walked_at = {at}")):
            checkpoints[c["customer_id"]] = json.loads(c["checkpoint"])
        voided = {(cid, s[0]) for (cid, _), v in voids.items() for s in v.spans}
        earlier = this.filter(f"row_kind = 'span' and walked_at < {at}").order("span_seq")
        for s in _rows(earlier):
            if (s["customer_id"], s["segment_start_at"]) in voided:
                prior_spans[s["customer_id"]][s["segment_start_at"]].append(
                    (s["position_from"], s["position_to"], s["grant_id"], s["entry_type"])
                )

    entries, spans, created, kept = [], [], [], []
    for customer_id in sorted(set(grants) | set(segments) | set(checkpoints)):
        data = CustomerInput(
            customer_id=customer_id,
            grants=grants[customer_id],
            segments=segments[customer_id],
            spells=spells[customer_id],
            topups=topups[customer_id],
            voids=voids_by_customer[customer_id],
            refunds=refunds[customer_id],
            positions=positions(customer_id) if customer_id in with_topups else None,
            checkpoint=checkpoints.get(customer_id),
            prior_spans=prior_spans[customer_id],
        )
        if resume_from and data.checkpoint is None and _acts_before(data, resume_from):
            raise CheckpointMismatch(
                f"customer {customer_id}: a grant, void or refund dated before "
                f"{resume_from.isoformat()} (a closed period) arrived after the close; "
                "closed periods never change"
            )
        out = walk_customer(data, as_of, checkpoint_at)
        entries += [
            {"customer_id": customer_id, "row_kind": "entry", "walked_at": e["entry_at"], **e}
            for e in out.entries
        ]
        spans += [
            {
                "customer_id": customer_id,
                "row_kind": "span",
                "walked_at": s.pop("segment_first_at"),
                **s,
            }
            for s in out.spans
        ]
        # A build that checkpoints where it resumed keeps the checkpoint it resumed from.
        if out.checkpoint is not None and checkpoint_at != resume_from:
            kept.append(
                {
                    "customer_id": customer_id,
                    "row_kind": "checkpoint",
                    "walked_at": checkpoint_at,
                    "checkpoint": json.dumps(out.checkpoint, sort_keys=True),
                }
            )
        created += [
            {
                "customer_id": customer_id,
                "row_kind": "grant",
                "walked_at": g.effective_at,
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
            ("walked_at", pa.timestamp("us")),
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
            ("checkpoint", pa.string()),
        ]
    )
    return pa.Table.from_pylist(entries + spans + created + kept, schema=schema)


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


def _acts_before(data, at):
    """Whether a customer's grants, voids or refunds act before `at`."""
    return (
        any(g.effective_at < at for g in data.grants)
        or any(v.voided_at < at for v in data.voids)
        or any(r.refunded_at < at for r in data.refunds)
    )
