"""The credit ledger's sequential step: grants, usage draws, expiries and shortfalls.

Why Python: drawing usage from grants in consumption order is a walk whose every step
depends on what earlier steps left in each grant; SQL would need a recursive CTE per
customer. The walk runs over `int_usage_segmented` (usage summed between the instants
where the ledger can change), so it visits segments, not events.

This first version (issue 2) covers: validity windows, the consumption order of SPEC §4,
expiry at the exact instant, and shortfall as overage or unfunded. Repayment, period-end
settlement, auto top-ups, rollovers, voids and refunds arrive with the ledger issue.
"""

from __future__ import annotations

import datetime as dt
import heapq
from decimal import Decimal

import pyarrow as pa

CREDITS = pa.decimal128(38, 12)
ZERO = Decimal(0)
FAR_FUTURE = dt.datetime.max

# Same-instant order of SPEC §4: period-end entries, expiries, grants, then usage.
RANK_EXPIRY, RANK_GRANT, RANK_USAGE = 1, 2, 3


def consumption_key(grant: dict) -> tuple:
    """The total consumption order of SPEC §4, written once: priority, expiry (never last),
    cost basis, effective_at, grant_id."""
    expires = grant["expires_at"] or FAR_FUTURE
    return (
        grant["priority"],
        expires,
        grant["cost_basis_per_credit"],
        grant["effective_at"],
        grant["grant_id"],
    )


def period_of(instant: dt.datetime) -> str:
    return f"{instant.year:04d}-{instant.month:02d}"


def walk_customer(customer_id: str, grants: list[dict], segments: list[dict], as_of: dt.datetime) -> list[dict]:
    """Ledger entries of one customer, in entry order."""
    timeline = []
    for g in grants:
        timeline.append((g["effective_at"], RANK_GRANT, g["grant_id"], "grant", g))
        if g["expires_at"] is not None and g["expires_at"] <= as_of and g["credits"] > 0:
            timeline.append((g["expires_at"], RANK_EXPIRY, g["grant_id"], "expiry", g))
    for i, s in enumerate(segments):
        timeline.append((s["first_event_at"], RANK_USAGE, f"{s['aggregator_id']}:{i:09d}", "usage", s))
    timeline.sort(key=lambda item: item[:3])

    remaining: dict[str, Decimal] = {}
    active: list[tuple] = []  # heap of (consumption_key, grant_id)
    entries: list[dict] = []

    def book(at, entry_type, credits, grant_id=None, aggregator_id=None, usage_date=None):
        entries.append(
            {
                "customer_id": customer_id,
                "entry_seq": len(entries) + 1,
                "entry_at": at,
                "period": period_of(at),
                "entry_type": entry_type,
                "grant_id": grant_id,
                "aggregator_id": aggregator_id,
                "usage_date": usage_date,
                "credits": credits,
            }
        )

    def draw(at, amount, aggregator_id, usage_date, entry_type, shortfall_type):
        while amount > 0 and active:
            key, grant_id = active[0]
            grant = grants_by_id[grant_id]
            left = remaining[grant_id]
            if left <= 0 or (grant["expires_at"] is not None and grant["expires_at"] <= at):
                heapq.heappop(active)
                continue
            take = min(left, amount)
            remaining[grant_id] = left - take
            amount -= take
            book(at, entry_type, -take, grant_id, aggregator_id, usage_date)
        if amount > 0:
            book(at, shortfall_type, -amount, None, aggregator_id, usage_date)

    grants_by_id = {g["grant_id"]: g for g in grants}
    for at, _rank, _tie, kind, item in timeline:
        if kind == "grant":
            if item["credits"] > 0:
                book(at, "grant", item["credits"], item["grant_id"])
                remaining[item["grant_id"]] = item["credits"]
                heapq.heappush(active, (consumption_key(item), item["grant_id"]))
            else:
                # A negative adjustment removes credits the way usage does.
                draw(at, -item["credits"], None, at.date(), "adjustment", "unfunded")
        elif kind == "expiry":
            left = remaining.get(item["grant_id"], ZERO)
            if left > 0:
                remaining[item["grant_id"]] = ZERO
                book(at, "expiry", -left, item["grant_id"])
        else:
            draw(at, item["credits"], item["aggregator_id"], item["usage_date"], "usage", item["shortfall_entry_type"])
    return entries


def model(dbt, session):
    dbt.config(materialized="table")
    # Python models cannot call var(); the models yml passes the clock in as config.
    as_of = dt.datetime.fromisoformat(dbt.config.get("as_of"))
    grants = dbt.ref("int_grants_unioned").to_arrow_table().to_pylist()
    segments = dbt.ref("int_usage_segmented").to_arrow_table().to_pylist()

    by_customer: dict[str, tuple[list, list]] = {}
    for g in grants:
        by_customer.setdefault(g["customer_id"], ([], []))[0].append(g)
    for s in segments:
        by_customer.setdefault(s["customer_id"], ([], []))[1].append(s)

    rows: list[dict] = []
    for customer_id in sorted(by_customer):
        customer_grants, customer_segments = by_customer[customer_id]
        rows.extend(walk_customer(customer_id, customer_grants, customer_segments, as_of))

    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("entry_seq", pa.int64()),
            ("entry_at", pa.timestamp("us")),
            ("period", pa.string()),
            ("entry_type", pa.string()),
            ("grant_id", pa.string()),
            ("aggregator_id", pa.string()),
            ("usage_date", pa.date32()),
            ("credits", CREDITS),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)
