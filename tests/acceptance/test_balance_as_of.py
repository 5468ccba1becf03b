"""The balance at any instant, from the ledger alone (`fct_balances_over_time`,
`fct_grant_balances_over_time`; docs/ledger.md "The balance at any instant").

Hand-worked, shipped catalog (nova-fast: 1 credit per 1,000 tokens), clock 2026-04-01,
cus_b (no plan):
- g1: starting balance 1,000 from 03-01 00:00, never expiring;
- g2: promotional 100 from 03-05 00:00, expiring 03-20, priority 10 (drawn first);
- usage 30 at 03-06 10:00 and 20 at 03-06 15:00 (both from g2), 200 at 03-10 12:00 (the
  50 left in g2, then 150 from g1).
The ledger books usage once per aggregator, grant and day, at the day's last debit:
  03-01 00:00  grant g1   +1,000  balance 1,000
  03-05 00:00  grant g2     +100  balance 1,100
  03-06 15:00  usage g2      −50  balance 1,050   (30 + 20)
  03-10 12:00  usage g2      −50  balance 1,000
  03-10 12:00  usage g1     −150  balance   850
g2 is empty when it expires on 03-20, so no expiry is booked. The balance at t counts
every entry at or before t, so:
  before 03-01 00:00: 0 (no row);  03-01 00:00 and 03-03 12:00: 1,000;
  03-05 00:00: 1,100;  03-06 12:00: 1,100, the ledger's reading, which counts the day's
  usage of g2 at 15:00 (event by event it would be 1,070);  03-06 15:00: 1,050;
  03-10 11:59:59: 1,050;  03-10 12:00: 850, after both entries of that instant;
  03-31 23:59:59 and 2027-01-01: 850.
Per grant: g1 1,000 from 03-01, 850 from 03-10 12:00; g2 no row before 03-05, 100 from
03-05, 50 from 03-06 15:00, 0 from 03-10 12:00.

On a generated warehouse, the balance just before each day's end is that day's
`fct_balances_daily.closing_credits`, for every customer and day, and each grant's last
amount is its `fct_grants.credits_remaining`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from helpers import build_warehouse, query, write_landing

from credits_warehouse.sample_data.generate import generate

AS_OF = "2026-04-01T00:00:00"

BALANCE_AT = """
select coalesce(max(balance), 0)
from marts.fct_balances_over_time
where customer_id = ? and valid_from <= ? and (valid_to is null or ? < valid_to)
"""

GRANTS_AT = """
select grant_id, credits_remaining
from marts.fct_grant_balances_over_time
where customer_id = ? and valid_from <= ? and (valid_to is null or ? < valid_to)
order by grant_id
"""


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _usage(event_id: str, timestamp: str, credits: int) -> dict:
    return {
        "event_id": event_id, "customer_id": "cus_b", "event_type": "llm_token_usage",
        "timestamp": timestamp,
        "properties": {"model": "nova-fast", "tokens": credits * 1000, "user_id": "u1"},
    }  # fmt: skip


def _grant(grant_id, kind, credits, effective, expires="", priority=""):
    return {
        "grant_id": grant_id, "customer_id": "cus_b", "kind": kind, "credits": credits,
        "effective_at": effective, "expires_at": expires, "priority": priority,
        "cost_basis_per_credit": "", "reason": "test", "created_by": "test",
    }  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("balance_as_of")
    landing = write_landing(
        root / "landing",
        customers=[
            {"customer_id": "cus_b", "name": "B", "currency": "USD", "country": "US",
             "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"},
        ],
        grants=[
            _grant("g1", "starting_balance", "1000", "2026-03-01T00:00:00Z"),
            _grant("g2", "promotional", "100", "2026-03-05T00:00:00Z", "2026-03-20T00:00:00Z", "10"),
        ],
        events_jsonl=[
            _usage("e1", "2026-03-06T10:00:00Z", 30),
            _usage("e2", "2026-03-06T15:00:00Z", 20),
            _usage("e3", "2026-03-10T12:00:00Z", 200),
        ],
    )  # fmt: skip
    return build_warehouse(root, landing, as_of=AS_OF)


@pytest.mark.parametrize(
    ("instant", "balance"),
    [
        ("2026-02-28T23:59:59", 0),  # before the first entry
        ("2026-03-01T00:00:00", 1000),  # at an entry's instant: it counts
        ("2026-03-03T12:00:00", 1000),  # between entries
        ("2026-03-05T00:00:00", 1100),
        ("2026-03-06T12:00:00", 1100),  # the day's usage of g2 is booked at 15:00
        ("2026-03-06T15:00:00", 1050),
        ("2026-03-10T11:59:59", 1050),
        ("2026-03-10T12:00:00", 850),  # after both entries of the instant
        ("2026-03-31T23:59:59", 850),
        ("2027-01-01T00:00:00", 850),  # after the last entry
    ],
)
def test_the_balance_at_an_instant(warehouse, instant, balance):
    at = _at(instant)
    assert query(warehouse, BALANCE_AT, ["cus_b", at, at]) == [(D(balance),)]


@pytest.mark.parametrize(
    ("instant", "grants"),
    [
        ("2026-02-28T23:59:59", []),
        ("2026-03-04T00:00:00", [("g1", 1000)]),  # g2 has not taken effect: no row
        ("2026-03-05T00:00:00", [("g1", 1000), ("g2", 100)]),
        ("2026-03-06T15:00:00", [("g1", 1000), ("g2", 50)]),
        ("2026-03-10T12:00:00", [("g1", 850), ("g2", 0)]),
        ("2026-03-25T00:00:00", [("g1", 850), ("g2", 0)]),  # empty at its expiry: nothing booked
    ],
)
def test_each_grants_remaining_credits_at_an_instant(warehouse, instant, grants):
    at = _at(instant)
    assert query(warehouse, GRANTS_AT, ["cus_b", at, at]) == [(g, D(c)) for g, c in grants]


def test_the_last_amounts_are_the_marts_at_the_clock(warehouse):
    clock = _at(AS_OF)
    assert query(warehouse, BALANCE_AT, ["cus_b", clock, clock]) == query(
        warehouse, "select current_balance from marts.dim_customers where customer_id = 'cus_b'"
    )
    assert query(warehouse, GRANTS_AT, ["cus_b", clock, clock]) == query(
        warehouse,
        "select grant_id, credits_remaining from marts.fct_grants where customer_id = 'cus_b' "
        "order by grant_id",
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("balance_as_of_generated")
    summary = generate(
        root / "gen", customers=8, events=3_000, start=dt.date(2026, 2, 1), months=2, seed=5
    )
    return build_warehouse(root, summary.landing, catalog_path=summary.catalog, as_of=AS_OF)


def test_the_balance_before_each_days_end_is_its_daily_closing_balance(generated):
    """Every customer and day of fct_balances_daily: the balance at the day's last instant
    (a microsecond before midnight; an entry at midnight belongs to the next day)."""
    compared, differing = query(
        generated,
        """
        select count(*), count(*) filter (where coalesce(over_time.balance, 0) <> daily.closing_credits)
        from marts.fct_balances_daily as daily
        left join marts.fct_balances_over_time as over_time
            on
                over_time.customer_id = daily.customer_id
                and over_time.valid_from <= daily.balance_date + interval 1 day - interval 1 microsecond
                and (over_time.valid_to is null
                     or daily.balance_date + interval 1 day - interval 1 microsecond < over_time.valid_to)
        """,
    )[0]
    assert compared > 8 * 50 and differing == 0


def test_each_grants_last_amount_is_its_remaining_credits(generated):
    compared, differing = query(
        generated,
        """
        select count(*), count(*) filter (where over_time.credits_remaining <> grants.credits_remaining)
        from marts.fct_grants as grants
        inner join marts.fct_grant_balances_over_time as over_time
            on over_time.grant_id = grants.grant_id and over_time.valid_to is null
        """,
    )[0]
    in_effect = query(
        generated,
        "select count(*) from marts.fct_grants where status <> 'scheduled' and credits > 0",
    )[0][0]
    assert compared == in_effect > 8 and differing == 0
