"""The reference ledger (tests/reference/ledger.py) on worked examples, and its invariants.

Each example is the smallest scenario that shows one rule of docs/ledger.md, with the
numbers worked out by hand in comments. These run against the reference only (no dbt), so
they are fast; tests/ledger/test_warehouse_matches_reference.py then holds the warehouse to
the same reference on random customers.

Each example's inputs are built by a module-level `example_<name>()` function, registered
in `EXAMPLES` with the clock it runs at, so that tests/ledger/test_examples_in_warehouse.py
can put every example into one landing directory and one dbt build per clock and hold the
warehouse to the same numbers. For that, customer ids are unique across examples, and
every other id (grant, purchase, event, refund) starts with its example's customer id.

Test catalog (tests/reference/catalog.yml): credits = tokens / 1,000 × weight, with weights
fast 1, pro 4, ultra 15 (20 before 2026-02-01); a request flagged `priority: high` costs
2.5 more. Plans: free 500 (overage none), pro 10,000 (overage bill), rollover_pro 1,000
(bill, rollover ≤ 300 for one period), trial 200 (expires after 20 days). Bundles: pack_1k
1,000 + 100 bonus (30 days), pack_5k 5,000 + 500 (never), topup_small 300 (90 days,
priority 40, USD 333). Scoped (contract §8.1): fast_pack 200 for fast tokens only (30 days,
priority 30, USD 150), ultra_topup 100 for ultra tokens and priority requests, and the
fast_plan, 300 a month for fast tokens only (bill, rollover ≤ 100).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from reference.ledger import Result, cost_basis_per_credit, is_period_start, reference_ledger
from reference.scenario import (
    TEST_CATALOG_PATH,
    AutoTopup,
    Customer,
    Event,
    FeedGrant,
    GrantAmendment,
    Purchase,
    Refund,
    Scenario,
    Subscription,
    Void,
)
from reference.strategies import AS_OF, customer_scenario

from credits_warehouse.catalog import load_catalog

CATALOG = load_catalog(TEST_CATALOG_PATH)
D = Decimal


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def tokens(event_id: str, customer_id: str, when: str, model: str, count: int, **extra) -> Event:
    return Event(
        event_id,
        customer_id,
        "llm_token_usage",
        at(when),
        {"model": model, "tokens": count, "user_id": "u1", **extra},
    )


def run(scenario: Scenario, as_of: dt.datetime = AS_OF) -> Result:
    return reference_ledger(scenario, CATALOG, as_of)


def totals(result: Result, customer_id: str) -> dict[str, Decimal]:
    return result.customer_totals(customer_id)


def entries(result: Result, customer_id: str, *types: str) -> list[tuple]:
    """(entry_at, entry_type, grant_id, credits) of one customer, in application order."""
    return [
        (e.entry_at, e.entry_type, e.grant_id, e.credits)
        for e in result.entries
        if e.customer_id == customer_id and (not types or e.entry_type in types)
    ]


def grant(result: Result, grant_id: str) -> dict:
    return result.grants[grant_id]


# --------------------------------------------------------------------------------------
# Worked examples: inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One worked example: its inputs and the clock it is read at."""

    name: str
    build: Callable[[], Scenario]
    as_of: dt.datetime = AS_OF

    @property
    def customer_id(self) -> str:
        return customer_of(self.build())


EXAMPLES: dict[str, Example] = {}


def example(as_of: dt.datetime = AS_OF) -> Callable[[Callable[[], Scenario]], Callable]:
    """Register `example_<name>()` in `EXAMPLES` as `<name>`, read at `as_of`."""

    def register(build: Callable[[], Scenario]) -> Callable[[], Scenario]:
        name = build.__name__.removeprefix("example_")
        assert name not in EXAMPLES, name
        EXAMPLES[name] = Example(name, build, as_of)
        return build

    return register


def customer_of(scenario: Scenario) -> str:
    """The one customer of an example."""
    (customer,) = scenario.customers
    return customer.customer_id


@example()
def example_seed_000_month() -> Scenario:
    # Seed 000 (Hyperline): a 10,000-credit starting balance from 03-01, then March usage
    # from 2,000 fast, 300 pro and 50 ultra calls.
    cid = "cus_seed"
    events = []
    for model, calls, per_call, first, gap in [
        ("nova-fast", 2000, 1000, at("2026-03-01T00:05"), dt.timedelta(minutes=20)),
        ("nova-pro", 300, 1500, at("2026-03-02T00:07"), dt.timedelta(hours=2)),
        ("nova-ultra", 50, 2000, at("2026-03-03T00:11"), dt.timedelta(hours=12)),
    ]:
        for i in range(calls):
            events.append(
                Event(
                    f"{cid}-{model}-{i:05d}",
                    cid,
                    "llm_token_usage",
                    first + i * gap,
                    {"model": model, "tokens": per_call},
                )
            )
    return Scenario(
        customers=[Customer(cid)],
        grants=[FeedGrant(f"{cid}-g-start", cid, "starting_balance", D(10_000), at("2026-03-01"))],
        events=events,
    )


@example()
def example_seed_001_upgrade_overage() -> Scenario:
    # Seed 001 (Autumn): free from 03-01, upgrade to pro at 03-10 12:00, usage on both.
    cid = "cus_autumn"
    change = at("2026-03-10T12:00")
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[
            Subscription(cid, "free", at("2026-03-01"), change),
            Subscription(cid, "pro", change),
        ],
        events=[
            tokens(f"{cid}-a1", cid, "2026-03-02T10:00", "nova-fast", 200_000),
            tokens(f"{cid}-a2", cid, "2026-03-03T10:00", "nova-ultra", 20_000),
            tokens(f"{cid}-a3", cid, "2026-03-15T09:00", "nova-fast", 7_000_000),
            tokens(f"{cid}-a4", cid, "2026-03-16T09:00", "nova-pro", 2_500_000),
            tokens(f"{cid}-a5", cid, "2026-03-17T09:00", "nova-ultra", 200_000),
        ],
    )


@example()
def example_free_unfunded_then_upgrade_repays() -> Scenario:
    # As seed 001, with 30 more credits used on free before the upgrade.
    cid = "cus_free_over"
    change = at("2026-03-10T12:00")
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[
            Subscription(cid, "free", at("2026-03-01"), change),
            Subscription(cid, "pro", change),
        ],
        events=[
            tokens(f"{cid}-f1", cid, "2026-03-02T10:00", "nova-fast", 200_000),
            tokens(f"{cid}-f2", cid, "2026-03-03T10:00", "nova-ultra", 20_000),
            tokens(f"{cid}-f3", cid, "2026-03-05T10:00", "nova-fast", 30_000),
        ],
    )


@example()
def example_plan_change_expires_old_allowance() -> Scenario:
    # free from 03-01, pro from 03-10 12:00 to 03-20; 400 used on free.
    cid = "cus_change"
    change = at("2026-03-10T12:00")
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[
            Subscription(cid, "free", at("2026-03-01"), change),
            Subscription(cid, "pro", change, at("2026-03-20")),
        ],
        events=[tokens(f"{cid}-c1", cid, "2026-03-02T10:00", "nova-fast", 400_000)],
    )


@example()
def example_priority_beats_expiry() -> Scenario:
    # g-p10: 100 credits, priority 10, expires 03-31; g-p50: 100, priority 50, expires 03-10.
    cid = "cus_priority"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-g-p10", cid, "promotional", D(100), at("2026-03-01"), at("2026-03-31"), 10
            ),
            FeedGrant(
                f"{cid}-g-p50", cid, "promotional", D(100), at("2026-03-01"), at("2026-03-10"), 50
            ),
        ],
        events=[tokens(f"{cid}-p1", cid, "2026-03-05T00:00", "nova-fast", 150_000)],
    )


@example()
def example_consumption_order_tie_breaks() -> Scenario:
    # Five priority-50 grants that differ in expiry, cost basis or effective_at only.
    # (Every grant_id has the same prefix, so the grant_id tie-break is unchanged.)
    cid = "cus_ties"
    end = at("2026-03-31")
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-dear", cid, "compensation", D(10), at("2026-03-01"), end, None, D("0.5")
            ),
            FeedGrant(
                f"{cid}-late", cid, "compensation", D(10), at("2026-03-02"), end, None, D("0.2")
            ),
            FeedGrant(
                f"{cid}-early", cid, "compensation", D(10), at("2026-03-01"), end, None, D("0.2")
            ),
            FeedGrant(f"{cid}-cheap", cid, "compensation", D(10), at("2026-03-01"), end),
            FeedGrant(
                f"{cid}-soon", cid, "compensation", D(10), at("2026-03-01"), at("2026-03-20")
            ),
        ],
        events=[
            tokens(f"{cid}-t1", cid, "2026-03-05T00:00", "nova-fast", 15_000),
            tokens(f"{cid}-t2", cid, "2026-03-25T00:00", "nova-fast", 20_000),
        ],
    )


@example()
def example_promo_expires_mid_month() -> Scenario:
    # promo 500 (expires 03-15 12:00) and a starting balance 1,000 (never), both from 03-01.
    cid = "cus_promo"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-promo", cid, "promotional", D(500), at("2026-03-01"), at("2026-03-15T12:00")
            ),
            FeedGrant(f"{cid}-start", cid, "starting_balance", D(1_000), at("2026-03-01")),
        ],
        events=[
            tokens(f"{cid}-m1", cid, "2026-03-10T09:00", "nova-ultra", 10_000),
            tokens(f"{cid}-m2", cid, "2026-03-15T06:00", "nova-pro", 25_000),
            tokens(f"{cid}-m3", cid, "2026-03-15T12:00", "nova-pro", 5_000),
            tokens(f"{cid}-m4", cid, "2026-03-20T00:00", "nova-fast", 40_000),
        ],
    )


@example()
def example_overage_repaid_oldest_first() -> Scenario:
    # rollover_pro from 03-01, 1,350 used, then a compensation and a pack_1k repay it.
    cid = "cus_repay"
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[Subscription(cid, "rollover_pro", at("2026-03-01"))],
        purchases=[
            Purchase(f"{cid}-buy1", cid, "pack_1k", 1, at("2026-03-08"), 1000, "USD", "succeeded")
        ],
        grants=[FeedGrant(f"{cid}-comp", cid, "compensation", D(100), at("2026-03-07"))],
        events=[
            tokens(f"{cid}-r1", cid, "2026-03-05T00:00", "nova-fast", 1_200_000),
            tokens(f"{cid}-r2", cid, "2026-03-06T00:00", "nova-ultra", 10_000),
        ],
    )


@example()
def example_auto_top_up_cap() -> Scenario:
    # No plan; starting balance 100; auto top-up below 200 with topup_small, ≤ 2 a period.
    cid = "cus_topup"
    return Scenario(
        customers=[Customer(cid)],
        grants=[FeedGrant(f"{cid}-start", cid, "starting_balance", D(100), at("2026-03-01"))],
        auto_topups=[AutoTopup(cid, D(200), "topup_small", 2, at("2026-01-01"))],
        events=[
            tokens(f"{cid}-u1", cid, "2026-03-02T10:00", "nova-ultra", 20_000),
            tokens(f"{cid}-u2", cid, "2026-03-03T10:00", "nova-fast", 100_000),
            tokens(f"{cid}-u3", cid, "2026-03-04T10:00", "nova-ultra", 20_000),
            tokens(f"{cid}-u4", cid, "2026-03-05T10:00", "nova-fast", 40_000),
            tokens(f"{cid}-u5", cid, "2026-04-01T00:00", "nova-fast", 10_000),
        ],
    )


@example()
def example_rollover() -> Scenario:
    # rollover_pro from 02-01; 100 used on 03-10.
    cid = "cus_roll"
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[Subscription(cid, "rollover_pro", at("2026-02-01"))],
        events=[tokens(f"{cid}-o1", cid, "2026-03-10T00:00", "nova-fast", 100_000)],
    )


@example()
def example_void_after_expiry() -> Scenario:
    # promo 100, 03-01 → 03-10; 60 used on 03-05; that event voided on 03-12.
    cid = "cus_void_expired"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-promo", cid, "promotional", D(100), at("2026-03-01"), at("2026-03-10")
            )
        ],
        events=[tokens(f"{cid}-v1", cid, "2026-03-05T00:00", "nova-fast", 60_000)],
        voids=[Void(f"{cid}-v1", at("2026-03-12"))],
    )


@example()
def example_void_reverses_only_what_is_owed() -> Scenario:
    # No plan; starting balance 100; two 150-credit events, both voided, one after a
    # compensation repaid part of its shortfall.
    cid = "cus_void"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(f"{cid}-start", cid, "starting_balance", D(100), at("2026-03-01")),
            FeedGrant(f"{cid}-comp", cid, "compensation", D(30), at("2026-03-05")),
        ],
        events=[
            tokens(f"{cid}-e1", cid, "2026-03-02T00:00", "nova-fast", 150_000),
            tokens(f"{cid}-e2", cid, "2026-03-04T00:00", "nova-fast", 150_000),
        ],
        voids=[Void(f"{cid}-e1", at("2026-03-03")), Void(f"{cid}-e2", at("2026-03-06"))],
    )


@example()
def example_refund() -> Scenario:
    # pack_1k bought 03-01 and refunded 03-05; a failed pack_5k; usage and a void around.
    cid = "cus_refund"
    return Scenario(
        customers=[Customer(cid)],
        purchases=[
            Purchase(f"{cid}-buy", cid, "pack_1k", 1, at("2026-03-01"), 1000, "USD", "refunded"),
            Purchase(f"{cid}-nope", cid, "pack_5k", 1, at("2026-03-01"), 4500, "USD", "failed"),
        ],
        refunds=[Refund(f"{cid}-rf1", f"{cid}-buy", at("2026-03-05"))],
        voids=[Void(f"{cid}-b1", at("2026-03-07"))],
        events=[
            tokens(f"{cid}-b1", cid, "2026-03-02T00:00", "nova-fast", 300_000),
            tokens(f"{cid}-b2", cid, "2026-03-06T00:00", "nova-fast", 10_000),
        ],
    )


@example()
def example_negative_adjustment() -> Scenario:
    # starting balance 100, adjustment −150, compensation 80; top-up enabled at 1,000.
    cid = "cus_adjust"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(f"{cid}-start", cid, "starting_balance", D(100), at("2026-03-01")),
            FeedGrant(f"{cid}-adj", cid, "adjustment", D(-150), at("2026-03-03")),
            FeedGrant(f"{cid}-comp", cid, "compensation", D(80), at("2026-03-04")),
        ],
        auto_topups=[AutoTopup(cid, D(1_000), "topup_small", None, at("2026-01-01"))],
    )


@example()
def example_same_instant_order() -> Scenario:
    # No plan. promo P 02-01 → 03-01 00:00, compensation G from 03-01 00:00, usage and
    # voids around and at that instant.
    cid = "cus_instant"
    instant = at("2026-03-01")
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(f"{cid}-P", cid, "promotional", D(100), at("2026-02-01"), instant),
            FeedGrant(f"{cid}-G", cid, "compensation", D(50), instant),
        ],
        events=[
            tokens(f"{cid}-e1", cid, "2026-02-10T00:00", "nova-fast", 100_000),
            tokens(f"{cid}-e2", cid, "2026-02-11T00:00", "nova-fast", 30_000),
            tokens(f"{cid}-e3", cid, "2026-02-12T00:00", "nova-fast", 10_000),
            tokens(f"{cid}-e4", cid, "2026-03-01T00:00", "nova-fast", 70_000),
        ],
        voids=[Void(f"{cid}-e1", at("2026-02-13")), Void(f"{cid}-e3", instant)],
    )


@example()
def example_rating() -> Scenario:
    # ultra across its weight change, a priority request, an unbillable api_request.
    cid = "cus_rate"
    return Scenario(
        customers=[Customer(cid)],
        grants=[FeedGrant(f"{cid}-start", cid, "starting_balance", D(1_000), at("2026-01-01"))],
        events=[
            tokens(f"{cid}-q1", cid, "2026-01-31T23:00", "nova-ultra", 1_000),
            tokens(f"{cid}-q2", cid, "2026-02-01T00:00", "nova-ultra", 1_000, priority="high"),
            Event(f"{cid}-q3", cid, "api_request", at("2026-02-02"), {"model": "nova-fast"}),
            tokens(f"{cid}-q4", cid, "2026-02-03T00:00", "nova-fast", 1),
        ],
    )


@example()
def example_trial_allowance() -> Scenario:
    # trial from 02-10 to 03-15.
    cid = "cus_trial"
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[Subscription(cid, "trial", at("2026-02-10"), at("2026-03-15"))],
    )


@example()
def example_scoped_promo_untouched_by_other_usage() -> Scenario:
    # A 100-credit promo for fast tokens only (priority 10, to 03-31) and a 200-credit
    # starting balance for everything; ultra and fast usage interleaved.
    cid = "cus_scope_fast"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-promo",
                cid,
                "promotional",
                D(100),
                at("2026-03-01"),
                at("2026-03-31"),
                10,
                applies_to="fast_tokens",
            ),
            FeedGrant(f"{cid}-start", cid, "starting_balance", D(200), at("2026-03-01")),
        ],
        events=[
            tokens(f"{cid}-s1", cid, "2026-03-02T00:00", "nova-ultra", 10_000),
            tokens(f"{cid}-s2", cid, "2026-03-03T00:00", "nova-fast", 60_000),
            tokens(f"{cid}-s3", cid, "2026-03-04T00:00", "nova-ultra", 4_000),
            tokens(f"{cid}-s4", cid, "2026-03-05T00:00", "nova-fast", 30_000),
        ],
    )


@example()
def example_overlapping_scoped_grants() -> Scenario:
    # Three scoped grants from 03-01 that overlap on some aggregators: A fast+pro (priority
    # 20), B the whole ai_credits product (30), C ultra + priority requests (10).
    cid = "cus_scope_overlap"
    start = at("2026-03-01")
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-a",
                cid,
                "promotional",
                D(100),
                start,
                None,
                20,
                applies_to="pro_tokens|fast_tokens",
            ),
            FeedGrant(
                f"{cid}-b", cid, "promotional", D(100), start, None, 30, applies_to="ai_credits"
            ),
            FeedGrant(
                f"{cid}-c",
                cid,
                "promotional",
                D(50),
                start,
                None,
                10,
                applies_to="ultra_tokens | priority_requests",
            ),
        ],
        events=[
            tokens(f"{cid}-o1", cid, "2026-03-02T00:00", "nova-fast", 80_000),
            tokens(f"{cid}-o2", cid, "2026-03-03T00:00", "nova-ultra", 4_000, priority="high"),
            tokens(f"{cid}-o3", cid, "2026-03-04T00:00", "nova-pro", 10_000),
            tokens(f"{cid}-o4", cid, "2026-03-05T00:00", "nova-fast", 100_000),
        ],
    )


@example()
def example_scoped_grant_expires_unused() -> Scenario:
    # fast_pack (200 fast-only credits for 150 cents, 30 days, priority 30) and pack_5k
    # (5,500 credits for 4,500 cents, never expires, priority 60), both bought 03-01; only
    # ultra and pro usage until the fast pack has expired.
    cid = "cus_scope_breakage"
    return Scenario(
        customers=[Customer(cid)],
        purchases=[
            Purchase(f"{cid}-fast", cid, "fast_pack", 1, at("2026-03-01"), 150, "USD", "succeeded"),
            Purchase(f"{cid}-big", cid, "pack_5k", 1, at("2026-03-01"), 4500, "USD", "succeeded"),
        ],
        events=[
            tokens(f"{cid}-k1", cid, "2026-03-10T00:00", "nova-ultra", 10_000),
            tokens(f"{cid}-k2", cid, "2026-03-20T00:00", "nova-pro", 50_000),
            tokens(f"{cid}-k3", cid, "2026-03-31T12:00", "nova-fast", 10_000),
        ],
    )


@example()
def example_scoped_grant_repays_only_what_it_applies_to() -> Scenario:
    # fast_plan from 03-01 (300 fast-only credits, overage bill), overage on ultra and on
    # fast, then a fast_pack and an unscoped compensation take effect.
    cid = "cus_scope_repay"
    return Scenario(
        customers=[Customer(cid)],
        subscriptions=[Subscription(cid, "fast_plan", at("2026-03-01"))],
        purchases=[
            Purchase(f"{cid}-fast", cid, "fast_pack", 1, at("2026-03-04"), 150, "USD", "succeeded")
        ],
        grants=[FeedGrant(f"{cid}-comp", cid, "compensation", D(100), at("2026-03-05"))],
        events=[
            tokens(f"{cid}-y1", cid, "2026-03-02T00:00", "nova-ultra", 10_000),
            tokens(f"{cid}-y2", cid, "2026-03-03T00:00", "nova-fast", 400_000),
            tokens(f"{cid}-y3", cid, "2026-03-06T00:00", "nova-ultra", 2_000),
        ],
    )


@example()
def example_grant_void_of_a_half_used_bundle() -> Scenario:
    # pack_5k bought 03-01 for 4,500 (5,500 credits); half used by 03-05; voided 03-10.
    cid = "cus_gvoid"
    return Scenario(
        customers=[Customer(cid)],
        purchases=[
            Purchase(f"{cid}-buy", cid, "pack_5k", 1, at("2026-03-01"), 4500, "USD", "succeeded")
        ],
        grant_amendments=[
            GrantAmendment(f"{cid}-m1", f"purchase:{cid}-buy", "void", at("2026-03-10")),
            GrantAmendment(
                f"{cid}-m2",
                f"purchase:{cid}-buy",
                "set_expiry",
                at("2026-03-11"),
                at("2026-03-20"),
            ),
        ],  # fmt: skip
        events=[
            tokens(f"{cid}-u1", cid, "2026-03-05T00:00", "nova-fast", 2_750_000),
            tokens(f"{cid}-u2", cid, "2026-03-12T00:00", "nova-fast", 10_000),
        ],
    )


@example()
def example_grant_void_before_it_takes_effect() -> Scenario:
    # A starting balance 1,000 from 03-01; a promotion of 500 scheduled for 03-20, voided on
    # 03-10, before it takes effect; an amendment naming no grant.
    cid = "cus_gvoid_early"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(f"{cid}-start", cid, "starting_balance", D(1_000), at("2026-03-01")),
            FeedGrant(f"{cid}-promo", cid, "promotional", D(500), at("2026-03-20")),
        ],
        grant_amendments=[
            GrantAmendment(f"{cid}-m1", f"{cid}-promo", "void", at("2026-03-10")),
            GrantAmendment(f"{cid}-m2", f"{cid}-nope", "void", at("2026-03-10")),
        ],
        events=[tokens(f"{cid}-u1", cid, "2026-03-25T00:00", "nova-fast", 100_000)],
    )


@example()
def example_grant_expiry_brought_forward() -> Scenario:
    # pack_1k bought 03-01 for 1,000 (1,100 credits, expires 03-31); on 03-10 its expiry is
    # brought forward to 03-15.
    cid = "cus_gexp_early"
    buy = f"purchase:{cid}-buy"
    return Scenario(
        customers=[Customer(cid)],
        purchases=[
            Purchase(f"{cid}-buy", cid, "pack_1k", 1, at("2026-03-01"), 1000, "USD", "succeeded")
        ],
        grant_amendments=[
            GrantAmendment(f"{cid}-m1", buy, "set_expiry", at("2026-03-10"), at("2026-03-15"))
        ],
        events=[
            tokens(f"{cid}-u1", cid, "2026-03-05T00:00", "nova-fast", 330_000),
            tokens(f"{cid}-u2", cid, "2026-03-12T00:00", "nova-fast", 220_000),
            tokens(f"{cid}-u3", cid, "2026-03-20T00:00", "nova-fast", 100_000),
        ],
    )


@example()
def example_grant_expiry_pushed_back() -> Scenario:
    # A promotion of 300 from 03-01 to 03-10; on 03-05 its expiry is pushed back to 03-25.
    cid = "cus_gexp_late"
    return Scenario(
        customers=[Customer(cid)],
        grants=[
            FeedGrant(
                f"{cid}-promo", cid, "promotional", D(300), at("2026-03-01"), at("2026-03-10")
            )
        ],
        grant_amendments=[
            GrantAmendment(
                f"{cid}-m1", f"{cid}-promo", "set_expiry", at("2026-03-05"), at("2026-03-25")
            )
        ],
        events=[tokens(f"{cid}-u1", cid, "2026-03-15T00:00", "nova-fast", 100_000)],
    )


def test_example_ids_are_unique_across_examples():
    """What lets every example share one landing: no customer, grant, purchase, event or
    refund id in two examples (a later grants row with the same grant_id would replace an
    earlier one, a repeated event_id would be a duplicate), and no generated grant_id
    either."""
    seen: dict[tuple[str, str], str] = {}
    for name, ex in EXAMPLES.items():
        scenario = ex.build()
        result = run(scenario, ex.as_of)
        ids = (
            [("customer", c.customer_id) for c in scenario.customers]
            + [("grant", g.grant_id) for g in scenario.grants]
            + [("grant", g) for g in result.grants]
            + [("purchase", p.purchase_id) for p in scenario.purchases]
            + [("event", e.event_id) for e in scenario.events]
            + [("refund", r.refund_id) for r in scenario.refunds]
            + [("amendment", a.amendment_id) for a in scenario.grant_amendments]
        )
        for key in set(ids):
            assert key not in seen, f"{key} in both {seen[key]} and {name}"
            seen[key] = name
        assert len(scenario.customers) == 1, name
        (cid,) = (c.customer_id for c in scenario.customers)
        for kind, value in ids:
            if kind != "customer":
                assert cid in value, (name, kind, value)


# --------------------------------------------------------------------------------------
# Worked examples: the hand-worked numbers, on the reference
# --------------------------------------------------------------------------------------


def test_seed_000_month_starting_balance_minus_usage():
    # Seed 000 (Hyperline): a 10,000-credit starting balance, no expiry, then March usage
    #   2,000 fast  calls × 1,000 tokens = 2,000,000 tokens → 2,000 × 1  = 2,000 credits
    #     300 pro   calls × 1,500 tokens =   450,000 tokens →   450 × 4  = 1,800 credits
    #      50 ultra calls × 2,000 tokens =   100,000 tokens →   100 × 15 = 1,500 credits
    #                                                                     5,300 used
    # balance 10,000 − 5,300 = 4,700; nothing owed, so the period end books nothing.
    scenario = example_seed_000_month()
    cid = customer_of(scenario)
    result = run(scenario)

    assert totals(result, cid) == {"grant": D(10_000), "usage": D(-5_300)}
    assert result.balances[cid] == D(4_700)
    by_aggregator: dict[str, Decimal] = {}
    for e in result.entries:
        by_aggregator[e.aggregator_id] = by_aggregator.get(e.aggregator_id, D(0)) + e.credits
    assert by_aggregator == {
        None: D(10_000),
        "fast_tokens": D(-2_000),
        "pro_tokens": D(-1_800),
        "ultra_tokens": D(-1_500),
    }
    g = grant(result, f"{cid}-g-start")
    assert (g["credits_consumed"], g["credits_remaining"]) == (D(5_300), D(4_700))


def test_seed_001_free_to_pro_upgrade_goes_into_overage_then_settles():
    # Seed 001 (Autumn): free (500 credits, overage none) from 03-01, upgrade to pro at
    # 03-10 12:00. 1 credit here = 1 cent there.
    #   03-02 fast  200,000 tokens → 200   free allowance 500 → 300
    #   03-03 ultra  20,000 tokens → 300   (× 15)             → 0: the 500 are used up
    #   03-10 12:00 upgrade: the free allowance expires at the change with 0 left (no
    #               entry); pro's 10,000 allowance is granted (expires 04-01)
    #   03-15 fast  7,000,000 tokens → 7,000    allowance → 3,000
    #   03-16 pro   2,500,000 tokens → 10,000   3,000 from it, 7,000 overage (pro: bill)
    #   03-17 ultra   200,000 tokens → 3,000    overage
    #   20,000 used on pro: balance 10,000 − 20,000 = −10,000, booked as overage
    #   04-01 period end: overage_settlement +10,000 (period 2026-03) → balance 0;
    #         then April's pro allowance +10,000 (the clock is 04-01 00:00).
    scenario = example_seed_001_upgrade_overage()
    cid = customer_of(scenario)
    change = at("2026-03-10T12:00")
    result = run(scenario)

    assert totals(result, cid) == {
        "grant": D(500 + 10_000 + 10_000),
        "usage": D(-500 - 10_000),
        "overage": D(-10_000),
        "overage_settlement": D(10_000),
    }
    free = grant(result, f"subscription:free:{cid}:2026-03-01T00:00:00")
    assert free["expires_at"] == change and free["credits_consumed"] == D(500)
    pro = grant(result, f"subscription:pro:{cid}:2026-03-10T12:00:00")
    assert (pro["credits_consumed"], pro["credits_remaining"]) == (D(10_000), D(0))
    assert entries(result, cid, "overage_settlement") == [
        (at("2026-04-01"), "overage_settlement", None, D(10_000))
    ]
    settlement = next(
        e for e in result.entries if e.customer_id == cid and e.entry_type == "overage_settlement"
    )
    assert settlement.period == "2026-03"
    assert result.balances[cid] == D(10_000)  # April's allowance


def test_free_usage_beyond_the_allowance_is_unfunded_and_the_upgrade_repays_it():
    # As seed 001, plus 30 more credits on free before the upgrade:
    #   03-02 / 03-03: 200 + 300 = 500, the free allowance is empty
    #   03-05 fast 30,000 → 30 unfunded (free has overage: none). Balance −30.
    #   03-10 12:00 pro allowance +10,000 takes effect and repays at once:
    #         repayment −30 (pro allowance), unfunded_repaid +30. Balance 9,970.
    #   04-01 nothing owed; the March pro allowance expires with 9,970 left; April +10,000.
    scenario = example_free_unfunded_then_upgrade_repays()
    cid = customer_of(scenario)
    change = at("2026-03-10T12:00")
    result = run(scenario)

    pro_march = f"subscription:pro:{cid}:2026-03-10T12:00:00"
    assert entries(result, cid, "unfunded", "repayment", "unfunded_repaid") == [
        (at("2026-03-05T10:00"), "unfunded", None, D(-30)),
        (change, "repayment", pro_march, D(-30)),
        (change, "unfunded_repaid", None, D(30)),
    ]
    assert totals(result, cid) == {
        "grant": D(20_500),
        "usage": D(-500),
        "unfunded": D(-30),
        "repayment": D(-30),
        "unfunded_repaid": D(30),
        "expiry": D(-9_970),
    }
    assert grant(result, pro_march)["credits_consumed"] == D(30)  # a repayment consumes
    assert result.balances[cid] == D(10_000)


def test_a_plan_change_expires_the_old_allowance_remainder_at_the_change():
    # free from 03-01, 400 used, change to pro at 03-10 12:00: the free allowance's 100
    # left expire at exactly 03-10 12:00, before pro's allowance takes effect there.
    scenario = example_plan_change_expires_old_allowance()
    cid = customer_of(scenario)
    change = at("2026-03-10T12:00")
    result = run(scenario)

    free = f"subscription:free:{cid}:2026-03-01T00:00:00"
    pro = f"subscription:pro:{cid}:2026-03-10T12:00:00"
    assert entries(result, cid, "expiry", "grant")[1:] == [
        (change, "expiry", free, D(-100)),
        (change, "grant", pro, D(10_000)),
        # pro ends 03-20: its allowance expires then, untouched; no April allowance
        (at("2026-03-20"), "expiry", pro, D(-10_000)),
    ]
    assert result.balances[cid] == D(0)


def test_priority_beats_expiry_in_the_consumption_order():
    # g-p10: 100 credits, priority 10, expires 03-31 (later)
    # g-p50: 100 credits, priority 50, expires 03-10 (sooner)
    # 03-05 fast 150,000 → 150: priority first, so 100 from g-p10, then 50 from g-p50.
    # 03-10 g-p50 expires with 50 left.
    scenario = example_priority_beats_expiry()
    cid = customer_of(scenario)
    result = run(scenario)

    assert entries(result, cid, "usage", "expiry") == [
        (at("2026-03-05"), "usage", f"{cid}-g-p10", D(-100)),
        (at("2026-03-05"), "usage", f"{cid}-g-p50", D(-50)),
        (at("2026-03-10"), "expiry", f"{cid}-g-p50", D(-50)),
    ]
    assert result.balances[cid] == D(0)


def test_consumption_order_tie_breaks_expiry_then_cost_basis_then_effective_at():
    # All priority 50. "soon" expires 03-20, the others 03-31; of those, "cheap" has cost
    # basis 0 and "dear" 0.5; "early"/"late" tie on both and differ in effective_at.
    # 03-25 is after "soon" expired, so only the other four compete there.
    #   03-05 fast 15,000 → 15: soon 10, cheap 5
    #   03-25 fast 20,000 → 20: cheap 5, early 10, late 5
    scenario = example_consumption_order_tie_breaks()
    cid = customer_of(scenario)
    result = run(scenario)
    assert [(g, c) for _, _, g, c in entries(result, cid, "usage")] == [
        (f"{cid}-soon", D(-10)),
        (f"{cid}-cheap", D(-5)),
        (f"{cid}-cheap", D(-5)),
        (f"{cid}-early", D(-10)),
        (f"{cid}-late", D(-5)),
    ]


def test_a_promotion_expiring_mid_month_expires_at_the_exact_instant():
    # promo 500 (expires 03-15 12:00) and a starting balance 1,000 (never), both priority
    # 50 from 03-01: the promo expires sooner, so it is drawn first.
    #   03-10 09:00 ultra 10,000 → 150 from the promo (350 left)
    #   03-15 06:00 pro   25,000 → 100 from the promo (250 left)
    #   03-15 12:00 the promo expires: expiry −250 at exactly that instant, then (same
    #               instant, usage after expiries) pro 5,000 → 20 from the starting balance
    #   03-20       fast 40,000 → 40 from the starting balance
    # promo: consumed 250, expired 250; start: consumed 60, left 940.
    scenario = example_promo_expires_mid_month()
    cid = customer_of(scenario)
    expires = at("2026-03-15T12:00")
    result = run(scenario)

    promo_id, start_id = f"{cid}-promo", f"{cid}-start"
    assert entries(result, cid, "usage", "expiry") == [
        (at("2026-03-10T09:00"), "usage", promo_id, D(-150)),
        (at("2026-03-15T06:00"), "usage", promo_id, D(-100)),
        (expires, "expiry", promo_id, D(-250)),
        (expires, "usage", start_id, D(-20)),
        (at("2026-03-20"), "usage", start_id, D(-40)),
    ]
    promo, start = grant(result, promo_id), grant(result, start_id)
    assert (promo["credits_consumed"], promo["credits_expired"]) == (D(250), D(250))
    assert (start["credits_consumed"], start["credits_remaining"]) == (D(60), D(940))


def test_overage_is_repaid_oldest_first_by_the_next_grants():
    # rollover_pro from 03-01 (1,000 credits, overage bill).
    #   03-05 fast 1,200,000 → 1,200: 1,000 from the allowance, 200 overage (chunk 1)
    #   03-06 ultra   10,000 →   150: overage (chunk 2). Owed 350, balance −350.
    #   03-07 compensation 100 takes effect: repays 100 of chunk 1 (100 of it still owed)
    #   03-08 purchase pack_1k (1,000 + 100 bonus = 1,100 credits, 1,000 cents paid):
    #         repays chunk 1's last 100, then chunk 2's 150; 850 left.
    #   04-01 nothing owed; the March allowance expired empty; April allowance +1,000.
    # balance 850 + 1,000 = 1,850.
    scenario = example_overage_repaid_oldest_first()
    cid = customer_of(scenario)
    result = run(scenario)

    comp, bought_id = f"{cid}-comp", f"purchase:{cid}-buy1"
    assert entries(result, cid, "overage", "repayment", "overage_repaid") == [
        (at("2026-03-05"), "overage", None, D(-200)),
        (at("2026-03-06"), "overage", None, D(-150)),
        (at("2026-03-07"), "repayment", comp, D(-100)),
        (at("2026-03-07"), "overage_repaid", None, D(100)),
        (at("2026-03-08"), "repayment", bought_id, D(-100)),
        (at("2026-03-08"), "overage_repaid", None, D(100)),
        (at("2026-03-08"), "repayment", bought_id, D(-150)),
        (at("2026-03-08"), "overage_repaid", None, D(150)),
    ]
    assert "overage_settlement" not in totals(result, cid)
    bought = grant(result, bought_id)
    # 1,000 cents / 1,100 credits = 0.909090…, rounded half up at 12 places
    assert bought["cost_basis_per_credit"] == D("0.909090909091")
    assert (bought["credits_consumed"], bought["credits_remaining"]) == (D(250), D(850))
    assert result.balances[cid] == D(1_850)


def test_auto_top_up_buys_while_below_the_threshold_up_to_the_cap_per_period():
    # No plan: shortfall is unfunded. starting balance 100; auto top-up: threshold 200,
    # topup_small (300 credits, 333 cents → cost basis 1.11), at most 2 per period.
    #   03-02 ultra 20,000 → 300: 100 from the start, 200 unfunded. Balance −200 < 200
    #         → top-up 1: +300, repays 200 → balance 100, still below 200
    #   03-03 fast 100,000 → 100 from top-up 1. Balance 0 < 200 → top-up 2 (the level,
    #         not a crossing, decides) → balance 300
    #   03-04 ultra 20,000 → 300 from top-up 2. Balance 0 < 200, but 2 top-ups in 2026-03
    #         already: none.
    #   03-05 fast 40,000 → 40 unfunded. Still capped.
    #   04-01 period end: unfunded_writeoff +40. Then, same instant, fast 10,000 → 10
    #         unfunded; a new period, so top-up 3: +300, repays 10 → balance 290.
    scenario = example_auto_top_up_cap()
    cid = customer_of(scenario)
    result = run(scenario)

    topups = {g: v for g, v in result.customer_grants(cid).items() if v["kind"] == "auto_topup"}
    assert sorted(topups) == [
        f"auto_topup:{cid}:2026-03-02T10:00:00:1",
        f"auto_topup:{cid}:2026-03-03T10:00:00:2",
        f"auto_topup:{cid}:2026-04-01T00:00:00:3",
    ]
    assert {v["cost_basis_per_credit"] for v in topups.values()} == {D("1.11")}
    assert {v["expires_at"] for v in topups.values()} >= {at("2026-06-01T10:00")}  # +90 days
    assert totals(result, cid) == {
        "grant": D(100 + 3 * 300),
        "usage": D(-100 - 100 - 300),
        "unfunded": D(-200 - 40 - 10),
        "repayment": D(-210),
        "unfunded_repaid": D(210),
        "unfunded_writeoff": D(40),
    }
    assert result.balances[cid] == D(290)


def test_rollover_keeps_up_to_the_cap_for_one_period_and_expires_the_rest():
    # rollover_pro from 02-01: 1,000 a month, rollover ≤ 300, for 1 period; cost basis
    # 2,000 cents / 1,000 = 2 per credit.
    #   03-01 (end of 2026-02): the February allowance is unused (1,000 left): 300 roll
    #         over into `rollover:<feb allowance>` (effective 03-01, expires 04-01) and 700
    #         expire. March's allowance +1,000.
    #   03-10 fast 100,000 → 100: the rollover and March's allowance tie on priority,
    #         expiry (04-01), cost basis and effective_at; "rollover:…" < "subscription:…"
    #         so the rollover gives the 100 (200 left).
    #   04-01 (end of 2026-03), expiries in consumption order: the rollover grant's 200
    #         expire (a rollover never rolls over); March's allowance (1,000 left) rolls
    #         300 (expires 05-01) and expires 700. April's allowance +1,000.
    # balance 300 + 1,000 = 1,300.
    scenario = example_rollover()
    cid = customer_of(scenario)
    result = run(scenario)

    feb = f"subscription:rollover_pro:{cid}:2026-02-01T00:00:00"
    mar = f"subscription:rollover_pro:{cid}:2026-03-01T00:00:00"
    assert entries(result, cid, "rollover", "expiry") == [
        (at("2026-03-01"), "rollover", feb, D(-300)),
        (at("2026-03-01"), "expiry", feb, D(-700)),
        (at("2026-04-01"), "expiry", f"rollover:{feb}", D(-200)),
        (at("2026-04-01"), "rollover", mar, D(-300)),
        (at("2026-04-01"), "expiry", mar, D(-700)),
    ]
    rolled = grant(result, f"rollover:{feb}")
    assert rolled["kind"] == "rollover"
    assert (rolled["credits"], rolled["effective_at"], rolled["expires_at"]) == (
        D(300),
        at("2026-03-01"),
        at("2026-04-01"),
    )
    assert rolled["cost_basis_per_credit"] == D(2)
    assert grant(result, f"rollover:{mar}")["expires_at"] == at("2026-05-01")
    g = grant(result, feb)
    assert (g["credits_rolled_over"], g["credits_expired"], g["credits_remaining"]) == (
        D(300),
        D(700),
        D(0),
    )
    assert totals(result, cid) == {
        "grant": D(1_000 + 300 + 1_000 + 300 + 1_000),
        "rollover": D(-600),
        "expiry": D(-700 - 200 - 700),
        "usage": D(-100),
    }
    assert result.balances[cid] == D(1_300)


def test_a_void_after_the_grant_expired_books_void_and_expiry_at_the_void_time():
    # promo 100, 03-01 → 03-10. 03-05 fast 60,000 → 60 from it; 03-10 the 40 left expire.
    # 03-12 the 03-05 event is voided: the promo has expired (03-10 ≤ 03-12), so its 60
    # come back as void +60 and leave again as expiry −60, both at 03-12.
    scenario = example_void_after_expiry()
    cid = customer_of(scenario)
    result = run(scenario)

    promo_id = f"{cid}-promo"
    assert entries(result, cid, "void", "expiry") == [
        (at("2026-03-10"), "expiry", promo_id, D(-40)),
        (at("2026-03-12"), "void", promo_id, D(60)),
        (at("2026-03-12"), "expiry", promo_id, D(-60)),
    ]
    promo = grant(result, promo_id)
    assert (promo["credits_consumed"], promo["credits_expired"]) == (D(0), D(100))
    assert result.balances[cid] == D(0)


def test_a_void_gives_credits_back_and_reverses_only_the_shortfall_still_owed():
    # No plan; starting balance 100 (never expires).
    #   03-02 e1 fast 150,000 → 150: 100 from the start, 50 unfunded.
    #   03-03 void e1: the 50 are still owed → void +50 (no grant); the start gets its 100
    #         back → void +100. Balance 100.
    #   03-04 e2 fast 150,000 → 150: 100 from the start, 50 unfunded.
    #   03-05 compensation 30 takes effect and repays 30 of e2's 50.
    #   03-06 void e2: only the 20 still owed are reversed (the 30 repaid stay repaid);
    #         the start gets 100 back. Balance 100 (the compensation went to the debt).
    scenario = example_void_reverses_only_what_is_owed()
    cid = customer_of(scenario)
    result = run(scenario)

    start_id = f"{cid}-start"
    assert entries(result, cid, "void") == [
        (at("2026-03-03"), "void", None, D(50)),
        (at("2026-03-03"), "void", start_id, D(100)),
        (at("2026-03-06"), "void", None, D(20)),
        (at("2026-03-06"), "void", start_id, D(100)),
    ]
    assert totals(result, cid) == {
        "grant": D(130),
        "usage": D(-200),
        "unfunded": D(-100),
        "void": D(270),
        "repayment": D(-30),
        "unfunded_repaid": D(30),
    }
    assert grant(result, start_id)["credits_remaining"] == D(100)
    assert result.balances[cid] == D(100)


def test_a_refund_removes_what_is_left_of_the_purchase():
    # pack_1k bought 03-01 (1,100 credits), refunded 03-05; a failed purchase is no grant.
    #   03-02 fast 300,000 → 300 from it (800 left)
    #   03-05 refund: refund −800, the grant is closed
    #   03-06 fast 10,000 → 10 unfunded (no plan); 04-01 unfunded_writeoff +10.
    #   03-07 the 03-02 event is voided: the grant is closed, so its 300 come back as
    #         void +300 and leave as expiry −300 (like an expired grant; the refund and
    #         its credit note covered only the 800 left on 03-05).
    scenario = example_refund()
    cid = customer_of(scenario)
    result = run(scenario)

    bought_id = f"purchase:{cid}-buy"
    assert f"purchase:{cid}-nope" not in result.grants
    bought = grant(result, bought_id)
    assert (
        bought["credits_consumed"],
        bought["credits_refunded"],
        bought["credits_expired"],
        bought["credits_remaining"],
    ) == (D(0), D(800), D(300), D(0))
    assert entries(result, cid, "refund", "void", "expiry") == [
        (at("2026-03-05"), "refund", bought_id, D(-800)),
        (at("2026-03-07"), "void", bought_id, D(300)),
        (at("2026-03-07"), "expiry", bought_id, D(-300)),
    ]
    assert totals(result, cid) == {
        "grant": D(1_100),
        "usage": D(-300),
        "refund": D(-800),
        "void": D(300),
        "expiry": D(-300),
        "unfunded": D(-10),
        "unfunded_writeoff": D(10),
    }


def test_a_grant_void_takes_what_is_left_of_a_half_used_bundle():
    # pack_5k bought 03-01: 5,000 + 500 bonus = 5,500 credits for 4,500 cents.
    #   03-05 fast 2,750,000 tokens → 2,750 used (2,750 left)
    #   03-10 void: grant_void −2,750; the grant draws nothing after
    #   03-11 a new expiry for it: the grant is voided, so nothing changes
    #   03-12 fast 10,000 → 10 unfunded (no plan); 04-01 unfunded_writeoff +10.
    # consumed 2,750 + voided 2,750 = 5,500.
    scenario = example_grant_void_of_a_half_used_bundle()
    cid = customer_of(scenario)
    result = run(scenario)
    buy = f"purchase:{cid}-buy"
    assert entries(result, cid, "grant_void") == [(at("2026-03-10"), "grant_void", buy, D(-2_750))]
    g = grant(result, buy)
    assert (g["credits_consumed"], g["credits_voided"], g["credits_remaining"]) == (
        D(2_750),
        D(2_750),
        D(0),
    )
    assert g["expires_at"] is None
    assert totals(result, cid) == {
        "grant": D(5_500),
        "usage": D(-2_750),
        "grant_void": D(-2_750),
        "unfunded": D(-10),
        "unfunded_writeoff": D(10),
    }


def test_a_grant_voided_before_it_takes_effect_never_does():
    # starting balance 1,000 from 03-01; promo 500 due 03-20, voided 03-10: it never takes
    # effect (no entry), all 500 count as voided. 03-25 fast 100,000 → 100 from the start.
    # The amendment naming no grant is quarantined and changes nothing.
    scenario = example_grant_void_before_it_takes_effect()
    cid = customer_of(scenario)
    result = run(scenario)
    promo = grant(result, f"{cid}-promo")
    assert (promo["credits_voided"], promo["credits_consumed"], promo["credits_remaining"]) == (
        D(500),
        D(0),
        D(0),
    )
    assert totals(result, cid) == {"grant": D(1_000), "usage": D(-100)}
    assert result.balances[cid] == D(900)


def test_an_expiry_brought_forward_expires_the_grant_there():
    # pack_1k bought 03-01: 1,100 credits for 1,000 cents, expiring 03-31.
    #   03-05 fast 330,000 → 330; 03-10 the expiry moves to 03-15;
    #   03-12 fast 220,000 → 220 (550 left); 03-15 expiry −550 (nothing at 03-31);
    #   03-20 fast 100,000 → 100 unfunded (no plan); 04-01 unfunded_writeoff +100.
    scenario = example_grant_expiry_brought_forward()
    cid = customer_of(scenario)
    result = run(scenario)
    buy = f"purchase:{cid}-buy"
    assert entries(result, cid, "expiry") == [(at("2026-03-15"), "expiry", buy, D(-550))]
    g = grant(result, buy)
    assert (g["expires_at"], g["credits_consumed"], g["credits_expired"]) == (
        at("2026-03-15"),
        D(550),
        D(550),
    )
    assert totals(result, cid)["unfunded"] == D(-100)


def test_an_expiry_pushed_back_keeps_the_credits_past_the_old_one():
    # promo 300, 03-01 → 03-10; on 03-05 pushed back to 03-25.
    #   03-15 fast 100,000 → 100 from the promo (it would have expired on 03-10);
    #   03-25 expiry −200.
    scenario = example_grant_expiry_pushed_back()
    cid = customer_of(scenario)
    result = run(scenario)
    promo = f"{cid}-promo"
    assert entries(result, cid) == [
        (at("2026-03-01"), "grant", promo, D(300)),
        (at("2026-03-15"), "usage", promo, D(-100)),
        (at("2026-03-25"), "expiry", promo, D(-200)),
    ]
    assert grant(result, promo)["expires_at"] == at("2026-03-25")


def test_a_negative_adjustment_draws_like_usage_and_never_tops_up():
    # starting balance 100 from 03-01; an auto top-up at threshold 1,000 is enabled.
    #   03-03 adjustment −150: adjustment −100 (start), the other 50 are unfunded. No top-up:
    #         only usage debits trigger one.
    #   03-04 compensation 80: repays the 50 (repayment −50, unfunded_repaid +50), 30 left.
    scenario = example_negative_adjustment()
    cid = customer_of(scenario)
    result = run(scenario)

    start_id = f"{cid}-start"
    assert entries(result, cid, "adjustment", "unfunded") == [
        (at("2026-03-03"), "adjustment", start_id, D(-100)),
        (at("2026-03-03"), "unfunded", None, D(-50)),
    ]
    assert f"{cid}-adj" not in result.grants  # a negative adjustment is not a grant
    assert totals(result, cid) == {
        "grant": D(180),
        "adjustment": D(-100),
        "unfunded": D(-50),
        "repayment": D(-50),
        "unfunded_repaid": D(50),
    }
    assert grant(result, start_id)["credits_consumed"] == D(100)
    assert result.balances[cid] == D(30)


def test_same_instant_period_end_then_expiry_then_grant_then_void_then_usage():
    # No plan. promo P: 100, 02-01 → 03-01 00:00. grant G: compensation 50 from 03-01 00:00.
    #   02-10 e1 fast 100,000 → 100 from P (0 left)
    #   02-11 e2 fast  30,000 →  30 unfunded
    #   02-12 e3 fast  10,000 →  10 unfunded. Owed 40.
    #   02-13 void e1: P gets its 100 back; a void repays nothing, so owed stays 40 while
    #         P holds 100.
    # At 03-01 00:00, in this order:
    #   1. period end 2026-02: unfunded_writeoff +40
    #   2. P expires: expiry −100
    #   3. G takes effect: +50 (nothing owed any more)
    #   4. void e3: its shortfall was settled at step 1 → nothing given back
    #   5. e4 fast 70,000 → 70: P is gone, 50 from G, 20 unfunded
    #   04-01 period end 2026-03: unfunded_writeoff +20.
    scenario = example_same_instant_order()
    cid = customer_of(scenario)
    instant = at("2026-03-01")
    result = run(scenario)

    assert [e[1:] for e in entries(result, cid) if e[0] == instant] == [
        ("unfunded_writeoff", None, D(40)),
        ("expiry", f"{cid}-P", D(-100)),
        ("grant", f"{cid}-G", D(50)),
        ("usage", f"{cid}-G", D(-50)),
        ("unfunded", None, D(-20)),
    ]
    writeoffs = [
        e for e in result.entries if e.customer_id == cid and e.entry_type == "unfunded_writeoff"
    ]
    assert [(e.period, e.credits) for e in writeoffs] == [("2026-02", D(40)), ("2026-03", D(20))]
    assert result.balances[cid] == D(0)


def test_rating_weights_by_timestamp_and_several_aggregators_per_event():
    # ultra is 20 per 1,000 tokens before 2026-02-01 and 15 from then; a `priority: high`
    # request also matches priority_requests (count, 2.5 each): two debits, in
    # aggregator_id order. An api_request matches nothing: accepted, not billable.
    #   01-31 23:00 ultra 1,000 → 20
    #   02-01 00:00 ultra 1,000, priority high → 15 + 2.5
    #   02-03 00:00 fast 1 → 0.001
    scenario = example_rating()
    cid = customer_of(scenario)
    result = run(scenario)
    usage = [
        (e.entry_at, e.aggregator_id, e.credits)
        for e in result.entries
        if e.customer_id == cid and e.entry_type == "usage"
    ]
    assert usage == [
        (at("2026-01-31T23:00"), "ultra_tokens", D(-20)),
        (at("2026-02-01"), "priority_requests", D("-2.5")),
        (at("2026-02-01"), "ultra_tokens", D(-15)),
        (at("2026-02-03"), "fast_tokens", D("-0.001")),
    ]


def test_trial_allowance_expires_after_its_days_and_is_granted_each_period():
    # trial: 200 credits, expiring 20 days after they take effect (or at the spell's end).
    # Spell 2026-02-10 → 2026-03-15: allowances at 02-10 (→ 03-02) and 03-01 (→ 03-15,
    # the spell's end comes before 03-21).
    scenario = example_trial_allowance()
    cid = customer_of(scenario)
    result = run(scenario)
    assert {(v["effective_at"], v["expires_at"]) for v in result.customer_grants(cid).values()} == {
        (at("2026-02-10"), at("2026-03-02")),
        (at("2026-03-01"), at("2026-03-15")),
    }
    assert totals(result, cid) == {"grant": D(400), "expiry": D(-400)}


def test_cost_basis_is_rounded_half_up_at_twelve_places():
    assert cost_basis_per_credit(1000, D(1100)) == D("0.909090909091")
    assert cost_basis_per_credit(2, D(3)) == D("0.666666666667")
    assert cost_basis_per_credit(1, D(8)) == D("0.125")
    # 5 × 10^-13 exactly: the half goes up
    assert cost_basis_per_credit(1, D(2_000_000_000_000)) == D("0.000000000001")
    assert cost_basis_per_credit(0, D(7)) == D(0)


def test_a_scoped_promo_is_never_drawn_by_usage_it_does_not_apply_to():
    # promo: 100, fast_tokens only, priority 10, 03-01 → 03-31; start: 200, every aggregator.
    #   03-02 ultra 10,000 → 150: the promo does not apply; start 200 → 50
    #   03-03 fast  60,000 →  60: promo first (priority 10): 100 → 40
    #   03-04 ultra  4,000 →  60: start 50 → 0, then 10 unfunded (no plan), though the
    #                             promo still holds 40. Balance 40 − 10 = 30.
    #   03-05 fast  30,000 →  30: promo 40 → 10. Balance 0.
    #   03-31 the promo expires with 10 left: expiry −10. Balance −10 (the 10 still owed).
    #   04-01 period end: unfunded_writeoff +10. Balance 0.
    scenario = example_scoped_promo_untouched_by_other_usage()
    cid = customer_of(scenario)
    result = run(scenario)

    promo, start = f"{cid}-promo", f"{cid}-start"
    assert [(e.aggregator_id, e.grant_id, e.credits) for e in result.entries
            if e.customer_id == cid and e.entry_type in ("usage", "unfunded")] == [
        ("ultra_tokens", start, D(-150)),
        ("fast_tokens", promo, D(-60)),
        ("ultra_tokens", start, D(-50)),
        ("ultra_tokens", None, D(-10)),
        ("fast_tokens", promo, D(-30)),
    ]  # fmt: skip
    assert totals(result, cid) == {
        "grant": D(300),
        "usage": D(-290),
        "unfunded": D(-10),
        "expiry": D(-10),
        "unfunded_writeoff": D(10),
    }
    assert grant(result, promo)["applies_to"] == "fast_tokens"
    assert (grant(result, promo)["credits_consumed"], grant(result, promo)["credits_expired"]) == (
        D(90),
        D(10),
    )
    assert grant(result, start)["applies_to"] == ""
    assert result.balances[cid] == D(0)


def test_overlapping_scoped_grants_each_fund_only_their_aggregators():
    # A: 100, fast+pro, priority 20. B: 100, ai_credits (every aggregator the product
    # prices), priority 30. C: 50, ultra + priority requests, priority 10. All from 03-01.
    #   03-02 fast 80,000 → 80: A and B apply, A first: A 100 → 20
    #   03-03 ultra 4,000 flagged priority: two debits, by aggregator_id:
    #         priority_requests 2.5: C and B apply, C first: C 50 → 47.5
    #         ultra_tokens     60  : C 47.5 → 0, then B 12.5 → 87.5
    #   03-04 pro 10,000 → 40: A 20 → 0, then B 20 → 67.5
    #   03-05 fast 100,000 → 100: A empty, B 67.5 → 0, 32.5 unfunded (no plan); C applies
    #         not, and is empty anyway.
    #   04-01 unfunded_writeoff +32.5.
    # A consumed 80 + 20 = 100, B 12.5 + 20 + 67.5 = 100, C 2.5 + 47.5 = 50.
    scenario = example_overlapping_scoped_grants()
    cid = customer_of(scenario)
    result = run(scenario)

    a, b, c = (f"{cid}-{x}" for x in "abc")
    assert [(e.aggregator_id, e.grant_id, e.credits) for e in result.entries
            if e.customer_id == cid and e.entry_type in ("usage", "unfunded")] == [
        ("fast_tokens", a, D(-80)),
        ("priority_requests", c, D("-2.5")),
        ("ultra_tokens", c, D("-47.5")),
        ("ultra_tokens", b, D("-12.5")),
        ("pro_tokens", a, D(-20)),
        ("pro_tokens", b, D(-20)),
        ("fast_tokens", b, D("-67.5")),
        ("fast_tokens", None, D("-32.5")),
    ]  # fmt: skip
    assert totals(result, cid) == {
        "grant": D(250),
        "usage": D(-250),
        "unfunded": D("-32.5"),
        "unfunded_writeoff": D("32.5"),
    }
    assert [grant(result, g)["applies_to"] for g in (a, b, c)] == [
        "fast_tokens|pro_tokens",
        "ai_credits",
        "priority_requests|ultra_tokens",
    ]
    assert [grant(result, g)["credits_consumed"] for g in (a, b, c)] == [D(100), D(100), D(50)]


def test_a_scoped_grant_expiring_unused_leaves_as_expiry_while_others_are_drawn():
    # fast_pack: 200 credits for fast tokens only, 150 cents, 03-01 → 03-31, priority 30.
    # pack_5k: 5,000 + 500 bonus = 5,500 credits, 4,500 cents, never expires, priority 60.
    #   03-10 ultra 10,000 → 150: fast_pack does not apply: pack_5k 5,500 → 5,350
    #   03-20 pro   50,000 → 200: pack_5k → 5,150
    #   03-31 fast_pack expires untouched: expiry −200 (its whole 150 cents are breakage)
    #   03-31 12:00 fast 10,000 → 10: fast_pack is gone, pack_5k → 5,140
    scenario = example_scoped_grant_expires_unused()
    cid = customer_of(scenario)
    result = run(scenario)

    fast, big = f"purchase:{cid}-fast", f"purchase:{cid}-big"
    assert entries(result, cid, "usage", "expiry") == [
        (at("2026-03-10"), "usage", big, D(-150)),
        (at("2026-03-20"), "usage", big, D(-200)),
        (at("2026-03-31"), "expiry", fast, D(-200)),
        (at("2026-03-31T12:00"), "usage", big, D(-10)),
    ]
    assert grant(result, fast)["cost_basis_per_credit"] == D("0.75")  # 150 / 200
    assert (grant(result, fast)["credits_consumed"], grant(result, fast)["credits_expired"]) == (
        D(0),
        D(200),
    )
    assert (grant(result, big)["credits_consumed"], grant(result, big)["credits_remaining"]) == (
        D(360),
        D(5_140),
    )
    assert result.balances[cid] == D(5_140)


def test_a_scoped_grant_repays_only_shortfalls_it_applies_to():
    # fast_plan from 03-01: 300 credits for fast tokens only, overage bill.
    #   03-02 ultra 10,000 → 150: the allowance does not apply: overage 150 (chunk 1, ultra)
    #   03-03 fast 400,000 → 400: allowance 300 → 0, overage 100 (chunk 2, fast)
    #   03-04 fast_pack (200, fast only) takes effect: chunk 1 is older but ultra, so it
    #         repays chunk 2: repayment −100, overage_repaid +100; 100 left
    #   03-05 compensation 100 (every aggregator): repays 100 of chunk 1 (50 still owed)
    #   03-06 ultra 2,000 → 30: fast_pack does not apply, comp is empty: overage 30
    #   04-01 period end: overage_settlement +80 (50 + 30); April's allowance +300.
    # Balance: fast_pack 100 + April's allowance 300 = 400.
    scenario = example_scoped_grant_repays_only_what_it_applies_to()
    cid = customer_of(scenario)
    result = run(scenario)

    fast, comp = f"purchase:{cid}-fast", f"{cid}-comp"
    assert entries(result, cid, "overage", "repayment", "overage_repaid", "overage_settlement") == [
        (at("2026-03-02"), "overage", None, D(-150)),
        (at("2026-03-03"), "overage", None, D(-100)),
        (at("2026-03-04"), "repayment", fast, D(-100)),
        (at("2026-03-04"), "overage_repaid", None, D(100)),
        (at("2026-03-05"), "repayment", comp, D(-100)),
        (at("2026-03-05"), "overage_repaid", None, D(100)),
        (at("2026-03-06"), "overage", None, D(-30)),
        (at("2026-04-01"), "overage_settlement", None, D(80)),
    ]
    assert totals(result, cid) == {
        "grant": D(900),
        "usage": D(-300),
        "overage": D(-280),
        "repayment": D(-200),
        "overage_repaid": D(200),
        "overage_settlement": D(80),
    }
    assert grant(result, f"subscription:fast_plan:{cid}:2026-03-01T00:00:00")["applies_to"] == (
        "fast_tokens"
    )
    assert result.balances[cid] == D(400)


# --------------------------------------------------------------------------------------
# Invariants on random customers
# --------------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(scenario=customer_scenario("c0001"))
def test_every_grant_accounts_for_all_its_credits(scenario):
    result = run(scenario)
    for grant_id, g in result.grants.items():
        parts = [
            g["credits_consumed"],
            g["credits_expired"],
            g["credits_refunded"],
            g["credits_rolled_over"],
            g["credits_voided"],
            g["credits_remaining"],
        ]
        assert sum(parts) == g["credits"], grant_id
        assert all(p >= 0 for p in parts), (grant_id, g)
        assert g["credits"] > 0


@PROPERTY_SETTINGS
@given(scenario=customer_scenario("c0001"))
def test_the_ledger_sums_to_the_balance(scenario):
    result = run(scenario)
    for customer_id, balance in result.balances.items():
        assert (
            sum((e.credits for e in result.entries if e.customer_id == customer_id), Decimal(0))
            == balance
        )
        assert sum(result.customer_totals(customer_id).values(), Decimal(0)) == balance
        # Every grant in effect books exactly its credits once; a scheduled one books nothing,
        # and one voided before it takes effect books nothing and counts all its credits as voided.
        booked = {
            e.grant_id: e.credits
            for e in result.entries
            if e.customer_id == customer_id and e.entry_type == "grant"
        }
        for grant_id, g in result.customer_grants(customer_id).items():
            if grant_id in booked:
                assert booked[grant_id] == g["credits"], grant_id
            elif g["status"] != "scheduled":
                assert g["credits_voided"] == g["credits"], grant_id


@PROPERTY_SETTINGS
@given(scenario=customer_scenario("c0001"))
def test_no_draw_outside_a_grants_window(scenario):
    result = run(scenario)
    for e in result.entries:
        if e.entry_type in ("usage", "adjustment", "repayment"):
            g = result.grants[e.grant_id]
            assert g["effective_at"] <= e.entry_at, e
            assert g["expires_at"] is None or e.entry_at < g["expires_at"], e
        assert e.entry_at <= AS_OF
        assert e.credits != 0


@PROPERTY_SETTINGS
@given(scenario=customer_scenario("c0001"))
def test_usage_draws_only_on_grants_that_apply_to_its_aggregator(scenario):
    # contract §8.1: a grant applies to an aggregator it names, or whose credit product it
    # names, or to every aggregator when it names nothing.
    result = run(scenario)
    products = {
        entry.aggregator: product.id
        for product in CATALOG.credit_products
        for entry in product.aggregators
    }
    for e in result.entries:
        if e.entry_type == "usage":
            scope = result.grants[e.grant_id]["applies_to"]
            ids = set(scope.split("|")) if scope else set()
            assert not ids or ids & {e.aggregator_id, products[e.aggregator_id]}, e


@PROPERTY_SETTINGS
@given(scenario=customer_scenario("c0001"))
def test_nothing_is_owed_after_a_period_end_and_top_ups_respect_the_cap(scenario):
    result = run(scenario)
    # Shortfalls are owed until repaid, voided or settled; a period end settles all, so the
    # owed amount right after each period end is zero. Owed = −Σ(shortfall entries and
    # what reduced them): overage, unfunded, *_repaid, settlements and shortfall voids.
    owed_types = {
        "overage",
        "unfunded",
        "overage_repaid",
        "unfunded_repaid",
        "overage_settlement",
        "unfunded_writeoff",
    }
    owed = Decimal(0)
    for e in result.entries:
        if e.entry_type in owed_types or (e.entry_type == "void" and e.grant_id is None):
            owed -= e.credits
        assert owed >= 0, e
    period_ends = {e.entry_at for e in result.entries if is_period_start(e.entry_at)}
    for end in period_ends:
        before_rank_2 = [
            e
            for e in result.entries
            if e.entry_at < end
            or (e.entry_at == end and e.entry_type in ("overage_settlement", "unfunded_writeoff"))
        ]
        still = -sum(
            (
                e.credits
                for e in before_rank_2
                if e.entry_type in owed_types or (e.entry_type == "void" and e.grant_id is None)
            ),
            Decimal(0),
        )
        assert still == 0, end
    settings_rows = scenario.auto_topups
    if len(settings_rows) == 1 and settings_rows[0].max_per_period is not None:
        per_period: dict[str, int] = {}
        for g in result.grants.values():
            if g["kind"] == "auto_topup":
                key = f"{g['effective_at']:%Y-%m}"
                per_period[key] = per_period.get(key, 0) + 1
        assert all(n <= settings_rows[0].max_per_period for n in per_period.values())
