"""The same dbt models on DuckDB and on a local Spark session, row for row (docs/spark.md).

Marked `spark`: `make test-spark` runs it; `make test` leaves it out. It needs the optional
extra (`pip install -e ".[spark]"`: pyspark, dbt-spark) and Java 17.

One DuckDB warehouse is built from seed 000's month (tests/acceptance/test_seed_000_month.py:
2,355 events of two customers) plus rows that reach the parsing edge cases (a line that is
not JSON, a JSON array, properties that are an array, null, a string or absent, an offset
timestamp, decimal texts, blanks, duplicates by id and by content). Its raw tables go to
parquet, and every row of every model Spark built from them must equal DuckDB's: decimals
exactly (same value and same scale), timestamps naive UTC.

Every model of the project builds on Spark (SELECT), the ledger walk through
credits_warehouse/spark_walk.py between its dbt steps, and dbt's data tests run there too.
The fixture's customers each reach one area's cases: cus_c and cus_d the ledger's paths
(LEDGER_EVENTS), cus_g, cus_h and cus_i the customers and grants models (MORE_*), cus_bill,
cus_note and cus_spike the invoices, revenue and alerts (BILLING), cus_m the marts and
reports (MARTS_*). The same session runs the money macros on edge values
(MONEY_EDGE_VALUES), then builds everything again for 12 of the reference suite's random
customers (REFERENCE_CUSTOMERS), compared the same way.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb
import pytest
import yaml
from acceptance.test_seed_000_month import promo_events, seed_events
from helpers import CATALOG_PATH, REPO_ROOT, build_warehouse, fast_event, write_csv, write_landing
from reference.scenario import TEST_CATALOG_PATH, Scenario
from reference.scenario import write_landing as write_scenario_landing
from reference.strategies import seeded_customer
from unit.test_money_rules import render_money_sql

from credits_warehouse.incremental import dbt_env
from credits_warehouse.ingest import FEED_COLUMNS
from credits_warehouse.money import money_share, round_half_even
from credits_warehouse.spark_engine import export_raw_tables
from credits_warehouse.warehouse import connect
from dagster_project.partitions import dbt_vars

pytestmark = pytest.mark.spark

AS_OF = "2026-04-01T00:00:00"
# February is closed (the fixture's build records the close): the ledger resumes here.
RESUME_FROM = "2026-03-01T00:00:00"

# Every model of the project (dbt/models), the walk included.
SELECT = ["path:models"]
MODELS = sorted(
    path.stem
    for path in (REPO_ROOT / "dbt" / "models").rglob("*")
    if path.suffix in (".sql", ".py")
)
# dbt's own data tests (dbt/tests), every one of which must run on Spark and pass.
SINGULAR_TESTS = sorted(path.stem for path in (REPO_ROOT / "dbt" / "tests").glob("assert_*.sql"))
# The reference suite's random customers (tests/reference/strategies.py, the seeds of the
# hypothesis comparison), on the reference catalog: a second build in the same session.
REFERENCE_CUSTOMERS = 12

EVENTS = [
    # Plain usage, one event per model.
    '{"event_id": "e1", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T10:00:00Z", "properties": {"model": "nova-fast", "tokens": 1200, "user_id": "u1"}}',
    # An offset: 2026-03-02T12:30:00+02:00 is 10:30 UTC.
    '{"event_id": "e2", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T12:30:00+02:00", "properties": {"model": "nova-pro", "tokens": 250}}',
    # A decimal quantity with a trailing zero, and keys in another order.
    '{"properties": {"tokens": 2.50, "model": "nova-ultra"}, "timestamp": "2026-03-03T00:00:00Z",'
    ' "event_type": "llm_token_usage", "customer_id": "ext-b", "idempotency_key": "k1"}',
    # A duplicate of e1.
    '{"event_id": "e1", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T10:00:00Z", "properties": {"model": "nova-fast", "tokens": 1200, "user_id": "u1"}}',
    # Not JSON; a JSON array; properties an array; no properties; a bad timestamp;
    # an unknown model; a quantity that is text; a naive timestamp.
    "this is not json",
    "[1, 2, 3]",
    '{"event_id": "e5", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-04T00:00:00Z", "properties": [1, 2]}',
    '{"event_id": "e6", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-04T00:00:00Z"}',
    '{"event_id": "e7", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "March 4th", "properties": {"model": "nova-fast", "tokens": 1}}',
    '{"event_id": "e8", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-04T00:00:00Z", "properties": {"model": "nova-mega", "tokens": 1}}',
    '{"event_id": "e9", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05T00:00:00Z", "properties": {"model": "nova-fast", "tokens": "many"}}',
    '{"event_id": "e10", "customer_id": "cus_b", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05 06:00:00", "properties": {"model": "nova-pro", "tokens": "40"}}',
    # Properties JSON null, a string; two events with no id, told apart by content only.
    '{"event_id": "e11", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05T00:00:00Z", "properties": null}',
    '{"event_id": "e12", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05T00:00:00Z", "properties": "nova-fast"}',
    '{"customer_id": "cus_a", "event_type": "llm_token_usage", "timestamp": "2026-03-06T00:00:00Z",'
    ' "properties": {"user_id": "u2", "model": "nova-fast", "tokens": 3}}',
    '{"customer_id": "cus_a", "event_type": "llm_token_usage", "timestamp": "2026-03-06T00:00:00Z",'
    ' "properties": {"model": "nova-fast", "tokens": 3, "user_id": "u2"}}',
    # No id, a decimal and a nested value in the hashed content; a key given twice.
    '{"customer_id": "cus_a", "event_type": "llm_token_usage", "timestamp": "2026-03-07T00:00:00Z",'
    ' "properties": {"model": "nova-pro", "tokens": 2.50, "meta": {"b": 1e3, "a": [1, "x"]}}}',
    '{"event_id": "e13", "event_id": "e14", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-07T00:00:00Z", "properties": {"model": "nova-pro", "tokens": 1}}',
]

# cus_m reaches the marts and reports: a plan, a purchase and its refund, grants amended,
# voided before they take effect, scheduled after the clock and negative; seven users (five
# make the statement's top users, two of them tied on credits) and usage with no user.
MARTS_EVENTS = [
    {
        "event_id": f"m{i}",
        "customer_id": "cus_m",
        "event_type": "llm_token_usage",
        "timestamp": f"2026-03-{day:02d}T{hour:02d}:00:00Z",
        "properties": {"model": model, "tokens": tokens, **({"user_id": user} if user else {})},
    }
    for i, (day, hour, model, tokens, user) in enumerate(
        [
            (2, 9, "nova-fast", 3_000_000, "u1"),
            (3, 10, "nova-pro", 400_000, "u2"),
            (4, 11, "nova-fast", 2_000_000, "u3"),
            (4, 12, "nova-fast", 2_000_000, "u4"),
            (9, 13, "nova-ultra", 50_000, "u5"),
            (12, 14, "nova-fast", 1_000_000, "u6"),
            (16, 15, "nova-fast", 500_000, "u7"),
            (20, 16, "nova-pro", 1_234_567, None),
            (28, 23, "nova-fast", 7_000_000, "u1"),
        ]
    )
]


MARTS_GRANTS = [
    {"grant_id": grant_id, "customer_id": "cus_m", "kind": kind, "credits": credits,
     "effective_at": effective_at, "expires_at": expires_at}
    for grant_id, kind, credits, effective_at, expires_at in [
        ("gm_promo", "promotional", "1000.5", "2026-03-01T00:00:00Z", "2026-04-20T00:00:00Z"),
        ("gm_voided", "promotional", "50", "2026-03-15T00:00:00Z", "2026-06-01T00:00:00Z"),
        ("gm_later", "promotional", "500", "2026-05-01T00:00:00Z", ""),
        ("gm_minus", "adjustment", "-20", "2026-03-25T00:00:00Z", ""),
    ]
]  # fmt: skip


# The ledger's paths (docs/ledger.md), on customers of their own so the seed month's counts
# stay as they were. cus_c, on a plan that rolls over (`rollover`, added to the catalog
# below): usage in February (a late file: February is closed, so it is booked in March),
# then in March more than its allowance and rollover hold, so it runs short; a purchase
# later that month repays the shortfall and is refunded; a grant scoped to nova_pro_tokens
# (eligibility classes) whose expiry an amendment moves. cus_d: an auto top-up that fires
# when usage takes its promotional grant below the threshold.
LEDGER_EVENTS = [
    {
        "event_id": f"c{n}",
        "customer_id": customer,
        "event_type": "llm_token_usage",
        "timestamp": at,
        "properties": {"model": model, "tokens": tokens},
    }
    for n, (customer, at, model, tokens) in enumerate(
        [
            ("cus_c", "2026-02-10T00:00:00Z", "nova-fast", 300000),
            ("cus_c", "2026-03-05T00:00:00Z", "nova-pro", 10000),
            ("cus_c", "2026-03-10T00:00:00Z", "nova-fast", 1800000),
            ("cus_c", "2026-03-12T00:00:00Z", "nova-pro", 20000),
            ("cus_c", "2026-03-22T00:00:00Z", "nova-fast", 100000),
            ("cus_d", "2026-03-03T00:00:00Z", "nova-fast", 30000),
            ("cus_d", "2026-03-04T00:00:00Z", "nova-fast", 40000),
            ("cus_d", "2026-03-09T00:00:00Z", "nova-fast", 25000),
        ]
    )
]

ROLLOVER_PLAN = {
    "id": "rollover",
    "fees": {"USD": 0, "EUR": 0},
    "included_credits": 1000,
    "allowance_expires": "period_end",
    "rollover": {"max_credits": 500, "expires_after_periods": 2},
    "overage": "bill",
    "overage_price_per_credit": {"USD": 1, "EUR": 1},
    "warning_limit": 100,
}

GRANTS = [
    {
        "grant_id": "g1",
        "customer_id": "cus_a",
        "kind": "promotional",
        "credits": "500.123456789012",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-03-15T12:00:00Z",
        "priority": "5",
        "cost_basis_per_credit": "",
        "reason": "welcome",
        "created_by": "tests",
    },
    {
        "grant_id": "g2",
        "customer_id": "cus_b",
        "kind": "Adjustment",
        "credits": "ten",
        "effective_at": "2026-03-01",
        "expires_at": "",
    },
    {
        "grant_id": "g3",
        "customer_id": "cus_c",
        "kind": "promotional",
        "credits": "50",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-04-15T00:00:00Z",
        "priority": "1",
        "reason": "pro trial",
        "created_by": "tests",
        "applies_to": "nova_pro_tokens",
    },
    {
        "grant_id": "g4",
        "customer_id": "cus_d",
        "kind": "promotional",
        "credits": "150",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-06-30T00:00:00Z",
        "priority": "5",
        "reason": "welcome",
        "created_by": "tests",
    },
    # Seed 000's grants, so its usage draws on them.
    {
        "grant_id": "g_seed_start",
        "customer_id": "cus_seed",
        "kind": "starting_balance",
        "credits": "10000",
        "effective_at": "2026-03-01T00:00:00Z",
    },
    {
        "grant_id": "g_seed_promo",
        "customer_id": "cus_promo",
        "kind": "promotional",
        "credits": "500",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-03-15T12:00:00Z",
    },
    *MARTS_GRANTS,
]


# Reference rows for the customers and grants models (int_grants_unioned and the rest),
# on cus_g, cus_h and cus_i:
# every grant kind, a negative adjustment, scopes written loosely or naming nothing known,
# grants and a plan spell after the clock, a plan change mid-month whose fee is prorated by
# the second (from a start with a fractional second), an allowance that expires after some
# days (TEST_PLAN), purchases replaced, refunded, failed and in the wrong currency, refunds,
# voids and amendments of each outcome (applied before effect, walked, pending, unknown,
# duplicate, invalid), and auto top-ups with an end and with an unknown bundle.
TEST_PLAN = {
    "id": "pro_days",
    "fees": {"USD": 3000, "EUR": 2900},
    "included_credits": 3000,
    "allowance_expires": 10,
    "rollover": {"max_credits": 0, "expires_after_periods": 1},
    "overage": "bill",
    "overage_price_per_credit": {"USD": 2, "EUR": 2},
    "warning_limit": 100,
}
MORE_CUSTOMERS = [
    {"customer_id": "cus_g", "name": "C", "country": "DE", "currency": "EUR", "tax_rate": "0.19",
     "created_at": "2026-01-01T00:00:00Z"},
    {"customer_id": "cus_h", "name": "D", "country": "US", "currency": "", "tax_rate": "0",
     "created_at": "2026-01-01T00:00:00Z"},
    {"customer_id": "cus_i", "name": "E", "currency": "XYZ", "created_at": "2026-01-01T00:00:00Z"},
]  # fmt: skip
MORE_SUBSCRIPTIONS = [
    {"customer_id": "cus_g", "plan_id": "pro", "started_at": "2026-02-10T12:00:00.5Z",
     "ended_at": "2026-03-15T00:00:00Z"},
    {"customer_id": "cus_g", "plan_id": "pro_days", "started_at": "2026-03-15T00:00:00Z"},
    {"customer_id": "cus_a", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z"},
    {"customer_id": "cus_h", "plan_id": "free", "started_at": "2026-04-10T00:00:00Z"},
    {"customer_id": "cus_h", "plan_id": "pro", "started_at": "2026-03-05T00:00:00Z",
     "ended_at": "2026-03-01T00:00:00Z"},
    {"customer_id": "cus_nobody", "plan_id": "pro", "started_at": "2026-03-05T00:00:00Z"},
]  # fmt: skip
MORE_PURCHASES = [
    {"purchase_id": "pk2", "customer_id": "cus_a", "bundle_id": "pack_50k", "quantity": "2",
     "purchased_at": "2026-03-03T00:00:00Z", "amount_paid": "70000", "currency": "USD",
     "status": "succeeded"},
    {"purchase_id": "pk2", "customer_id": "cus_a", "bundle_id": "pack_50k", "quantity": "2",
     "purchased_at": "2026-03-03T00:00:00Z", "amount_paid": "80000", "currency": "USD",
     "status": "succeeded"},
    {"purchase_id": "pk3", "customer_id": "cus_g", "bundle_id": "pack_10k", "quantity": "1",
     "purchased_at": "2026-03-04T00:00:00Z", "amount_paid": "9500", "currency": "EUR",
     "status": "refunded"},
    {"purchase_id": "pk4", "customer_id": "cus_a", "bundle_id": "pack_10k", "quantity": "1",
     "purchased_at": "2026-03-04T00:00:00Z", "amount_paid": "10000", "currency": "USD",
     "status": "failed"},
    {"purchase_id": "pk5", "customer_id": "cus_a", "bundle_id": "pack_10k", "quantity": "1",
     "purchased_at": "2026-03-04T00:00:00Z", "amount_paid": "9500", "currency": "EUR",
     "status": "succeeded"},
    {"purchase_id": "pk6", "customer_id": "cus_h", "bundle_id": "pack_200k", "quantity": "3",
     "purchased_at": "2026-05-01T00:00:00Z", "amount_paid": "360001", "currency": "USD",
     "status": "succeeded"},
]  # fmt: skip
MORE_GRANTS_CSV = """grant_id,customer_id,kind,credits,effective_at,expires_at,priority,cost_basis_per_credit,reason,created_by,applies_to
gk3,cus_a,compensation,100,2026-03-02T00:00:00Z,,10,0.25,outage, , nova_fast_tokens | ai_credits|nova_fast_tokens
gk4,cus_g,referral,50.5,2026-03-05T00:00:00Z,2026-03-31T00:00:00Z,,,,,
gk5,cus_g,starting_balance,1000,2026-02-20T00:00:00Z,,,,opening,,
gk6,cus_a,adjustment,-25.000000000001,2026-03-20T00:00:00Z,,,,correction,,
gk7,cus_a,promotional,10,2026-03-02T00:00:00Z,,,,,,unknown_thing
gk8,cus_h,promotional,300,2026-04-15T00:00:00Z,2026-05-15T00:00:00Z,,,later,,nova_pro_tokens
gk9,cus_a,referral,5,2026-03-10T00:00:00Z,2026-03-09T00:00:00Z,,,,,
gk10,cus_a,compensation,0,2026-03-10T00:00:00Z,,,,,,
"""
MORE_AUTO_TOPUPS = [
    {"customer_id": "cus_g", "threshold": "50", "bundle_id": "pack_10k", "max_per_period": "1",
     "enabled_from": "2026-03-01T00:00:00Z", "enabled_to": "2026-03-20T00:00:00Z"},
    {"customer_id": "cus_a", "threshold": "5", "bundle_id": "pack_nope",
     "enabled_from": "2026-03-01T00:00:00Z"},
]  # fmt: skip
MORE_REFUNDS = [
    {"refund_id": "rk2", "purchase_id": "pk3", "refunded_at": "2026-03-10T00:00:00Z"},
    {"refund_id": "rk3", "purchase_id": "pk3", "refunded_at": "2026-03-11T00:00:00Z"},
    {"refund_id": "rk4", "purchase_id": "pk2", "refunded_at": "2026-03-01T00:00:00Z"},
    {"refund_id": "rk5", "purchase_id": "p_nope", "refunded_at": "2026-03-01T00:00:00Z"},
]
MORE_VOIDS = [
    {"event_id": "e1", "voided_at": "2026-03-03T00:00:00Z"},
    {"event_id": "e1", "voided_at": "2026-03-04T00:00:00Z"},
    {"event_id": "e_nope", "voided_at": "2026-03-04T00:00:00Z"},
    {"event_id": "e10", "voided_at": "2026-03-01T00:00:00Z"},
    {"event_id": "k1", "voided_at": "2026-03-15T00:00:00Z"},
]
MORE_AMENDMENTS = [
    {"amendment_id": "ak2", "grant_id": "gk8", "action": "void", "effective_at": "2026-03-20T00:00:00Z"},
    # Before the grant takes effect (February is closed, so in March).
    {"amendment_id": "ak3", "grant_id": "gk4", "action": "set_expiry",
     "effective_at": "2026-03-02T00:00:00Z", "new_expires_at": "2026-03-25T00:00:00Z"},
    {"amendment_id": "ak4", "grant_id": "purchase:pk2", "action": "set_expiry",
     "effective_at": "2026-03-10T00:00:00Z", "new_expires_at": "2026-06-01T00:00:00Z"},
    {"amendment_id": "ak5", "grant_id": "purchase:pk2", "action": "void",
     "effective_at": "2026-03-20T00:00:00Z"},
    {"amendment_id": "ak6", "grant_id": "gk3", "action": "void", "effective_at": "2026-04-05T00:00:00Z"},
    {"amendment_id": "ak7", "grant_id": "g_nope", "action": "set_expiry",
     "effective_at": "2026-03-05T00:00:00Z", "new_expires_at": "2026-03-25T00:00:00Z"},
    {"amendment_id": "ak2", "grant_id": "gk5", "action": "void", "effective_at": "2026-03-21T00:00:00Z"},
    {"amendment_id": "ak8", "grant_id": "subscription:pro:cus_a:2026-03-01T00:00:00",
     "action": "set_expiry", "effective_at": "2026-03-05T00:00:00Z",
     "new_expires_at": "2026-03-25T00:00:00Z"},
    {"amendment_id": "ak9", "grant_id": "gk5", "action": "set_expiry",
     "effective_at": "2026-03-05T00:00:00Z", "new_expires_at": "2026-02-01T00:00:00Z"},
]  # fmt: skip
MORE_EVENTS = [
    '{"event_id": "k1", "customer_id": "cus_g", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-16T00:00:00Z", "properties": {"model": "nova-fast", "tokens": 40000}}',
    '{"event_id": "k2", "customer_id": "cus_g", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-20T00:00:00Z", "properties": {"model": "nova-pro", "tokens": 3000}}',
]


# The money macros on Spark (dbt/macros/money.sql, types.sql), on edge values: ties both
# ways and of both signs, negatives, zero, the smallest credit, and products far past 38
# digits. Columns: n, m, d (integers), amount (minor units), c, t (credits, c and t below
# 1e14 as scaled_credits requires). Each row is checked against credits_warehouse.money.
MONEY_EDGE_VALUES = [
    (5, 1, 2, 5, "0.5", "1"),
    (7, 1, 2, 15, "0.5", "1"),
    (-7, 1, 2, -15, "0.5", "1"),
    (-5, 1, 2, -5, "0.5", "1"),
    (3, -5, 2, 1000, "1", "3"),
    (-7, -1, -2, -1000, "2", "3"),
    (-11, 1, 4, -2, "3", "0.000000000007"),
    (0, 5, 3, 0, "0.000000000001", "1"),
    (1, 1, 3, 1, "0.000000000001", "0.000000000003"),
    (1, 10**37, 3, 1, "2000000000000", "3"),
    (1, -(10**37) + 1, 7, -1, "2000000000000", "3"),
    (
        2**63 - 1,
        10**26 - 1,
        10**26 - 1,
        2**63 - 1,
        "99999999999999.999999999999",
        "99999999999999.999999999999",
    ),
    # n·m is 57 digits, past DuckDB's hugeint (which raises there) and decimal(38).
    (
        9 * 10**18,
        9 * 10**37,
        10**26 + 7,
        85_000_000_000_000,
        "1.000000000001",
        "99999999999999.999999999999",
    ),
    (
        -(2**63) + 1,
        12345678901234567890123456,
        98765432109876543210987,
        123456789,
        "7.123456789012",
        "23456789.5",
    ),
]


def _money_random_values(count: int) -> list[tuple]:
    """Rows like MONEY_EDGE_VALUES drawn from a fixed seed, inside the bounds the project
    holds (docs/spark.md "Money on Spark"): n money, m up to 26 digits, d up to 1e26, the
    credits below 1e14, and results that fit (38 digits, a bigint share)."""
    rng = random.Random(15)  # noqa: S311 - test data, not secrets
    rows: list[tuple] = []
    while len(rows) < count:
        n = rng.randint(-(2**63) + 1, 2**63 - 1) // 10 ** rng.randint(0, 18)
        m = rng.choice([-1, 1]) * rng.randint(0, 10 ** rng.randint(1, 26))
        d = rng.choice([-1, 1]) * rng.randint(1, 10 ** rng.randint(1, 26))
        amount = rng.randint(-(10**12), 10**12)
        c, t = (
            Decimal(rng.choice([-1, 1]) * rng.randint(1, 10 ** rng.randint(1, 26))) / 10**12
            for _ in range(2)
        )
        if abs(Fraction(n * m, d)) < 10**37 and abs(amount * c / t) < 2**62:
            rows.append((n, m, d, amount, f"{c:f}", f"{t:f}"))
    return rows


MONEY_EDGE_VALUES += _money_random_values(40)

# Each macro, on the columns above.
MONEY_EDGE_MACROS = {
    "product_rounded": "round_half_even_div(['n', 'm'], 'd')",
    "rounded": "round_half_even_div('m', 'd')",
    "product_truncated": "truncating_div(['n', 'm'], 'd')",
    "share": "money_share('amount', 'c', 't')",
    "cost_basis": "cost_basis_per_credit('amount', 'c')",
    "scaled": "scaled_credits('c')",
}


def _money_edge_values_sql(engine: str) -> str:
    """One row per MONEY_EDGE_VALUES row, each MONEY_EDGE_MACROS column rendered for `engine`."""
    rows = ",\n".join(
        f"({i}, cast('{n}' as decimal(38, 0)), cast('{m}' as decimal(38, 0)),"
        f" cast('{d}' as decimal(38, 0)), cast({amount} as bigint),"
        f" cast('{c}' as decimal(38, 12)), cast('{t}' as decimal(38, 12)))"
        for i, (n, m, d, amount, c, t) in enumerate(MONEY_EDGE_VALUES)
    )
    columns = ",\n".join(
        f"{render_money_sql(call, engine)} as {name}" for name, call in MONEY_EDGE_MACROS.items()
    )
    # Numbers from the literals above only.
    return f"select case_id, {columns} from values {rows} as edge(case_id, n, m, d, amount, c, t)"  # noqa: S608


def _money_edge_expected(n, m, d, amount, c, t) -> dict:
    c, t = Decimal(c), Decimal(t)
    scaled = int(c * 10**12)
    x = Fraction(amount * 10**24, scaled) + Fraction(1, 2)
    return {
        "product_rounded": round_half_even(Fraction(n * m, d)),
        "rounded": round_half_even(Fraction(m, d)),
        "product_truncated": int(Fraction(n * m, d)),
        "share": money_share(amount, c, t),
        "cost_basis": Decimal(f"{int(x)}e-12"),  # exact: no context rounding
        "scaled": scaled,
    }


# cus_bill (EUR, tax 19%) and cus_note (USD, tax 20%) reach the invoices, revenue and
# alerts: pro from 2026-02-10 (a prorated February fee, March's fee, March's overage billed
# at the clock), bundles bought in February and March, an auto top-up, a refund, a paid
# grant voided; February is closed, so its invoices are final and numbered. cus_bill's
# March usage is steady for nine days, then a spike (a usage_spike alert), with fractional
# credits in the overage ("1,234.567"). cus_spike uses a little more each day from 03-01 to
# 03-14 (trailing medians of odd and even counts), then 50 times as much on 03-17.
BILLING = {
    "customers": [
        {"customer_id": "cus_bill", "name": "Bill GmbH", "email": "bill@example.com", "country": "DE",
         "currency": "EUR", "tax_rate": "0.19", "created_at": "2026-01-05T00:00:00Z"},
        {"customer_id": "cus_note", "name": "Note Ltd", "email": "note@example.com", "country": "GB",
         "currency": "USD", "tax_rate": "0.2", "created_at": "2026-01-05T00:00:00Z"},
        {"customer_id": "cus_spike", "name": "Spike Inc", "email": "spike@example.com", "country": "US",
         "currency": "USD", "tax_rate": "0", "created_at": "2026-02-25T00:00:00Z"},
    ],
    "subscriptions": [{"customer_id": "cus_bill", "plan_id": "pro", "started_at": "2026-02-10T00:00:00Z"}],
    "purchases": [
        {"purchase_id": "pb1", "customer_id": "cus_bill", "bundle_id": "pack_10k", "quantity": "1",
         "purchased_at": "2026-02-12T09:00:00Z", "amount_paid": "9500", "currency": "EUR", "status": "succeeded"},
        {"purchase_id": "pn1", "customer_id": "cus_note", "bundle_id": "pack_10k", "quantity": "1",
         "purchased_at": "2026-02-20T00:00:00Z", "amount_paid": "10000", "currency": "USD", "status": "refunded"},
        {"purchase_id": "pn2", "customer_id": "cus_note", "bundle_id": "pack_50k", "quantity": "2",
         "purchased_at": "2026-03-02T00:00:00Z", "amount_paid": "80000", "currency": "USD", "status": "succeeded"},
        {"purchase_id": "ps1", "customer_id": "cus_spike", "bundle_id": "pack_50k", "quantity": "1",
         "purchased_at": "2026-03-01T00:00:00Z", "amount_paid": "40000", "currency": "USD", "status": "succeeded"},
    ],
    "auto_topups": [
        {"customer_id": "cus_bill", "threshold": "2000", "bundle_id": "pack_10k", "max_per_period": "1",
         "enabled_from": "2026-03-01T00:00:00Z"}
    ],
    "refunds": [{"refund_id": "rn1", "purchase_id": "pn1", "refunded_at": "2026-03-20T00:00:00Z"}],
    "grant_amendments": [
        {"amendment_id": "an_void", "grant_id": "purchase:pn2", "action": "void",
         "effective_at": "2026-03-25T00:00:00Z"}
    ],
    "events": [
        *(fast_event(f"b{day}", "cus_bill", f"2026-03-{day:02d}T12:00:00Z", 1000) for day in range(1, 10)),
        fast_event("b_spike", "cus_bill", "2026-03-12T12:00:00Z", 25000),
        {**fast_event("b_frac", "cus_bill", "2026-03-20T12:00:00Z", 0), "properties": {"model": "nova-fast",
         "tokens": 1234567}},
        fast_event("b_feb", "cus_bill", "2026-02-20T12:00:00Z", 400),
        fast_event("n1", "cus_note", "2026-03-05T00:00:00Z", 2500),
        fast_event("n2", "cus_note", "2026-03-10T00:00:00Z", 30000),
        *(
            {**fast_event(f"s{day}", "cus_spike", f"2026-03-{day:02d}T08:00:00Z", 0),
             "properties": {"model": "nova-fast", "tokens": 100_000 + 7 * day}}
            for day in range(1, 15)
        ),
        fast_event("s_spike", "cus_spike", "2026-03-17T08:00:00Z", 5000),
    ],
}  # fmt: skip


def _fixture_catalog(path: Path) -> Path:
    """The sample catalog with the fixture's two test plans (ROLLOVER_PLAN, TEST_PLAN)."""
    catalog = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    catalog["plans"] += [ROLLOVER_PLAN, TEST_PLAN]
    path.write_text(yaml.safe_dump(catalog, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("spark_cross_engine")
    landing = write_landing(
        root / "landing",
        customers=[
            *(
                {
                    "customer_id": seed_customer,
                    "name": "Seed Customer",
                    "email": "seed@example.com",
                    "country": "US",
                    "currency": "USD",
                    "tax_rate": "0",
                    "created_at": "2026-02-15T00:00:00Z",
                }
                for seed_customer in ("cus_seed", "cus_promo")
            ),
            {
                "customer_id": "cus_a",
                "name": "A",
                "email": "a@example.com",
                "country": "US",
                "currency": "USD",
                "tax_rate": "0.0825",
                "created_at": "2026-02-15T00:00:00Z",
            },
            {
                "customer_id": "cus_m",
                "name": "Marts GmbH",
                "email": "m@example.com",
                "address": "Hauptstr. 1, Berlin",
                "country": "DE",
                "currency": "USD",
                "tax_rate": "0.19",
                "created_at": "2026-01-01T00:00:00Z",
            },
            {
                "customer_id": "cus_b",
                "external_id": "ext-b",
                "name": "B, Ltd",
                "country": "DE",
                "currency": "EUR",
                "tax_rate": "abc",
                "created_at": "2026-02-15T09:00:00+01:00",
            },
            *(
                {
                    "customer_id": customer,
                    "name": customer,
                    "country": "US",
                    "currency": "USD",
                    "tax_rate": "0",
                    "created_at": "2026-01-15T00:00:00Z",
                }
                for customer in ("cus_c", "cus_d")
            ),
            *MORE_CUSTOMERS,
            *BILLING["customers"],
        ],
        purchases=[
            {
                "purchase_id": "p1",
                "customer_id": "cus_a",
                "bundle_id": "pack_10k",
                "quantity": "",
                "purchased_at": "2026-03-01T08:00:00Z",
                "amount_paid": "10000",
                "currency": "USD",
                "status": "PAID",
            },
            {
                "purchase_id": "p2",
                "customer_id": "cus_c",
                "bundle_id": "pack_10k",
                "quantity": "1",
                "purchased_at": "2026-03-20T00:00:00Z",
                "amount_paid": "10000",
                "currency": "USD",
                "status": "succeeded",
            },
            {
                "purchase_id": "pm1",
                "customer_id": "cus_m",
                "bundle_id": "pack_10k",
                "quantity": "1",
                "purchased_at": "2026-03-02T08:00:00Z",
                "amount_paid": "10000",
                "currency": "USD",
                "status": "refunded",
            },
            *MORE_PURCHASES,
            *BILLING["purchases"],
        ],
        subscriptions=[
            {"customer_id": "cus_a", "plan_id": "starter", "started_at": "2026-03-01T00:00:00Z"},
            {"customer_id": "cus_c", "plan_id": "rollover", "started_at": "2026-02-01T00:00:00Z"},
            {"customer_id": "cus_m", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z"},
            *MORE_SUBSCRIPTIONS,
            *BILLING["subscriptions"],
        ],
        auto_topups=[
            {
                "customer_id": "cus_a",
                "threshold": "100.5",
                "bundle_id": "pack_10k",
                "max_per_period": "2",
                "enabled_from": "2026-03-01T00:00:00Z",
            },
            {
                "customer_id": "cus_d",
                "threshold": "100",
                "bundle_id": "pack_10k",
                "max_per_period": "2",
                "enabled_from": "2026-03-01T00:00:00Z",
            },
            *MORE_AUTO_TOPUPS,
            *BILLING["auto_topups"],
        ],
        voids=[
            {"event_id": "e2", "voided_at": "2026-03-06T00:00:00Z", "reason": "test"},
            {"event_id": "c3", "voided_at": "2026-03-14T00:00:00Z", "reason": "test"},
            *MORE_VOIDS,
        ],
        refunds=[
            {"refund_id": "r1", "purchase_id": "p1", "refunded_at": "2026-03-07T00:00:00Z"},
            {"refund_id": "r2", "purchase_id": "p2", "refunded_at": "2026-03-25T00:00:00Z"},
            {"refund_id": "rm1", "purchase_id": "pm1", "refunded_at": "2026-03-26T00:00:00Z"},
            *MORE_REFUNDS,
            *BILLING["refunds"],
        ],
        grant_amendments=[
            {
                "amendment_id": "a1",
                "grant_id": "g1",
                "action": "Extend",
                "effective_at": "2026-03-10T00:00:00Z",
                "new_expires_at": "2026-03-20T00:00:00Z",
            },
            {
                "amendment_id": "a2",
                "grant_id": "g3",
                "action": "set_expiry",
                "effective_at": "2026-03-15T00:00:00Z",
                "new_expires_at": "2026-05-31T00:00:00Z",
            },
            {
                "amendment_id": "am_expiry",
                "grant_id": "gm_promo",
                "action": "set_expiry",
                "effective_at": "2026-03-08T00:00:00Z",
                "new_expires_at": "2026-04-25T00:00:00Z",
                "reason": "goodwill",
                "created_by": "tests",
            },
            {
                "amendment_id": "am_void",
                "grant_id": "gm_voided",
                "action": "void",
                "effective_at": "2026-03-12T00:00:00Z",
            },
            *MORE_AMENDMENTS,
            *BILLING["grant_amendments"],
        ],
        events_jsonl=[
            *seed_events(),
            *promo_events(),
            *EVENTS,
            *LEDGER_EVENTS,
            *MARTS_EVENTS,
            *MORE_EVENTS,
            *BILLING["events"],
        ],
        files={"grants/scoped.csv": MORE_GRANTS_CSV},
    )
    # Grants with the optional column applies_to.
    write_csv(landing / "grants.csv", (*FEED_COLUMNS["grants"], "applies_to"), GRANTS)
    warehouse = build_warehouse(
        root / "duckdb",
        landing,
        _fixture_catalog(root / "catalog.yml"),
        as_of=AS_OF,
        closes=[("2026-02", "2026-03-01T06:00:00")],
    )

    scenario = Scenario.merge(
        seeded_customer(f"c{i:04d}", f"0:{i}") for i in range(REFERENCE_CUSTOMERS)
    )
    reference = build_warehouse(
        root / "reference_duckdb",
        write_scenario_landing(scenario, root / "reference_landing"),
        TEST_CATALOG_PATH,
        as_of=AS_OF,
    )
    for built, exported in ((warehouse, root / "raw_parquet"), (reference, root / "reference_raw")):
        con = connect(built, read_only=True)
        try:
            export_raw_tables(con, exported)
        finally:
            con.close()
    (root / "money_edge_values.sql").write_text(_money_edge_values_sql("spark"), encoding="utf-8")

    out_dir, reference_out = root / "spark_out", root / "reference_spark_out"
    # The reference customers first, the fixture last: Spark's tables are then the fixture's,
    # which the resume test walks again.
    _run_on_spark(
        root,
        reference_out,
        SELECT,
        raw=root / "reference_raw",
        extra=[
            "--test",
            "--query",
            "money_edge_values",
            str(root / "money_edge_values.sql"),
            "--also",
            str(root / "raw_parquet"),
            str(out_dir),
        ],
    )
    summary = json.loads((out_dir / "built.json").read_text(encoding="utf-8"))
    print("spark timings (s):", summary["timings"])
    _REFERENCE["build"] = (
        reference,
        reference_out,
        json.loads((reference_out / "built.json").read_text(encoding="utf-8")),
    )
    return warehouse, out_dir, summary


_REFERENCE: dict[str, tuple[Path, Path, dict]] = {}


@pytest.fixture(scope="module")
def reference_engines(engines) -> tuple[Path, Path, dict]:
    """The reference customers' build on both engines (made by `engines`, one session)."""
    return _REFERENCE["build"]


def _run_on_spark(
    root: Path,
    out_dir: Path,
    select: list[str],
    extra: list[str] = (),
    raw: Path | None = None,
    **run_vars: str,
) -> dict:
    """`python -m credits_warehouse.spark_engine` on the fixture's raw files (with `extra`
    arguments), in the Spark folder the fixture's build keeps; returns its built.json."""
    clock = __import__("datetime").datetime.fromisoformat(AS_OF)
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        **dbt_env({**dbt_vars(clock, None, ""), **run_vars}),
    }
    command = [
        sys.executable,
        "-m",
        "credits_warehouse.spark_engine",
        str(raw or root / "raw_parquet"),
        str(root / "spark"),
        str(out_dir),
        "--select",
        *select,
        *extra,
    ]
    result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"the Spark build failed (exit {result.returncode}):\n{tail}", pytrace=False)
    return json.loads((out_dir / "built.json").read_text(encoding="utf-8"))


def _sort_key(row: tuple) -> tuple:
    return tuple((value is None, str(type(value)), str(value)) for value in row)


def _duckdb_rows(warehouse: Path, model: str) -> tuple[list[str], list[str], list[tuple]]:
    con = connect(warehouse, read_only=True)
    try:
        (schema,) = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [model]
        ).fetchone()
        columns = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, model],
        ).fetchall()
        rows = con.table(f"{schema}.{model}").fetchall()
    finally:
        con.close()
    return [name for name, _ in columns], [kind for _, kind in columns], rows


def _spark_rows(out_dir: Path, model: str, columns: list[str]) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect()
    try:
        relation = con.read_parquet(str(out_dir / f"{model}.parquet" / "*.parquet"))
        kinds = dict(zip(relation.columns, relation.types, strict=True))
        rows = relation.select(*[duckdb.ColumnExpression(name) for name in columns]).fetchall()
    finally:
        con.close()
    return [str(kinds[name]) for name in columns], rows


def _same_decimal_scale(duck_kind: str, spark_kind: str) -> bool:
    return not duck_kind.startswith("DECIMAL") or duck_kind == spark_kind


def test_spark_builds_every_model(engines):
    _, _, summary = engines
    failed = [
        (r.get("unique_id"), r.get("message"))
        for r in summary["run_results"]["results"]
        if r["status"] not in ("success", "pass")
    ]
    assert failed == []
    assert sorted(summary["models"]) == MODELS


def test_every_instant_is_naive_on_spark(engines):
    """DuckDB's timestamps are naive UTC; so are Spark's (`timestamp_ntz`). A function that
    returns a zoned one (Spark's date_trunc did) widens every union it meets."""
    _, _, summary = engines
    assert summary["zoned_columns"] == {}


def test_the_data_tests_pass_on_spark(engines):
    """dbt's data tests run on Spark's build and pass, as they do on DuckDB's
    (build_warehouse runs dbt build): every singular test and the generic ones."""
    _, _, summary = engines
    failed = {name: status for name, status in summary["tests"].items() if status != "pass"}
    assert failed == {}
    assert sorted(name for name in summary["tests"] if name.startswith("assert_")) == SINGULAR_TESTS


def test_the_money_macros_on_spark_on_edge_values(engines):
    _, out_dir, _ = engines
    con = duckdb.connect()
    try:
        relation = con.read_parquet(str(out_dir / "money_edge_values.parquet" / "*.parquet"))
        got = {
            row[0]: dict(zip(relation.columns[1:], row[1:], strict=True))
            for row in relation.fetchall()
        }
    finally:
        con.close()
    wrong = {
        i: (got.get(i), expected)
        for i, values in enumerate(MONEY_EDGE_VALUES)
        if got.get(i) != (expected := _money_edge_expected(*values))
    }
    assert wrong == {}


@pytest.mark.parametrize("build", ["engines", "reference_engines"])
def test_every_row_of_every_model_is_the_same_on_both_engines(build, request):
    warehouse, out_dir, summary = request.getfixturevalue(build)
    assert sorted(summary["models"]) == MODELS
    differences = {}
    for model in summary["models"]:
        columns, duck_kinds, duck = _duckdb_rows(warehouse, model)
        spark_kinds, spark = _spark_rows(out_dir, model, columns)
        scales = [
            (name, d, s)
            for name, d, s in zip(columns, duck_kinds, spark_kinds, strict=True)
            if not _same_decimal_scale(d, s)
        ]
        # Exact decimals: the same value at the same scale (Decimal('1.50') == Decimal('1.5'),
        # so the text is compared too).
        duck_text = sorted([tuple(repr(v) for v in row) for row in duck])
        spark_text = sorted([tuple(repr(v) for v in row) for row in spark])
        if scales or duck_text != spark_text:
            only_duck = sorted(set(map(tuple, duck_text)) - set(map(tuple, spark_text)))[:3]
            only_spark = sorted(set(map(tuple, spark_text)) - set(map(tuple, duck_text)))[:3]
            differences[model] = {
                "decimal types": scales,
                "columns": columns,
                "only on duckdb": only_duck,
                "only on spark": only_spark,
            }
    assert differences == {}, json.dumps(differences, indent=1, default=str)


def test_the_walk_resumed_from_a_checkpoint_is_the_whole_walk(engines):
    """The walk on Spark resumes (docs/incremental.md): from the checkpoint at the end of the
    closed period, over the table the first run wrote, it gives the same rows as walking
    everything. Also prints the walk's time on both engines."""
    warehouse, out_dir, summary = engines
    resumed_dir = out_dir.parent / "spark_resumed"
    resumed = _run_on_spark(
        out_dir.parent, resumed_dir, ["int_ledger_walked"], resume_from=RESUME_FROM
    )
    assert resumed["models"] == ["int_ledger_walked"]
    columns, _, whole = _duckdb_rows(warehouse, "int_ledger_walked")
    _, again = _spark_rows(resumed_dir, "int_ledger_walked", columns)
    assert sorted(map(repr, again)) == sorted(map(repr, whole))
    duckdb_run = json.loads(
        (warehouse.parent / "dbt_target" / "run_results.json").read_text(encoding="utf-8")
    )
    (duckdb_walk,) = [
        r["execution_time"]
        for r in duckdb_run["results"]
        if r["unique_id"] == "model.credits.int_ledger_walked"
    ]
    print(
        f"the walk (s): duckdb {duckdb_walk:.2f}, spark {summary['timings']['walk']:.2f},"
        f" spark resumed {resumed['timings']['walk']:.2f}"
    )


def test_the_fixture_reaches_the_edge_cases(engines):
    """The comparison means something: the edge rows are there, parsed as worked out."""
    warehouse, _, _ = engines
    con = connect(warehouse, read_only=True)
    try:
        # Seed 000's month: 2,000 + 300 + 50 calls of cus_seed and 5 of cus_promo, all rated.
        seed_rated = con.execute(
            "select count(*) from intermediate.int_events_rated"
            " where customer_id in ('cus_seed', 'cus_promo')"
        ).fetchone()[0]
        got = con.execute(
            "select event_id, event_at, properties_type from staging.stg_landing__events"
            " where event_id in ('e2', 'e5', 'e6', 'e10') order by event_id"
        ).fetchall()
        grant_credits = con.execute(
            "select credits from staging.stg_landing__grants where grant_id = 'g1'"
        ).fetchone()[0]
        walked = {
            kind
            for (kind,) in con.execute(
                "select distinct row_kind || ':' || coalesce(entry_type, amendment_outcome, kind, '')"
                " from intermediate.int_ledger_walked"
            ).fetchall()
        }
        classes = con.execute(
            "select distinct eligibility_class from intermediate.int_eligibility_classes"
        ).fetchall()
        restated = con.execute(
            "select count(*) from intermediate.int_usage_restated where customer_id = 'cus_c'"
        ).fetchone()
        grant_kinds = {
            kind
            for (kind,) in con.execute(
                "select distinct kind from intermediate.int_grants_unioned"
            ).fetchall()
        }
        prorated_fee = con.execute(
            "select paid_amount from intermediate.int_grants_unioned"
            " where grant_id = 'subscription:pro:cus_g:2026-02-10T12:00:00'"
        ).fetchone()[0]
        outcomes = dict(
            con.execute(
                "select amendment_id, outcome from intermediate.int_grant_amendments_applied"
                " where amendment_id like 'ak%'"
            ).fetchall()
        )
        reasons = set(
            con.execute(
                "select feed, reason from intermediate.int_rows_quarantined where feed <> 'events'"
            ).fetchall()
        )
        statuses = con.execute("select distinct status from marts.fct_grants").fetchall()
        sections = con.execute(
            "select section, count(*) from reporting.rpt_statement_lines"
            " where customer_id = 'cus_m' group by section"
        ).fetchall()
        invoice_types = con.execute(
            "select distinct invoice_type from marts.fct_invoices"
        ).fetchall()
    finally:
        con.close()
    dt = __import__("datetime").datetime
    assert got == [
        ("e10", dt(2026, 3, 5, 6), "OBJECT"),  # naive text is UTC
        ("e2", dt(2026, 3, 2, 10, 30), "OBJECT"),  # 12:30 at +02:00 = 10:30 UTC
        ("e5", dt(2026, 3, 4), "ARRAY"),
        ("e6", dt(2026, 3, 4), "NULL"),
    ]
    assert grant_credits == Decimal("500.123456789012")
    assert seed_rated == 2000 + 300 + 50 + 5
    # The ledger's paths: usage runs short (overage), is repaid by a later purchase, which is
    # refunded; grants expire and roll over; a top-up fires; voids give back; an amendment
    # moves an expiry; a scoped grant makes eligibility classes; a closed period restates.
    assert {
        "entry:expiry",
        "entry:rollover",
        "entry:repayment",
        "entry:overage_repaid",
        "entry:refund",
        "entry:void",
        "entry:unfunded_writeoff",
        "span:overage",
        "span:unfunded",
        "grant:auto_topup",
        "grant:rollover",
        "amendment:applied",
        "checkpoint:",
    } <= walked
    assert {("",), ("nova_pro_tokens",)} <= set(classes)
    assert restated == (1,)
    assert {status for (status,) in statuses} >= {
        "active",
        "depleted",
        "expired",
        "scheduled",
        "voided",
    }
    # Seven users: the statement lists the top five; and grants to come after the clock.
    assert dict(sections)["top_user"] == 5
    assert dict(sections)["coming"] >= 1
    assert {kind for (kind,) in invoice_types} == {"credit_note", "purchase", "subscription"}
    assert grant_kinds >= {
        "promotional", "compensation", "referral", "starting_balance", "adjustment", "purchase",
        "plan_allowance",
    }  # fmt: skip
    # EUR 95.00 for 18.5 days of February's 28: from 12:00:00.5, whole seconds counted as
    # date_diff does, from the second it falls in.
    assert prorated_fee == round(Fraction(9500 * (18 * 86400 + 43200), 28 * 86400))
    assert outcomes == {"ak2": "applied", "ak3": "applied", "ak4": "applied", "ak5": "applied",
                        "ak6": "pending", "ak8": "applied"}  # fmt: skip
    assert reasons >= {
        ("grants", "invalid_value"), ("subscriptions", "unknown_plan"),
        ("subscriptions", "invalid_value"), ("purchases", "invalid_currency"),
        ("refunds", "duplicate"), ("refunds", "invalid_value"), ("voids", "duplicate"),
        ("voids", "invalid_value"), ("voids", "unknown_event"), ("grant_amendments", "duplicate"),
        ("grant_amendments", "unknown_grant"), ("auto_topups", "unknown_bundle"),
    }  # fmt: skip
    assert seed_rated == 2000 + 300 + 50 + 5


def test_the_fixture_reaches_invoices_revenue_and_alerts(engines):
    """BILLING reaches what the invoice, revenue and alert models compare on."""
    warehouse, _, _ = engines
    con = connect(warehouse, read_only=True)
    try:
        alert_types = {
            kind
            for (kind,) in con.execute(
                "select distinct alert_type from intermediate.int_alerts_triggered"
            ).fetchall()
        }
        numbered = con.execute(
            "select invoice_number from intermediate.int_invoices_numbered"
            " where status = 'finalized' order by invoice_number"
        ).fetchall()
        overage = con.execute(
            "select description from intermediate.int_invoice_lines_drafted"
            " where line_kind = 'overage' and customer_id = 'cus_bill'"
        ).fetchall()
        recognitions = con.execute(
            "select count(*) from intermediate.int_journal_postings"
            " where source_type = 'revenue_recognition'"
        ).fetchone()[0]
    finally:
        con.close()
    assert alert_types >= {
        "low_balance",
        "balance_depleted",
        "unfunded_usage",
        "credits_expiring",
        "usage_spike",
        "forecast_depletion",
    }
    # Gap-free from the first number; February's invoices of every fixture customer.
    assert len(numbered) >= 4
    assert numbered == [(f"INV-2026-{n:06d}",) for n in range(1, len(numbered) + 1)]
    # Grouped thousands with three decimals, trailing zeros dropped (thousands()).
    assert overage == [("Overage, 2026-03: 5,634.567 credits",)]
    assert recognitions > 0
