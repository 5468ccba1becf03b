"""Grant amendments at intake (contract §8.3, docs/ledger.md "Grant amendments"): each row's
verdict, judged once, and kept with who made it and why (`marts.fct_grant_amendments`),
through one real dbt build.

The worked examples with their money (a void of a paid bundle and its credit note, a void
before the grant takes effect, expiries brought forward and pushed back) are in
tests/ledger/test_reference_examples.py and, in the warehouse, test_examples_in_warehouse.py.
This build adds what those cannot show: a closed period, and every reason a row is refused.

One customer, two grants of the feed: g-feb (200 from 02-01, never expires) and g-mar (100
from 03-01). February is closed on 03-01.
- Loaded on 02-20, while February was open: am-early moves g-feb's expiry to 03-20 from
  02-10. It stays applied after the close: closed is judged when a row is loaded.
- Loaded on 03-02, after the close: am-closed (a void of g-feb dated 02-25, in February)
  is refused as closed_period; am-open voids g-mar on 03-10; am-future voids g-feb on
  04-15, after the clock (04-01): pending; and one row per other reason.
Ledger, worked by hand: g-feb +200 (02-01), g-mar +100 (03-01); 50 used on 03-05 from g-feb
(its expiry, 03-20, is earlier than g-mar's never); g-mar voided on 03-10: grant_void −100;
g-feb's other 150 expire on 03-20. Balance 0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import build_warehouse, query, write_landing
from reference.scenario import TEST_CATALOG_PATH

D = Decimal
AS_OF = "2026-04-01T00:00:00"
CID = "cus_amend"


def amendment(amendment_id, grant_id, action, effective_at, new_expires_at=None):
    return {
        "amendment_id": amendment_id, "grant_id": grant_id, "action": action,
        "effective_at": effective_at, "new_expires_at": new_expires_at,
        "reason": f"why {amendment_id}", "created_by": "finance@example.test",
    }  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grant_amendments")
    first = write_landing(
        root / "first",
        customers=[
            {"customer_id": CID, "name": "Amend Ltd", "currency": "USD", "country": "GB",
             "tax_rate": "0.2", "created_at": "2026-01-01T00:00:00Z"},
        ],
        grants=[
            {"grant_id": "g-feb", "customer_id": CID, "kind": "promotional", "credits": "200",
             "effective_at": "2026-02-01T00:00:00Z"},
            {"grant_id": "g-mar", "customer_id": CID, "kind": "compensation", "credits": "100",
             "effective_at": "2026-03-01T00:00:00Z"},
        ],
        grant_amendments=[
            amendment("am-early", "g-feb", "set_expiry", "2026-02-10T00:00:00Z",
                      "2026-03-20T00:00:00Z"),
        ],
    )  # fmt: skip
    second = write_landing(
        root / "second",
        grant_amendments=[
            amendment("am-closed", "g-feb", "void", "2026-02-25T00:00:00Z"),  # 2
            amendment("am-open", "g-mar", "void", "2026-03-10T00:00:00Z"),  # 3
            amendment("am-open", "g-feb", "void", "2026-03-11T00:00:00Z"),  # 4
            amendment("am-future", "g-feb", "void", "2026-04-15T00:00:00Z"),  # 5
            amendment("am-missing", "g-feb", "set_expiry", "2026-03-12T00:00:00Z"),  # 6
            amendment("am-badts", "g-feb", "void", "next tuesday"),  # 7
            amendment("am-action", "g-feb", "extend", "2026-03-12T00:00:00Z"),  # 8
            amendment("am-before", "g-mar", "set_expiry", "2026-03-12T00:00:00Z",
                      "2026-02-15T00:00:00Z"),  # 9
            amendment("am-nobody", "g-none", "void", "2026-03-12T00:00:00Z"),  # 10
        ],
        events_jsonl=[
            {"event_id": "e1", "customer_id": CID, "event_type": "llm_token_usage",
             "timestamp": "2026-03-05T00:00:00Z",
             "properties": {"model": "nova-fast", "tokens": 50_000}},
        ],
    )  # fmt: skip
    return build_warehouse(
        root / "build",
        first,
        TEST_CATALOG_PATH,
        AS_OF,
        ingested_at="2026-02-20T00:00:00",
        later_loads=[(second, "2026-03-02T00:00:00")],
        closes=[("2026-02", "2026-03-01T00:00:00")],
    )


def test_every_amendment_keeps_its_verdict_author_and_reason(warehouse):
    rows = query(
        warehouse,
        "select source_file, line_number, amendment_id, verdict, reason, created_by "
        "from marts.fct_grant_amendments order by source_file, line_number, ingested_at",
    )
    assert [r[:4] for r in rows] == [
        ("grant_amendments.csv", 2, "am-early", "applied"),
        ("grant_amendments.csv", 2, "am-closed", "closed_period"),
        ("grant_amendments.csv", 3, "am-open", "applied"),
        ("grant_amendments.csv", 4, "am-open", "duplicate"),
        ("grant_amendments.csv", 5, "am-future", "pending"),
        ("grant_amendments.csv", 6, "am-missing", "missing_field"),
        ("grant_amendments.csv", 7, "am-badts", "bad_timestamp"),
        ("grant_amendments.csv", 8, "am-action", "invalid_value"),
        ("grant_amendments.csv", 9, "am-before", "invalid_value"),
        ("grant_amendments.csv", 10, "am-nobody", "unknown_grant"),
    ]
    assert all(r[4] == f"why {r[2]}" and r[5] == "finance@example.test" for r in rows)


def test_refused_amendments_are_quarantined_with_their_reason(warehouse):
    rows = query(
        warehouse,
        "select line_number, reason from marts.fct_event_quarantine "
        "where feed = 'grant_amendments' order by ingested_at, line_number",
    )
    assert rows == [
        (2, "closed_period"),
        (4, "duplicate"),
        (6, "missing_field"),
        (7, "bad_timestamp"),
        (8, "invalid_value"),
        (9, "invalid_value"),
        (10, "unknown_grant"),
    ]


def test_the_ledger_applies_only_the_accepted_amendments_by_the_clock(warehouse):
    # The hand-worked ledger of the module docstring: am-closed and am-future change nothing.
    rows = query(
        warehouse,
        "select entry_at, entry_type, grant_id, credits from marts.fct_credit_ledger "
        "where customer_id = ? order by entry_seq",
        [CID],
    )
    at = dt.datetime.fromisoformat
    assert rows == [
        (at("2026-02-01"), "grant", "g-feb", D(200)),
        (at("2026-03-01"), "grant", "g-mar", D(100)),
        (at("2026-03-05"), "usage", "g-feb", D(-50)),
        (at("2026-03-10"), "grant_void", "g-mar", D(-100)),
        (at("2026-03-20"), "expiry", "g-feb", D(-150)),
    ]
    grants = query(
        warehouse,
        "select grant_id, expires_at, credits_consumed, credits_expired, credits_voided, "
        "credits_remaining, voided_at from marts.fct_grants where customer_id = ? "
        "order by grant_id",
        [CID],
    )
    assert grants == [
        ("g-feb", at("2026-03-20"), D(50), D(150), D(0), D(0), None),
        ("g-mar", None, D(0), D(0), D(100), D(0), at("2026-03-10")),
    ]
