"""Event and reference-row quarantine (contract §2.1, §2.2) through one real dbt build.

The landing holds exactly one event row per quarantine reason, a few good events (one by
external_id, one with a +02:00 offset, one naive, two not billable), and three broken
reference rows. Every assertion below reads the same warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import (
    FEED_COLUMNS,
    build_warehouse,
    jsonl_text,
    query,
    scalar,
    write_csv,
    write_landing,
)

from credits_warehouse.ingest import OPTIONAL_FEED_COLUMNS

AS_OF = "2026-04-01T00:00:00"


def usage(event_id, customer, model, tokens, timestamp, **extra):
    return {
        "event_id": event_id,
        "customer_id": customer,
        "event_type": "llm_token_usage",
        "timestamp": timestamp,
        "properties": {"model": model, "tokens": tokens},
        **extra,
    }


MALFORMED_LINE = '{"event_id": "e-malformed", "customer_id": "cus_1", "event_type": '

# events/a.jsonl, one entry per physical line (line numbers are 1-based).
EVENTS_A: list[dict | str] = [
    usage("e-good", "cus_1", "nova-fast", 1000, "2026-03-02T10:00:00Z"),  # 1
    MALFORMED_LINE,  # 2
    {  # 3: no event_type
        "event_id": "e-missing",
        "customer_id": "cus_1",
        "timestamp": "2026-03-02T10:00:00Z",
        "properties": {"model": "nova-fast", "tokens": 1},
    },
    usage("e-unknown", "cus_nobody", "nova-fast", 1000, "2026-03-02T10:00:00Z"),  # 4
    usage("e-badts", "cus_1", "nova-fast", 1000, "yesterday at noon"),  # 5
    usage("e-negative", "cus_1", "nova-fast", -5, "2026-03-02T10:00:00Z"),  # 6
    usage("e-nonnumeric", "cus_1", "nova-fast", "lots", "2026-03-02T10:00:00Z"),  # 7
    # 8: one second more than 1 day after the clock (= ingested_at here).
    usage("e-future", "cus_1", "nova-fast", 1000, "2026-04-02T00:00:01Z"),
    # 9: exactly 1 day after the clock is not "more than 1 day": accepted.
    usage("e-edge", "cus_1", "nova-fast", 1000, "2026-04-02T00:00:00Z"),
    usage("e-external", "ext-1", "nova-pro", 1500, "2026-03-03T10:00:00Z"),  # 10
    usage("e-offset", "cus_2", "nova-ultra", 2000, "2026-03-05T12:00:00+02:00"),  # 11
    usage("e-naive", "cus_2", "nova-fast", 500, "2026-03-06T08:30:00"),  # 12
    {  # 13: an event type no aggregator listens to
        "event_id": "e-pageview",
        "customer_id": "cus_1",
        "event_type": "page_view",
        "timestamp": "2026-03-07T00:00:00Z",
        "properties": {"page": "/home"},
    },
    # 14: the right event type, but a model no aggregator filters on (and no tokens)
    {
        "event_id": "e-nomodel",
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-07T01:00:00Z",
        "properties": {"model": "nova-mini"},
    },
    usage("e-conflict", "cus_1", "nova-fast", 100, "2026-03-08T00:00:00Z"),  # 15: first seen
    usage("e-conflict", "cus_1", "nova-fast", 200, "2026-03-08T00:00:00Z"),  # 16: other tokens
]
# events/b.jsonl sorts after a.jsonl, so its copy of e-good is the one seen second.
EVENTS_B: list[dict | str] = [EVENTS_A[0]]

EXPECTED_EVENT_QUARANTINE = {
    ("events/a.jsonl", 2, "malformed"),
    ("events/a.jsonl", 3, "missing_field"),
    ("events/a.jsonl", 4, "unknown_customer"),
    ("events/a.jsonl", 5, "bad_timestamp"),
    ("events/a.jsonl", 6, "negative_quantity"),
    ("events/a.jsonl", 7, "non_numeric_quantity"),
    ("events/a.jsonl", 8, "future_timestamp"),
    ("events/a.jsonl", 16, "conflicting_duplicate"),
    ("events/b.jsonl", 1, "duplicate"),
}
CONTRACT_REASONS = {
    "malformed",
    "missing_field",
    "unknown_customer",
    "bad_timestamp",
    "negative_quantity",
    "non_numeric_quantity",
    "future_timestamp",
    "duplicate",
    "conflicting_duplicate",
}

CUSTOMERS = [
    {
        "customer_id": "cus_1",
        "external_id": "ext-1",
        "name": "Ada Ltd",
        "email": "ada@example.com",
        "country": "GB",
        "currency": "USD",
        "tax_rate": "0.2",
        "created_at": "2026-01-01T00:00:00Z",
    },
    {
        "customer_id": "cus_2",
        "name": "Bob GmbH",
        "country": "DE",
        "currency": "EUR",
        "tax_rate": "0.19",
        "created_at": "2026-01-01T00:00:00Z",
    },
    {  # no currency of its own: billed in the catalog's (USD)
        "customer_id": "cus_3",
        "name": "Cy SA",
        "country": "FR",
        "tax_rate": "0.2",
        "created_at": "2026-01-01T00:00:00Z",
    },
]
GRANTS = [
    {
        "grant_id": "g-start",
        "customer_id": "cus_1",
        "kind": "starting_balance",
        "credits": "1000",
        "effective_at": "2026-03-01T00:00:00Z",
    },
    {  # line 3: unknown customer
        "grant_id": "g-ghost",
        "customer_id": "cus_ghost",
        "kind": "promotional",
        "credits": "50",
        "effective_at": "2026-03-01T00:00:00Z",
    },
    {  # line 4: scoped to an aggregator and a credit product, written in any order
        "grant_id": "g-scoped",
        "customer_id": "cus_1",
        "kind": "promotional",
        "credits": "50",
        "effective_at": "2026-03-01T00:00:00Z",
        "applies_to": " nova_fast_tokens|ai_credits|nova_fast_tokens",
    },
    {  # line 5: scoped to an id the catalog does not know (contract §8.1)
        "grant_id": "g-bad-scope",
        "customer_id": "cus_1",
        "kind": "promotional",
        "credits": "50",
        "effective_at": "2026-03-01T00:00:00Z",
        "applies_to": "nova_fast_tokens|nova_mega_tokens",
    },
]
# The grants feed with its optional column (contract §8.1).
GRANT_COLUMNS = [*FEED_COLUMNS["grants"], *OPTIONAL_FEED_COLUMNS["grants"]]
PURCHASES = [
    {  # line 2: unknown bundle
        "purchase_id": "p-unknown-bundle",
        "customer_id": "cus_1",
        "bundle_id": "pack_999k",
        "quantity": 1,
        "purchased_at": "2026-03-01T00:00:00Z",
        "amount_paid": 100,
        "currency": "USD",
        "status": "succeeded",
    },
    {  # line 3: lower-case currency is not ISO 4217
        "purchase_id": "p-lower-currency",
        "customer_id": "cus_1",
        "bundle_id": "pack_10k",
        "quantity": 1,
        "purchased_at": "2026-03-01T00:00:00Z",
        "amount_paid": 10000,
        "currency": "usd",
        "status": "succeeded",
    },
    {  # line 4: fine
        "purchase_id": "p-ok",
        "customer_id": "cus_2",
        "bundle_id": "pack_10k",
        "quantity": 1,
        "purchased_at": "2026-03-01T00:00:00Z",
        "amount_paid": 9500,
        "currency": "EUR",
        "status": "succeeded",
    },
    {  # line 5: a real currency, but not the customer's (cus_2 is billed in EUR)
        "purchase_id": "p-wrong-currency",
        "customer_id": "cus_2",
        "bundle_id": "pack_10k",
        "quantity": 1,
        "purchased_at": "2026-03-01T00:00:00Z",
        "amount_paid": 10000,
        "currency": "USD",
        "status": "succeeded",
    },
    {  # line 6: cus_3 has no currency of its own, so it is billed in USD, not EUR
        "purchase_id": "p-default-currency",
        "customer_id": "cus_3",
        "bundle_id": "pack_10k",
        "quantity": 1,
        "purchased_at": "2026-03-01T00:00:00Z",
        "amount_paid": 9500,
        "currency": "EUR",
        "status": "succeeded",
    },
    {  # line 7: fine, in the catalog's currency
        "purchase_id": "p-default-ok",
        "customer_id": "cus_3",
        "bundle_id": "pack_10k",
        "quantity": 1,
        "purchased_at": "2026-03-01T00:00:00Z",
        "amount_paid": 10000,
        "currency": "USD",
        "status": "succeeded",
    },
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quarantine")
    landing = write_landing(
        root / "landing",
        events_jsonl=EVENTS_A,
        events_name="events/a.jsonl",
        files={"events/b.jsonl": jsonl_text(EVENTS_B)},
        customers=CUSTOMERS,
        purchases=PURCHASES,
    )
    write_csv(landing / "grants.csv", GRANT_COLUMNS, GRANTS)
    return build_warehouse(root / "build", landing, as_of=AS_OF)


def test_one_quarantined_event_per_reason(warehouse):
    got = query(
        warehouse,
        "select source_file, line_number, reason from marts.fct_event_quarantine "
        "where feed = 'events'",
    )
    assert len(got) == len(set(got))
    assert set(got) == EXPECTED_EVENT_QUARANTINE
    assert {reason for _, _, reason in got} == CONTRACT_REASONS


def test_quarantined_rows_are_kept_whole(warehouse):
    got = {
        (f, n): (payload, ingested_at)
        for f, n, payload, ingested_at in query(
            warehouse,
            "select source_file, line_number, raw_payload, ingested_at "
            "from marts.fct_event_quarantine where feed = 'events'",
        )
    }
    # The unparsable line is kept byte for byte.
    assert got[("events/a.jsonl", 2)][0] == MALFORMED_LINE
    # Every other row is its landed JSON, field for field.
    for line, event in enumerate(EVENTS_A, start=1):
        if ("events/a.jsonl", line) in got and isinstance(event, dict):
            assert json.loads(got[("events/a.jsonl", line)][0]) == event
    assert json.loads(got[("events/b.jsonl", 1)][0]) == EVENTS_B[0]
    assert {ingested_at for _, ingested_at in got.values()} == {dt.datetime.fromisoformat(AS_OF)}


def test_broken_reference_rows_are_quarantined(warehouse):
    got = query(
        warehouse,
        "select feed, source_file, line_number, reason, raw_payload "
        "from marts.fct_event_quarantine where feed <> 'events' order by feed, line_number",
    )
    assert [row[:4] for row in got] == [
        ("grants", "grants.csv", 3, "unknown_customer"),
        ("grants", "grants.csv", 5, "invalid_value"),
        ("purchases", "purchases.csv", 2, "unknown_bundle"),
        ("purchases", "purchases.csv", 3, "invalid_currency"),
        ("purchases", "purchases.csv", 5, "invalid_currency"),
        ("purchases", "purchases.csv", 6, "invalid_currency"),
    ]
    assert json.loads(got[0][4])["grant_id"] == "g-ghost"
    assert json.loads(got[1][4])["applies_to"] == "nova_fast_tokens|nova_mega_tokens"
    assert json.loads(got[3][4])["currency"] == "usd"
    # Broken reference rows make no grant; the good purchase does.
    grants = {row[0] for row in query(warehouse, "select grant_id from marts.fct_grants")}
    assert "g-start" in grants
    assert "g-ghost" not in grants
    assert "g-bad-scope" not in grants
    # A scope is written one way: the ids sorted, once each, joined by "|"; "" for all.
    assert dict(
        query(
            warehouse,
            "select grant_id, applies_to from marts.fct_grants where grant_id like 'g-%'",
        )
    ) == {"g-start": "", "g-scoped": "ai_credits|nova_fast_tokens"}
    assert "purchase:p-ok" in grants
    assert "purchase:p-default-ok" in grants
    assert not {
        g
        for g in grants
        if any(p in g for p in ("p-unknown-bundle", "p-lower", "p-wrong", "p-default-currency"))
    }


def test_accepted_plus_quarantined_is_landed(warehouse):
    landed = scalar(warehouse, "select count(*) from raw.events")
    quarantined = scalar(
        warehouse, "select count(*) from marts.fct_event_quarantine where feed = 'events'"
    )
    accepted = query(
        warehouse,
        "select event_id from intermediate.int_events_validated where quarantine_reason is null",
    )
    assert landed == len(EVENTS_A) + len(EVENTS_B) == 17
    assert quarantined == len(EXPECTED_EVENT_QUARANTINE) == 9
    assert len(accepted) + quarantined == landed
    assert sorted(e for (e,) in accepted) == [
        "e-conflict",
        "e-edge",
        "e-external",
        "e-good",
        "e-naive",
        "e-nomodel",
        "e-offset",
        "e-pageview",
    ]


def test_rated_events(warehouse):
    got = query(
        warehouse,
        "select event_id, customer_id, event_at, aggregator_id, units, credits "
        "from marts.fct_rated_events order by event_id",
    )
    assert got == [
        # The first-seen body of a conflicting key is the one billed: 100 tokens.
        (
            "e-conflict",
            "cus_1",
            dt.datetime(2026, 3, 8),
            "nova_fast_tokens",
            Decimal(100),
            Decimal("0.1"),
        ),
        ("e-edge", "cus_1", dt.datetime(2026, 4, 2), "nova_fast_tokens", Decimal(1000), 1),
        # Rated under the customer_id its external_id names.
        (
            "e-external",
            "cus_1",
            dt.datetime(2026, 3, 3, 10),
            "nova_pro_tokens",
            Decimal(1500),
            Decimal(6),
        ),
        ("e-good", "cus_1", dt.datetime(2026, 3, 2, 10), "nova_fast_tokens", 1000, 1),
        # A naive timestamp is UTC.
        (
            "e-naive",
            "cus_2",
            dt.datetime(2026, 3, 6, 8, 30),
            "nova_fast_tokens",
            Decimal(500),
            Decimal("0.5"),
        ),
        # 12:00 at +02:00 is 10:00 UTC; 2,000 ultra tokens are 2 × 15 credits.
        (
            "e-offset",
            "cus_2",
            dt.datetime(2026, 3, 5, 10),
            "nova_ultra_tokens",
            Decimal(2000),
            Decimal(30),
        ),
    ]


def test_non_billable_events_are_accepted_not_rated(warehouse):
    accepted = {
        e
        for (e,) in query(
            warehouse,
            "select event_id from intermediate.int_events_validated "
            "where quarantine_reason is null",
        )
    }
    rated = {e for (e,) in query(warehouse, "select event_id from marts.fct_rated_events")}
    assert {"e-pageview", "e-nomodel"} <= accepted
    assert accepted - rated == {"e-pageview", "e-nomodel"}
    quarantined = query(
        warehouse,
        "select count(*) from marts.fct_event_quarantine "
        "where raw_payload like '%e-pageview%' or raw_payload like '%e-nomodel%'",
    )
    assert quarantined == [(0,)]


# --- Dedup across files and loads (contract §2 "seen" order, §2.1 dedup key) -------------------
#
# A second, small build. Load 1 (ingested 2026-03-20) holds events/z.jsonl; load 2 (at the
# clock) adds events/a.jsonl. a.jsonl sorts first by path, but it is loaded later, so its
# rows are the ones "seen" second (contract §2: across loads, rows count in load order).

DEDUP_FIRST_LOAD = [
    usage("d-1", "cus_1", "nova-fast", 1000, "2026-03-02T10:00:00Z"),  # z:1
    usage("d-2a", "cus_1", "nova-fast", 2000, "2026-03-03T10:00:00Z", idempotency_key="ik-1"),
    {  # z:3, no event_id and no idempotency_key: keyed by a hash of its content
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-04T10:00:00Z",
        "properties": {"model": "nova-fast", "tokens": 3000},
    },
]
DEDUP_SECOND_LOAD = [
    # a:1, the same event by external_id and at the same instant written with an offset.
    usage("d-1", "ext-1", "nova-fast", 1000, "2026-03-02T12:00:00+02:00"),
    # a:2, another event_id but the same idempotency_key, which is the dedup key.
    usage("d-2b", "cus_1", "nova-fast", 2000, "2026-03-03T10:00:00Z", idempotency_key="ik-1"),
    DEDUP_FIRST_LOAD[2],  # a:3, the same content again
    {  # a:4, the same content, properties in another key order
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-04T10:00:00Z",
        "properties": {"tokens": 3000, "model": "nova-fast"},
    },
]


@pytest.fixture(scope="module")
def dedup_warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dedup")
    first = write_landing(
        root / "landing",
        customers=CUSTOMERS[:1],
        events_jsonl=DEDUP_FIRST_LOAD,
        events_name="events/z.jsonl",
    )
    # The second load sees the same files plus one more; unchanged files are skipped.
    second = root / "landing_2"
    write_landing(
        second,
        customers=CUSTOMERS[:1],
        events_jsonl=DEDUP_FIRST_LOAD,
        events_name="events/z.jsonl",
        files={"events/a.jsonl": jsonl_text(DEDUP_SECOND_LOAD)},
    )
    return build_warehouse(
        root / "build",
        first,
        as_of=AS_OF,
        ingested_at="2026-03-20T00:00:00",
        later_loads=[(second, AS_OF)],
    )


def test_dedup_in_load_order(dedup_warehouse):
    assert scalar(dedup_warehouse, "select count(*) from raw.load_batches") == 2
    # z.jsonl and customers.csv are unchanged in load 2, so only a.jsonl is new.
    assert query(
        dedup_warehouse,
        "select source_file, batch_seq, count(*) from raw.events group by all order by all",
    ) == [("events/a.jsonl", 2, 4), ("events/z.jsonl", 1, 3)]
    got = query(
        dedup_warehouse,
        "select source_file, line_number, reason from marts.fct_event_quarantine "
        "where source_file = 'events/a.jsonl' and line_number <= 3 order by line_number",
    )
    assert got == [
        ("events/a.jsonl", 1, "duplicate"),
        ("events/a.jsonl", 2, "duplicate"),
        ("events/a.jsonl", 3, "duplicate"),
    ]
    # The first-seen rows (load 1) are the ones rated; their copies are not.
    first_load = dt.datetime(2026, 3, 20)
    assert query(
        dedup_warehouse,
        "select event_id, event_at, units, ingested_at from marts.fct_rated_events "
        "where event_at < '2026-03-04' order by event_at",
    ) == [
        ("d-1", dt.datetime(2026, 3, 2, 10), Decimal(1000), first_load),
        ("d-2a", dt.datetime(2026, 3, 3, 10), Decimal(2000), first_load),
    ]
    assert query(
        dedup_warehouse,
        "select units from marts.fct_rated_events "
        "where event_at = '2026-03-04 10:00:00' and ingested_at = ?",
        [first_load],
    ) == [(Decimal(3000),)]


def test_content_dedup_ignores_property_key_order(dedup_warehouse):
    """The dedup key of an id-less event hashes its canonical content: the same properties in
    another key order are the same event, so it is a duplicate and billed once."""
    got = query(
        dedup_warehouse,
        "select reason from marts.fct_event_quarantine "
        "where source_file = 'events/a.jsonl' and line_number = 4",
    )
    assert got == [("duplicate",)]
    # 1 + 2 + 3 credits: each distinct event billed once.
    assert scalar(dedup_warehouse, "select sum(credits) from marts.fct_rated_events") == Decimal(6)
