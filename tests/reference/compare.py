"""Warehouse vs reference, per customer: the comparison every ledger test shares.

`warehouse_figures` reads the two marts the reference is held to; `customer_diff` lists,
for one customer, every difference between them and a `reference_ledger` result:
- `marts.fct_grants`: the same grant_ids, and per grant the same kind, credits,
  effective_at, expires_at, priority, cost_basis_per_credit, credits_consumed,
  credits_expired, credits_remaining, status (and credits_refunded, credits_rolled_over,
  applies_to, credits_voided when the mart has them);
- `marts.fct_credit_ledger`: the same Σ credits per entry_type;
all compared as `Decimal`s, with no tolerance.

Two choices of this comparison: totals that sum to zero count as absent on both sides (an
entry of 0 credits moves nothing), and a `fct_grants` row with negative credits of kind
`adjustment` (a negative adjustment listed as a grant) is not compared, since
docs/ledger.md makes negative adjustments entries, not grants.

Unlike `ledger.py`, this module reads a DuckDB warehouse (through `helpers.query`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from helpers import query

from .ledger import Result

GRANT_FIELDS = (
    "kind",
    "credits",
    "effective_at",
    "expires_at",
    "priority",
    "cost_basis_per_credit",
    "credits_consumed",
    "credits_expired",
    "credits_remaining",
    "status",
)
OPTIONAL_GRANT_FIELDS = ("credits_refunded", "credits_rolled_over", "applies_to", "credits_voided")


def warehouse_figures(warehouse: Path) -> tuple[dict, dict, tuple[str, ...]]:
    """(grants, totals, fields): `grants[customer_id][grant_id]` = {field: value} from
    `marts.fct_grants`, `totals[customer_id][entry_type]` = Σ credits from
    `marts.fct_credit_ledger`, and the grant fields compared."""
    columns = {
        row[0]
        for row in query(
            warehouse,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_grants'",
        )
    }
    fields = GRANT_FIELDS + tuple(f for f in OPTIONAL_GRANT_FIELDS if f in columns)
    grants: dict[str, dict[str, dict]] = {}
    for row in query(
        warehouse,
        f"select grant_id, customer_id, {', '.join(fields)} from marts.fct_grants",  # noqa: S608
    ):
        grant_id, customer_id, *values = row
        grants.setdefault(customer_id, {})[grant_id] = dict(zip(fields, values, strict=True))
    totals: dict[str, dict[str, Decimal]] = {}
    for customer_id, entry_type, credits in query(
        warehouse,
        "select customer_id, entry_type, sum(credits) from marts.fct_credit_ledger "
        "group by customer_id, entry_type",
    ):
        totals.setdefault(customer_id, {})[entry_type] = credits
    return grants, totals, fields


def nonzero(totals: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in totals.items() if v is not None and Decimal(v) != 0}


def customer_diff(
    customer_id: str,
    expected: Result,
    actual_grants: dict[str, dict],
    actual_totals: dict[str, Decimal],
    fields: tuple[str, ...],
) -> list[str]:
    """One line per difference for `customer_id`; empty when the warehouse agrees."""
    lines = []
    want_totals = nonzero(expected.customer_totals(customer_id))
    have_totals = nonzero(actual_totals)
    for entry_type in sorted(set(want_totals) | set(have_totals)):
        want, have = want_totals.get(entry_type), have_totals.get(entry_type)
        if want != have:
            lines.append(f"    total {entry_type}: reference {want} warehouse {have}")

    want_grants = expected.customer_grants(customer_id)
    have_grants = {
        g: row
        for g, row in actual_grants.items()
        if not (row["kind"] == "adjustment" and row["credits"] < 0)
    }
    for grant_id in sorted(set(want_grants) | set(have_grants)):
        want, have = want_grants.get(grant_id), have_grants.get(grant_id)
        if want is None:
            lines.append(f"    grant {grant_id}: only in the warehouse {have}")
            continue
        if have is None:
            shown = {f: want[f] for f in fields}
            lines.append(f"    grant {grant_id}: missing from the warehouse; reference {shown}")
            continue
        for f in fields:
            if want[f] != have[f]:
                lines.append(f"    grant {grant_id} {f}: reference {want[f]} warehouse {have[f]}")
    return lines
