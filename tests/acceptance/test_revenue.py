"""Revenue per grant with cumulative rounding (contract §5), on worked examples, in one build.

Test catalog: the shipped catalog plus `pack_3`, 3 credits for $1 (100 cents), so a credit
is worth 33⅓ cents and no per-period figure is exact. nova-fast costs 1 credit per 1,000
tokens.

Hand-worked numbers:
- cus_atlas (seed 003): buys pack_10k, 10,000 credits for $100 (10,000 cents), never
  expiring within the range (365 days). Uses 2,000 credits in January, 3,000 in
  February. Recognized: January 2,000 × 1¢ = $20; February 3,000 × 1¢ = $30. Still
  deferred at the end of February and March: $50.
- cus_third: buys pack_3 (3 credits, 100¢) on 2026-01-01 and uses 1 credit in each of
  January, February and March. Recognized to date: round(100/3) = 33, round(200/3) = 67,
  round(300/3) = 100, so the periods take 33, 34 and 33: exactly 100 in all, 0 deferred.
- cus_breakage: a paid starting balance of 1,000 credits at a cost basis of 5 (minor units
  per credit, like every cost basis: $50 in all) expiring 2026-02-01, of which 400 are used
  in January. Recognized 400 × 5¢ = $20; at expiry the 600 left are breakage: $30 in
  February. 0 deferred.
- cus_refund: buys pack_10k ($100) on 2026-01-01, uses 2,500 credits in January and is
  refunded on 2026-02-10. Recognized $25 in January; refunded $75 in February (the
  unconsumed share); nothing deferred after.
"""

import pytest
import yaml
from helpers import CATALOG_PATH, build_warehouse, fast_event, query, write_landing

AS_OF = "2026-04-01T00:00:00"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("revenue")
    catalog = yaml.safe_load(CATALOG_PATH.read_text())
    catalog["bundles"].append(
        {
            "id": "pack_3",
            "credits": 3,
            "bonus_credits": 0,
            "prices": {"USD": 100},
            "expires_after_days": None,
            "priority": 50,
        }
    )
    catalog_path = root / "catalog.yml"
    catalog_path.write_text(yaml.safe_dump(catalog))
    customers = [
        {
            "customer_id": c,
            "name": c,
            "currency": "USD",
            "country": "US",
            "tax_rate": "0",
            "created_at": "2025-12-01T00:00:00Z",
        }
        for c in ("cus_atlas", "cus_third", "cus_breakage", "cus_refund")
    ]
    purchases = [
        {"purchase_id": "p_atlas", "customer_id": "cus_atlas", "bundle_id": "pack_10k", "quantity": 1,
         "purchased_at": "2026-01-01T00:00:00Z", "amount_paid": 10000, "currency": "USD", "status": "succeeded"},
        {"purchase_id": "p_third", "customer_id": "cus_third", "bundle_id": "pack_3", "quantity": 1,
         "purchased_at": "2026-01-01T00:00:00Z", "amount_paid": 100, "currency": "USD", "status": "succeeded"},
        {"purchase_id": "p_refund", "customer_id": "cus_refund", "bundle_id": "pack_10k", "quantity": 1,
         "purchased_at": "2026-01-01T00:00:00Z", "amount_paid": 10000, "currency": "USD", "status": "refunded"},
    ]  # fmt: skip
    grants = [
        {"grant_id": "g_breakage", "customer_id": "cus_breakage", "kind": "starting_balance", "credits": "1000",
         "effective_at": "2026-01-01T00:00:00Z", "expires_at": "2026-02-01T00:00:00Z", "priority": "",
         "cost_basis_per_credit": "5", "reason": "migration", "created_by": "finance"},
    ]  # fmt: skip
    refunds = [
        {
            "refund_id": "r1",
            "purchase_id": "p_refund",
            "refunded_at": "2026-02-10T00:00:00Z",
            "reason": "asked",
        }
    ]
    events = [
        fast_event("a1", "cus_atlas", "2026-01-15T00:00:00Z", 2000, user_id="u1"),
        fast_event("a2", "cus_atlas", "2026-02-15T00:00:00Z", 3000, user_id="u1"),
        fast_event("t1", "cus_third", "2026-01-15T00:00:00Z", 1, user_id="u1"),
        fast_event("t2", "cus_third", "2026-02-15T00:00:00Z", 1, user_id="u1"),
        fast_event("t3", "cus_third", "2026-03-15T00:00:00Z", 1, user_id="u1"),
        fast_event("b1", "cus_breakage", "2026-01-15T00:00:00Z", 400, user_id="u1"),
        fast_event("r1", "cus_refund", "2026-01-15T00:00:00Z", 2500, user_id="u1"),
    ]
    landing = write_landing(
        root / "landing",
        customers=customers,
        purchases=purchases,
        grants=grants,
        refunds=refunds,
        events_jsonl=events,
    )
    return build_warehouse(root, landing, catalog_path=catalog_path, as_of=AS_OF)


def _roll(warehouse, customer_id):
    return {
        row[0]: row[1:]
        for row in query(
            warehouse,
            "select period, opening_deferred, purchased, recognized_usage, recognized_breakage, refunded, "
            "closing_deferred from marts.fct_deferred_revenue where customer_id = ? order by period",
            [customer_id],
        )
    }


def test_seed_003_recognizes_20_then_30_with_50_deferred(warehouse):
    roll = _roll(warehouse, "cus_atlas")
    #                   opening purchased recognized breakage refunded closing
    assert roll["2026-01"] == (0, 10000, 2000, 0, 0, 8000)
    assert roll["2026-02"] == (8000, 0, 3000, 0, 0, 5000)
    assert roll["2026-03"] == (5000, 0, 0, 0, 0, 5000)


def test_a_third_of_a_cent_per_credit_recognizes_exactly_100_cents(warehouse):
    roll = _roll(warehouse, "cus_third")
    assert [roll[p][2] for p in ("2026-01", "2026-02", "2026-03")] == [33, 34, 33]
    assert sum(r[2] for r in roll.values()) == 100
    assert roll["2026-03"][5] == 0


def test_breakage_is_what_a_paid_grant_leaves_at_expiry(warehouse):
    roll = _roll(warehouse, "cus_breakage")
    assert roll["2026-01"] == (0, 5000, 2000, 0, 0, 3000)
    assert roll["2026-02"] == (3000, 0, 0, 3000, 0, 0)


def test_a_refund_reverses_the_unconsumed_share(warehouse):
    roll = _roll(warehouse, "cus_refund")
    assert roll["2026-01"] == (0, 10000, 2500, 0, 0, 7500)
    assert roll["2026-02"] == (7500, 0, 0, 0, 7500, 0)


def test_sql_rounding_agrees_with_python(warehouse):
    from decimal import Decimal

    from credits_warehouse.money import money_share, round_half_even

    assert [round_half_even(Decimal(x)) for x in ("0.5", "1.5", "2.5", "-0.5")] == [0, 2, 2, 0]
    rows = query(
        warehouse,
        "select amount_paid, consumed_to_date, total_credits, recognized_to_date "
        "from intermediate.int_revenue_by_grant_period",
    )
    assert rows
    for amount, consumed, total, recognized in rows:
        assert money_share(amount, consumed, total) == recognized
