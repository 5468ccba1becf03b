"""Seed 000's worked example (Hyperline, "credit-based billing for an AI platform"), end to
end through one dbt build: landing -> raw -> staging -> marts.

Customer `cus_seed` starts March 2026 with a 10,000-credit starting balance (a `grants.csv`
row, kind `starting_balance`, no expiry) and makes, with the shipped catalog's weights
(credits = tokens / 1,000 × weight):

    2,000 nova-fast  calls × 1,000 tokens = 2,000,000 tokens -> 2,000 × 1  = 2,000 credits
      300 nova-pro   calls × 1,500 tokens =   450,000 tokens ->   450 × 4  = 1,800 credits
       50 nova-ultra calls × 2,000 tokens =   100,000 tokens ->   100 × 15 = 1,500 credits
                                                                  total      5,300 credits
    remaining balance: 10,000 − 5,300 = 4,700 credits

Customer `cus_promo` (same build, no plan) shows expiry at the exact instant. A promotional
grant of 500 credits takes effect 2026-03-01T00:00Z and expires 2026-03-15T12:00Z:

    03-10 09:00  nova-ultra 10,000 tokens -> 10 × 15 = 150  from the promo (350 left)
    03-15 06:00  nova-pro   25,000 tokens -> 25 × 4  = 100  from the promo (250 left)
    03-15 12:00  the promo expires: 500 − (150 + 100) = 250 expired, balance 0
    03-15 12:00  nova-pro    5,000 tokens ->  5 × 4  =  20  unfunded: a grant is eligible
                 only while effective_at ≤ t < expires_at, and expiries apply before usage
                 at the same instant (contract §4)
    03-15 18:00  nova-pro    5,000 tokens ->  5 × 4  =  20  unfunded
    03-20 00:00  nova-fast  40,000 tokens -> 40 × 1  =  40  unfunded
    used from the grant 250, expired 250, unfunded 80; balance at month end −80.

The shortfall is `unfunded`, not `overage`, because the customer has no plan.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import build_warehouse, query, scalar, write_landing

AS_OF = "2026-04-01T00:00:00"
MONTH_END = dt.datetime(2026, 4, 1)

SEED = "cus_seed"
PROMO = "cus_promo"
START_GRANT = "g-seed-start"
PROMO_GRANT = "g-promo"
PROMO_EXPIRES = dt.datetime(2026, 3, 15, 12)

# (model, calls, tokens per call, first call, gap between calls)
SEED_USAGE = [
    ("nova-fast", 2000, 1000, dt.datetime(2026, 3, 1, 0, 5), dt.timedelta(minutes=20)),
    ("nova-pro", 300, 1500, dt.datetime(2026, 3, 2, 0, 7), dt.timedelta(hours=2)),
    ("nova-ultra", 50, 2000, dt.datetime(2026, 3, 3, 0, 11), dt.timedelta(hours=12)),
]
PROMO_USAGE = [
    ("pr-1", "nova-ultra", 10_000, "2026-03-10T09:00:00Z"),
    ("pr-2", "nova-pro", 25_000, "2026-03-15T06:00:00Z"),
    ("pr-3", "nova-pro", 5_000, "2026-03-15T12:00:00Z"),
    ("pr-4", "nova-pro", 5_000, "2026-03-15T18:00:00Z"),
    ("pr-5", "nova-fast", 40_000, "2026-03-20T00:00:00Z"),
]


def seed_events() -> list[dict]:
    events = []
    for model, calls, tokens, first, gap in SEED_USAGE:
        for i in range(calls):
            at = first + i * gap
            assert at < MONTH_END  # every call falls in March 2026
            events.append(
                {
                    "event_id": f"{model}-{i:05d}",
                    "customer_id": SEED,
                    "event_type": "llm_token_usage",
                    "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "properties": {"model": model, "tokens": tokens, "user_id": "u-1"},
                }
            )
    return events


def promo_events() -> list[dict]:
    return [
        {
            "event_id": event_id,
            "customer_id": PROMO,
            "event_type": "llm_token_usage",
            "timestamp": timestamp,
            "properties": {"model": model, "tokens": tokens},
        }
        for event_id, model, tokens, timestamp in PROMO_USAGE
    ]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seed_000")
    landing = write_landing(
        root / "landing",
        customers=[
            {
                "customer_id": SEED,
                "name": "Seed Customer",
                "email": "seed@example.com",
                "country": "US",
                "currency": "USD",
                "tax_rate": "0",
                "created_at": "2026-02-15T00:00:00Z",
            },
            {
                "customer_id": PROMO,
                "name": "Promo Customer",
                "email": "promo@example.com",
                "country": "US",
                "currency": "USD",
                "tax_rate": "0",
                "created_at": "2026-02-15T00:00:00Z",
            },
        ],
        grants=[
            {
                "grant_id": START_GRANT,
                "customer_id": SEED,
                "kind": "starting_balance",
                "credits": "10000",
                "effective_at": "2026-03-01T00:00:00Z",
                "expires_at": "",
                "reason": "seed 000 starting balance",
                "created_by": "tests",
            },
            {
                "grant_id": PROMO_GRANT,
                "customer_id": PROMO,
                "kind": "promotional",
                "credits": "500",
                "effective_at": "2026-03-01T00:00:00Z",
                "expires_at": "2026-03-15T12:00:00Z",
                "reason": "welcome",
                "created_by": "tests",
            },
        ],
        events_jsonl=seed_events() + promo_events(),
    )
    return build_warehouse(root / "build", landing, as_of=AS_OF)


def test_nothing_quarantined(warehouse):
    assert query(warehouse, "select * from marts.fct_event_quarantine") == []
    assert scalar(warehouse, "select count(*) from marts.fct_rated_events") == 2350 + 5


def test_monthly_usage_per_aggregator(warehouse):
    got = query(
        warehouse,
        "select aggregator_id, sum(events), sum(units), sum(credits) from marts.fct_monthly_usage "
        "where customer_id = ? and period = '2026-03' group by aggregator_id order by 1",
        [SEED],
    )
    assert got == [
        ("nova_fast_tokens", 2000, Decimal("2000000"), Decimal("2000")),
        ("nova_pro_tokens", 300, Decimal("450000"), Decimal("1800")),
        ("nova_ultra_tokens", 50, Decimal("100000"), Decimal("1500")),
    ]
    # Exact decimals all the way: the column types are DECIMALs, not floats.
    types = dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'fct_monthly_usage'",
        )
    )
    assert types["credits"].startswith("DECIMAL(38,")
    assert types["units"].startswith("DECIMAL(38,")
    # Only March has usage.
    assert {
        p for (p,) in query(warehouse, "select distinct period from marts.fct_monthly_usage")
    } == {"2026-03"}


def test_ledger_totals(warehouse):
    got = dict(
        query(
            warehouse,
            "select entry_type, sum(credits) from marts.fct_credit_ledger "
            "where customer_id = ? group by entry_type",
            [SEED],
        )
    )
    assert got == {"grant": Decimal(10000), "usage": Decimal(-5300)}
    by_aggregator = dict(
        query(
            warehouse,
            "select aggregator_id, sum(credits) from marts.fct_credit_ledger "
            "where customer_id = ? and entry_type = 'usage' group by aggregator_id",
            [SEED],
        )
    )
    assert by_aggregator == {
        "nova_fast_tokens": Decimal(-2000),
        "nova_pro_tokens": Decimal(-1800),
        "nova_ultra_tokens": Decimal(-1500),
    }
    # Every usage row draws on the starting balance.
    assert query(
        warehouse,
        "select distinct grant_id from marts.fct_credit_ledger "
        "where customer_id = ? and entry_type = 'usage'",
        [SEED],
    ) == [(START_GRANT,)]
    # One usage row per aggregator × UTC day at most (no grant starts or ends mid-March).
    assert (
        scalar(
            warehouse,
            "select max(n) from (select count(*) as n from marts.fct_credit_ledger "
            "where customer_id = ? and entry_type = 'usage' "
            "group by aggregator_id, cast(entry_at as date))",
            [SEED],
        )
        == 1
    )


def test_current_balance(warehouse):
    assert query(
        warehouse,
        "select current_balance, plan_id, currency from marts.dim_customers where customer_id = ?",
        [SEED],
    ) == [(Decimal(4700), None, "USD")]


def test_starting_balance_grant(warehouse):
    got = query(
        warehouse,
        "select kind, credits, effective_at, expires_at, credits_consumed, credits_expired, "
        "credits_remaining from marts.fct_grants where grant_id = ?",
        [START_GRANT],
    )
    assert got == [
        (
            "starting_balance",
            Decimal(10000),
            dt.datetime(2026, 3, 1),
            None,
            Decimal(5300),
            Decimal(0),
            Decimal(4700),
        )
    ]


def test_daily_balances(warehouse):
    days = query(
        warehouse,
        "select balance_date, opening_credits, granted_credits, consumed_credits, "
        "expired_credits, closing_credits from marts.fct_balances_daily "
        "where customer_id = ? order by balance_date",
        [SEED],
    )
    assert days[0][:3] == (dt.date(2026, 3, 1), Decimal(0), Decimal(10000))
    assert days[-1][0] == dt.date(2026, 4, 1)
    assert days[-1][5] == Decimal(4700)
    assert sum(d[3] for d in days) == Decimal(5300)
    assert sum(d[4] for d in days) == Decimal(0)
    # Each day opens where the previous one closed.
    for previous, day in zip(days, days[1:], strict=False):
        assert day[1] == previous[5]
        assert day[5] == day[1] + day[2] - day[3] - day[4]


def test_promo_expires_at_the_exact_instant(warehouse):
    got = query(
        warehouse,
        "select kind, credits, expires_at, credits_consumed, credits_expired, credits_remaining "
        "from marts.fct_grants where grant_id = ?",
        [PROMO_GRANT],
    )
    assert got == [
        ("promotional", Decimal(500), PROMO_EXPIRES, Decimal(250), Decimal(250), Decimal(0))
    ]


def test_promo_ledger(warehouse):
    # Period-end entries (dated at 2026-04-01T00:00) are left out: the month's own movements.
    rows = query(
        warehouse,
        "select entry_at, entry_type, grant_id, aggregator_id, credits, balance_after "
        "from marts.fct_credit_ledger where customer_id = ? and entry_at < ? order by entry_seq",
        [PROMO, MONTH_END],
    )
    d = Decimal
    assert [row[1:] for row in rows] == [
        ("grant", PROMO_GRANT, None, d(500), d(500)),
        ("usage", PROMO_GRANT, "nova_ultra_tokens", d(-150), d(350)),
        ("usage", PROMO_GRANT, "nova_pro_tokens", d(-100), d(250)),
        # At 12:00 the expiry comes first; usage at that instant then finds no grant.
        ("expiry", PROMO_GRANT, None, d(-250), d(0)),
        # 12:00 and 18:00 nova-pro (20 + 20) share one row: same aggregator, grant and day.
        ("unfunded", None, "nova_pro_tokens", d(-40), d(-40)),
        ("unfunded", None, "nova_fast_tokens", d(-40), d(-80)),
    ]
    at = [row[0] for row in rows]
    assert at[0] == dt.datetime(2026, 3, 1)
    assert at[1].date() == dt.date(2026, 3, 10)
    assert at[2].date() == dt.date(2026, 3, 15) and at[2] < PROMO_EXPIRES
    assert at[3] == PROMO_EXPIRES  # expiry at the exact instant
    assert PROMO_EXPIRES <= at[4] < dt.datetime(2026, 3, 16)
    assert at[5].date() == dt.date(2026, 3, 20)
    assert at == sorted(at)
    assert (
        scalar(
            warehouse,
            "select count(*) from marts.fct_credit_ledger "
            "where customer_id = ? and entry_type = 'overage'",
            [PROMO],
        )
        == 0
    )


def test_promo_daily_balance_on_expiry_day(warehouse):
    got = query(
        warehouse,
        "select opening_credits, granted_credits, consumed_credits, expired_credits, "
        "closing_credits from marts.fct_balances_daily "
        "where customer_id = ? and balance_date = '2026-03-15'",
        [PROMO],
    )
    # Opens at 350, uses 100 (funded) + 40 (unfunded), 250 expire: 350 − 140 − 250 = −40.
    assert got == [(Decimal(350), Decimal(0), Decimal(140), Decimal(250), Decimal(-40))]
