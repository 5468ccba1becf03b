"""Every worked example of tests/ledger/test_reference_examples.py, in the warehouse.

The examples (`EXAMPLES`, one customer each, ids unique across examples) that share a clock
go into ONE landing directory and ONE dbt build (a module-scoped fixture, built on first
use per clock). Then:
- `test_example_in_warehouse[<example>]`: the warehouse's `marts.fct_grants` (per grant:
  consumed, expired, refunded, rolled over, remaining, …) and `marts.fct_credit_ledger`
  totals per (customer, entry_type) equal the reference's, exactly (the comparison of
  tests/reference/compare.py, shared with test_warehouse_matches_reference.py);
- `test_<example>_by_hand_in_warehouse`: for the examples whose numbers matter most, the
  hand-worked numbers themselves, read off warehouse rows (not via the reference).

An example on which the warehouse and the reference disagree is listed in `DISAGREE` with
the difference, and its case is marked `xfail(strict=True)`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import build_warehouse, query
from reference.compare import customer_diff, warehouse_figures
from reference.ledger import reference_ledger
from reference.scenario import TEST_CATALOG_PATH, Scenario, write_landing
from test_reference_examples import CATALOG, EXAMPLES, at, customer_of

from credits_warehouse.warehouse import connect

D = Decimal

# example name -> why the warehouse disagrees with the reference on it (strict xfail).
DISAGREE: dict[str, str] = {}


@dataclass(frozen=True)
class Build:
    warehouse: Path
    grants: dict[str, dict[str, dict]]
    totals: dict[str, dict[str, Decimal]]
    fields: tuple[str, ...]


@pytest.fixture(scope="module")
def warehouse_at(tmp_path_factory):
    """`warehouse_at(as_of)`: the one build of every example read at `as_of`."""
    builds: dict[dt.datetime, Build] = {}

    def get(as_of: dt.datetime) -> Build:
        if as_of not in builds:
            scenario = Scenario.merge(ex.build() for ex in EXAMPLES.values() if ex.as_of == as_of)
            root = tmp_path_factory.mktemp(f"examples_{as_of:%Y%m%dT%H%M%S}")
            landing = write_landing(scenario, root / "landing")
            warehouse = build_warehouse(
                root / "build", landing, TEST_CATALOG_PATH, as_of.isoformat()
            )
            builds[as_of] = Build(warehouse, *warehouse_figures(warehouse))
        return builds[as_of]

    return get


def _cases():
    for name in EXAMPLES:
        marks = []
        if name in DISAGREE:
            marks.append(pytest.mark.xfail(strict=True, reason=DISAGREE[name]))
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", _cases())
def test_example_in_warehouse(name, warehouse_at):
    example = EXAMPLES[name]
    scenario = example.build()
    cid = customer_of(scenario)
    expected = reference_ledger(scenario, CATALOG, example.as_of)
    build = warehouse_at(example.as_of)
    diff = customer_diff(
        cid, expected, build.grants.get(cid, {}), build.totals.get(cid, {}), build.fields
    )
    assert not diff, "\n".join(
        [f"{name} ({cid}, as_of {example.as_of}) differs from the reference:", *diff]
        + ["  scenario:", scenario.describe()]
    )


# --------------------------------------------------------------------------------------
# The hand-worked numbers, on warehouse rows
# --------------------------------------------------------------------------------------


def _example(warehouse_at, name: str) -> tuple[Path, str]:
    example = EXAMPLES[name]
    return warehouse_at(example.as_of).warehouse, example.customer_id


def _ledger(warehouse: Path, cid: str, *types: str) -> list[tuple]:
    """(entry_at, entry_type, grant_id, credits) of one customer, in entry order."""
    rows = query(
        warehouse,
        "select entry_at, entry_type, grant_id, credits from marts.fct_credit_ledger "
        "where customer_id = ? order by entry_seq",
        [cid],
    )
    return [r for r in rows if not types or r[1] in types]


def _balance(warehouse: Path, cid: str, before: dt.datetime | None = None) -> Decimal:
    """`balance_after` of the customer's last entry (strictly before `before`, if given)."""
    rows = query(
        warehouse,
        "select balance_after from marts.fct_credit_ledger "
        "where customer_id = ? and (? is null or entry_at < ?) order by entry_seq",
        [cid, before, before],
    )
    return rows[-1][0]


def _grant(warehouse: Path, grant_id: str) -> dict[str, Any]:
    """One `marts.fct_grants` row as {column: value}."""
    con = connect(warehouse, read_only=True)
    try:
        cursor = con.execute("select * from marts.fct_grants where grant_id = ?", [grant_id])
        (row,) = cursor.fetchall()
        return dict(zip((c[0] for c in cursor.description), row, strict=True))
    finally:
        con.close()


def _totals(warehouse: Path, cid: str) -> dict[str, Decimal]:
    return dict(
        query(
            warehouse,
            "select entry_type, sum(credits) from marts.fct_credit_ledger "
            "where customer_id = ? group by entry_type",
            [cid],
        )
    )


def test_seed_000_by_hand_in_warehouse(warehouse_at):
    # 2,000 fast × 1,000 tokens → 2,000; 300 pro × 1,500 → 1,800; 50 ultra × 2,000 → 1,500:
    # usage −5,300 from the 10,000 starting balance, balance 4,700, nothing else booked.
    warehouse, cid = _example(warehouse_at, "seed_000_month")
    assert _totals(warehouse, cid) == {"grant": D(10_000), "usage": D(-5_300)}
    by_aggregator = dict(
        query(
            warehouse,
            "select aggregator_id, sum(credits) from marts.fct_credit_ledger "
            "where customer_id = ? and entry_type = 'usage' group by aggregator_id",
            [cid],
        )
    )
    assert by_aggregator == {
        "fast_tokens": D(-2_000),
        "pro_tokens": D(-1_800),
        "ultra_tokens": D(-1_500),
    }
    assert _balance(warehouse, cid) == D(4_700)
    start = _grant(warehouse, f"{cid}-g-start")
    assert (start["credits_consumed"], start["credits_remaining"]) == (D(5_300), D(4_700))


def test_seed_001_by_hand_in_warehouse(warehouse_at):
    # free 500 used up by 03-03; pro from 03-10 12:00 (10,000), then 7,000 + 10,000 + 3,000
    # used: overage 7,000 on 03-16 and 3,000 on 03-17, −10,000 at the end of March; the
    # period end 04-01 00:00 settles it (+10,000, period 2026-03); April's allowance +10,000.
    warehouse, cid = _example(warehouse_at, "seed_001_upgrade_overage")
    month_end = at("2026-04-01")
    assert _ledger(warehouse, cid, "overage") == [
        (at("2026-03-16T09:00"), "overage", None, D(-7_000)),
        (at("2026-03-17T09:00"), "overage", None, D(-3_000)),
    ]
    assert _balance(warehouse, cid, before=month_end) == D(-10_000)
    settlements = query(
        warehouse,
        "select entry_at, period, grant_id, credits, balance_after from marts.fct_credit_ledger "
        "where customer_id = ? and entry_type = 'overage_settlement'",
        [cid],
    )
    assert settlements == [(month_end, "2026-03", None, D(10_000), D(0))]
    assert _balance(warehouse, cid) == D(10_000)
    pro = _grant(warehouse, f"subscription:pro:{cid}:2026-03-10T12:00:00")
    assert (pro["credits_consumed"], pro["credits_remaining"]) == (D(10_000), D(0))


def test_promo_expiring_mid_month_by_hand_in_warehouse(warehouse_at):
    # promo 500 → 03-15 12:00: 150 + 100 used, 250 expire at exactly 03-15 12:00; the 20
    # used at that same instant come from the starting balance, after the expiry.
    warehouse, cid = _example(warehouse_at, "promo_expires_mid_month")
    expires = at("2026-03-15T12:00")
    promo_id, start_id = f"{cid}-promo", f"{cid}-start"
    assert _ledger(warehouse, cid, "usage", "expiry") == [
        (at("2026-03-10T09:00"), "usage", promo_id, D(-150)),
        (at("2026-03-15T06:00"), "usage", promo_id, D(-100)),
        (expires, "expiry", promo_id, D(-250)),
        (expires, "usage", start_id, D(-20)),
        (at("2026-03-20"), "usage", start_id, D(-40)),
    ]
    promo, start = _grant(warehouse, promo_id), _grant(warehouse, start_id)
    assert (promo["credits_consumed"], promo["credits_expired"]) == (D(250), D(250))
    assert (start["credits_consumed"], start["credits_remaining"]) == (D(60), D(940))


def test_auto_top_up_cap_by_hand_in_warehouse(warehouse_at):
    # At most 2 top-ups in 2026-03 (03-02, 03-03), a third at 04-01 00:00 in 2026-04.
    warehouse, cid = _example(warehouse_at, "auto_top_up_cap")
    rows = query(
        warehouse,
        "select grant_id, effective_at, credits, cost_basis_per_credit from marts.fct_grants "
        "where customer_id = ? and kind = 'auto_topup' order by effective_at",
        [cid],
    )
    assert Counter(f"{effective_at:%Y-%m}" for _, effective_at, _, _ in rows) == {
        "2026-03": 2,
        "2026-04": 1,
    }
    assert [r[0] for r in rows] == [
        f"auto_topup:{cid}:2026-03-02T10:00:00:1",
        f"auto_topup:{cid}:2026-03-03T10:00:00:2",
        f"auto_topup:{cid}:2026-04-01T00:00:00:3",
    ]
    assert {(r[2], r[3]) for r in rows} == {(D(300), D("1.11"))}
    assert _totals(warehouse, cid)["unfunded_writeoff"] == D(40)
    assert _balance(warehouse, cid) == D(290)


def test_rollover_by_hand_in_warehouse(warehouse_at):
    # February's unused 1,000: 300 roll over (a grant 03-01 → 04-01), 700 expire. 100 used
    # from the rollover on 03-10; at 04-01 its 200 expire, March's allowance rolls 300
    # (→ 05-01) and expires 700.
    warehouse, cid = _example(warehouse_at, "rollover")
    feb = f"subscription:rollover_pro:{cid}:2026-02-01T00:00:00"
    mar = f"subscription:rollover_pro:{cid}:2026-03-01T00:00:00"
    assert _ledger(warehouse, cid, "rollover", "expiry") == [
        (at("2026-03-01"), "rollover", feb, D(-300)),
        (at("2026-03-01"), "expiry", feb, D(-700)),
        (at("2026-04-01"), "expiry", f"rollover:{feb}", D(-200)),
        (at("2026-04-01"), "rollover", mar, D(-300)),
        (at("2026-04-01"), "expiry", mar, D(-700)),
    ]
    rolled = _grant(warehouse, f"rollover:{feb}")
    assert (rolled["kind"], rolled["credits"], rolled["effective_at"], rolled["expires_at"]) == (
        "rollover",
        D(300),
        at("2026-03-01"),
        at("2026-04-01"),
    )
    assert (rolled["credits_consumed"], rolled["credits_expired"]) == (D(100), D(200))
    assert _grant(warehouse, f"rollover:{mar}")["expires_at"] == at("2026-05-01")
    g = _grant(warehouse, feb)
    assert (g["credits_rolled_over"], g["credits_expired"], g["credits_remaining"]) == (
        D(300),
        D(700),
        D(0),
    )
    assert _balance(warehouse, cid) == D(1_300)


def test_void_after_expiry_by_hand_in_warehouse(warehouse_at):
    # promo 100 → 03-10, 60 used 03-05, 40 expire 03-10; the void at 03-12 books void +60
    # and expiry −60 on the promo, both at 03-12.
    warehouse, cid = _example(warehouse_at, "void_after_expiry")
    promo_id = f"{cid}-promo"
    assert _ledger(warehouse, cid, "void", "expiry") == [
        (at("2026-03-10"), "expiry", promo_id, D(-40)),
        (at("2026-03-12"), "void", promo_id, D(60)),
        (at("2026-03-12"), "expiry", promo_id, D(-60)),
    ]
    promo = _grant(warehouse, promo_id)
    assert (promo["credits_consumed"], promo["credits_expired"]) == (D(0), D(100))
    assert _balance(warehouse, cid) == D(0)


def test_daily_consumed_adds_up_to_the_statement_with_a_void(warehouse_at):
    # The same example: March's statement nets the void against the usage it cancels
    # (60 used, 60 voided: 0 consumed). The daily balances must add up to the same figure,
    # day by day: +60 on 03-05, -60 on 03-12.
    warehouse, cid = _example(warehouse_at, "void_after_expiry")
    daily = dict(
        query(
            warehouse,
            "select balance_date, consumed_credits from marts.fct_balances_daily "
            "where customer_id = ? and consumed_credits <> 0 and balance_date < '2026-04-01'",
            [cid],
        )
    )
    assert daily == {dt.date(2026, 3, 5): D(60), dt.date(2026, 3, 12): D(-60)}
    [(consumed,)] = query(
        warehouse,
        "select consumed from reporting.rpt_statements where customer_id = ? and period = '2026-03'",
        [cid],
    )
    assert consumed == sum(daily.values()) == D(0)


# --------------------------------------------------------------------------------------
# Scoped credits (contract §8.1), by hand in the warehouse
# --------------------------------------------------------------------------------------


def _usage_by_aggregator_and_grant(warehouse: Path, cid: str) -> dict[tuple, Decimal]:
    """Σ usage and shortfall credits per (aggregator, grant or None)."""
    return dict(
        ((aggregator, grant_id), credits)
        for aggregator, grant_id, credits in query(
            warehouse,
            "select aggregator_id, grant_id, sum(credits) from marts.fct_credit_ledger "
            "where customer_id = ? and entry_type in ('usage', 'overage', 'unfunded') "
            "group by all",
            [cid],
        )
    )


def test_scoped_promo_untouched_by_other_usage_by_hand_in_warehouse(warehouse_at):
    # promo: 100 for fast tokens only (priority 10); start: 200 for everything.
    # ultra 150 + 60 = 210: start gives its 200, 10 unfunded although the promo held 40 then;
    # fast 60 + 30 = 90, all from the promo, whose last 10 expire at 03-31.
    warehouse, cid = _example(warehouse_at, "scoped_promo_untouched_by_other_usage")
    promo, start = f"{cid}-promo", f"{cid}-start"
    assert _usage_by_aggregator_and_grant(warehouse, cid) == {
        ("ultra_tokens", start): D(-200),
        ("ultra_tokens", None): D(-10),
        ("fast_tokens", promo): D(-90),
    }
    g = _grant(warehouse, promo)
    assert (g["applies_to"], g["credits_consumed"], g["credits_expired"]) == (
        "fast_tokens",
        D(90),
        D(10),
    )
    assert _grant(warehouse, start)["applies_to"] == ""
    assert _totals(warehouse, cid)["unfunded_writeoff"] == D(10)
    assert _balance(warehouse, cid) == D(0)


def test_overlapping_scoped_grants_by_hand_in_warehouse(warehouse_at):
    # A fast+pro (priority 20), B ai_credits (30), C ultra+priority requests (10), from 03-01:
    #   fast 80 → A 80; priority 2.5 → C; ultra 60 → C 47.5, B 12.5; pro 40 → A 20, B 20;
    #   fast 100 → B 67.5, 32.5 unfunded.
    # The classes {fast, pro} and {ultra, priority} compete for B (asked 100 + 12.5 > 100),
    # so the walk draws this segment run by run.
    warehouse, cid = _example(warehouse_at, "overlapping_scoped_grants")
    a, b, c = (f"{cid}-{x}" for x in "abc")
    assert _usage_by_aggregator_and_grant(warehouse, cid) == {
        ("fast_tokens", a): D(-80),
        ("fast_tokens", b): D("-67.5"),
        ("fast_tokens", None): D("-32.5"),
        ("priority_requests", c): D("-2.5"),
        ("ultra_tokens", c): D("-47.5"),
        ("ultra_tokens", b): D("-12.5"),
        ("pro_tokens", a): D(-20),
        ("pro_tokens", b): D(-20),
    }
    assert [
        (_grant(warehouse, g)["applies_to"], _grant(warehouse, g)["credits_remaining"])
        for g in (a, b, c)
    ] == [
        ("fast_tokens|pro_tokens", D(0)),
        ("ai_credits", D(0)),
        ("priority_requests|ultra_tokens", D(0)),
    ]


def test_scoped_grant_expiring_unused_books_breakage_in_warehouse(warehouse_at):
    # fast_pack: 200 fast-only credits for 150 cents (cost basis 0.75), 03-01 → 03-31, never
    # drawn: ultra 150 and pro 200 come from pack_5k (5,500 credits for 4,500 cents), and so
    # does fast 10 at 03-31 12:00, after the pack expired.
    # March revenue: pack_5k recognizes 4,500 × 360 / 5,500 = 294.54… → 295 cents; the fast
    # pack's 150 cents are breakage at its expiry. Deferred: 150 + 4,500 − 295 − 150 = 4,205.
    warehouse, cid = _example(warehouse_at, "scoped_grant_expires_unused")
    fast, big = f"purchase:{cid}-fast", f"purchase:{cid}-big"
    assert _ledger(warehouse, cid, "usage", "expiry") == [
        (at("2026-03-10"), "usage", big, D(-150)),
        (at("2026-03-20"), "usage", big, D(-200)),
        (at("2026-03-31"), "expiry", fast, D(-200)),
        (at("2026-03-31T12:00"), "usage", big, D(-10)),
    ]
    g = _grant(warehouse, fast)
    assert (g["applies_to"], g["credits_consumed"], g["credits_expired"]) == (
        "fast_tokens",
        D(0),
        D(200),
    )
    [row] = query(
        warehouse,
        "select purchased, recognized_usage, recognized_breakage, closing_deferred "
        "from marts.fct_deferred_revenue where customer_id = ? and period = '2026-03'",
        [cid],
    )
    assert row == (4_650, 295, 150, 4_205)


def test_scoped_grant_repays_only_what_it_applies_to_in_warehouse(warehouse_at):
    # fast_plan (300 fast-only): overage ultra 150 (03-02), fast 100 (03-03). fast_pack
    # (03-04) skips the older ultra shortfall and repays the fast 100; the compensation
    # (03-05, every aggregator) repays 100 of the ultra 150; ultra 30 more (03-06). 04-01
    # settles 50 + 30 = 80.
    warehouse, cid = _example(warehouse_at, "scoped_grant_repays_only_what_it_applies_to")
    fast, comp = f"purchase:{cid}-fast", f"{cid}-comp"
    assert _ledger(warehouse, cid, "repayment", "overage_settlement") == [
        (at("2026-03-04"), "repayment", fast, D(-100)),
        (at("2026-03-05"), "repayment", comp, D(-100)),
        (at("2026-04-01"), "overage_settlement", None, D(80)),
    ]
    assert (_grant(warehouse, fast)["credits_remaining"], _balance(warehouse, cid)) == (
        D(100),
        D(400),
    )


# --------------------------------------------------------------------------------------
# Grant amendments (contract §8.3): ledger, grants, audit trail, money
# --------------------------------------------------------------------------------------


def _amendments(warehouse: Path, cid: str) -> list[tuple]:
    """(amendment_id, verdict, grant_expires_at, credits_voided) from fct_grant_amendments."""
    return query(
        warehouse,
        "select amendment_id, verdict, grant_expires_at, credits_voided "
        "from marts.fct_grant_amendments where customer_id = ? or grant_id like ? "
        "order by amendment_id",
        [cid, f"{cid}-%"],
    )


def _revenue(warehouse: Path, grant_id: str) -> list[tuple]:
    """(period, amount_paid, recognized, refunded, voided, breakage, deferred) to date."""
    return query(
        warehouse,
        "select period, amount_paid, recognized_to_date, refunded_to_date, voided_to_date, "
        "breakage_to_date, deferred_to_date from intermediate.int_revenue_by_grant_period "
        "where grant_id = ? order by period",
        [grant_id],
    )


def test_grant_void_of_a_half_used_bundle_by_hand_in_warehouse(warehouse_at):
    # pack_5k bought 03-01 for 4,500 cents: 5,500 credits, 4,500 / 5,500 per credit.
    # 2,750 used 03-05, the rest voided 03-10: grant_void −2,750. The credit note gives back
    # the unconsumed share: 4,500 × 2,750 / 5,500 = 2,250 cents, tax 20% = 450, total 2,700.
    # Revenue to the end of March: recognized 2,250 + voided 2,250 = 4,500 paid, nothing
    # refunded, broken or deferred. The new expiry set on 03-11 finds the grant voided.
    warehouse, cid = _example(warehouse_at, "grant_void_of_a_half_used_bundle")
    buy = f"purchase:{cid}-buy"
    assert _ledger(warehouse, cid, "grant_void") == [
        (at("2026-03-10"), "grant_void", buy, D(-2_750))
    ]
    g = _grant(warehouse, buy)
    assert (g["credits_consumed"], g["credits_voided"], g["credits_remaining"]) == (
        D(2_750),
        D(2_750),
        D(0),
    )
    assert (g["voided_at"], g["expires_at"]) == (at("2026-03-10"), None)
    assert _amendments(warehouse, cid) == [
        (f"{cid}-m1", "applied", None, D(2_750)),
        (f"{cid}-m2", "no_effect", None, None),
    ]
    notes = query(
        warehouse,
        "select invoice_id, invoice_type, issued_at, subtotal, tax, total from marts.fct_invoices "
        "where customer_id = ? and invoice_type = 'credit_note'",
        [cid],
    )
    assert notes == [
        (f"credit_note:void:{cid}-m1", "credit_note", at("2026-03-10"), 2_250, 450, 2_700)
    ]
    assert _revenue(warehouse, buy)[0] == ("2026-03", 4_500, 2_250, 0, 2_250, 0, 0)
    deferred = query(
        warehouse,
        "select period, opening_deferred, purchased, recognized_usage, recognized_breakage, "
        "refunded, closing_deferred from marts.fct_deferred_revenue where customer_id = ? "
        "order by period",
        [cid],
    )
    assert deferred[0] == ("2026-03", 0, 4_500, 2_250, 0, 2_250, 0)


def test_grant_void_before_it_takes_effect_by_hand_in_warehouse(warehouse_at):
    # promo 500 due 03-20, voided 03-10: no ledger entry at all, credits_voided 500. The
    # amendment naming no grant is quarantined as unknown_grant, and kept in the trail.
    warehouse, cid = _example(warehouse_at, "grant_void_before_it_takes_effect")
    promo_id = f"{cid}-promo"
    assert [r for r in _ledger(warehouse, cid) if r[2] == promo_id] == []
    promo = _grant(warehouse, promo_id)
    assert (promo["credits_voided"], promo["credits_consumed"], promo["credits_remaining"]) == (
        D(500),
        D(0),
        D(0),
    )
    assert promo["voided_at"] == at("2026-03-10")
    assert _amendments(warehouse, cid) == [
        (f"{cid}-m1", "applied", None, D(500)),
        (f"{cid}-m2", "unknown_grant", None, None),
    ]
    assert query(
        warehouse,
        "select feed, reason from marts.fct_event_quarantine where raw_payload like ?",
        [f"%{cid}-m2%"],
    ) == [("grant_amendments", "unknown_grant")]
    assert _balance(warehouse, cid) == D(900)


def test_grant_expiry_brought_forward_by_hand_in_warehouse(warehouse_at):
    # pack_1k (1,100 credits for 1,000 cents, expiring 03-31) brought forward to 03-15 on
    # 03-10: 550 used, 550 expire at 03-15. Revenue: recognized 1,000 × 550 / 1,100 = 500,
    # breakage 500 in March; nothing deferred.
    warehouse, cid = _example(warehouse_at, "grant_expiry_brought_forward")
    buy = f"purchase:{cid}-buy"
    assert _ledger(warehouse, cid, "expiry") == [(at("2026-03-15"), "expiry", buy, D(-550))]
    g = _grant(warehouse, buy)
    assert (g["expires_at"], g["credits_consumed"], g["credits_expired"]) == (
        at("2026-03-15"),
        D(550),
        D(550),
    )
    assert _amendments(warehouse, cid) == [(f"{cid}-m1", "applied", at("2026-03-15"), None)]
    assert _revenue(warehouse, buy)[0] == ("2026-03", 1_000, 500, 0, 0, 500, 0)


def test_grant_expiry_pushed_back_by_hand_in_warehouse(warehouse_at):
    # promo 300 (03-01 → 03-10) pushed back to 03-25 on 03-05: 100 used on 03-15, 200
    # expire at 03-25.
    warehouse, cid = _example(warehouse_at, "grant_expiry_pushed_back")
    promo_id = f"{cid}-promo"
    assert _ledger(warehouse, cid) == [
        (at("2026-03-01"), "grant", promo_id, D(300)),
        (at("2026-03-15"), "usage", promo_id, D(-100)),
        (at("2026-03-25"), "expiry", promo_id, D(-200)),
    ]
    assert _grant(warehouse, promo_id)["expires_at"] == at("2026-03-25")
    assert _amendments(warehouse, cid) == [(f"{cid}-m1", "applied", at("2026-03-25"), None)]


def test_a_grant_voided_before_it_takes_effect_is_not_on_the_statement(warehouse_at):
    # March's statement lists the starting balance (03-01) among the grants received, not
    # the promo voided before its 03-20: it was never received.
    warehouse, cid = _example(warehouse_at, "grant_void_before_it_takes_effect")
    listed = query(
        warehouse,
        "select item_id from reporting.rpt_statement_lines "
        "where customer_id = ? and period = '2026-03' and section = 'grant'",
        [cid],
    )
    assert listed == [(f"{cid}-start",)]
