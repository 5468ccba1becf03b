"""Breakage under `settings.breakage_policy: proportional` (docs/ledger.md "Breakage"), on
worked examples, in one build.

The rule: a paid grant with an expiry, taking effect in period P, is estimated at the rate of
the cohorts of its currency and kind, the paid grants whose life ended before P: X credits
expired and U consumed among them, rate X / (X + U). Its estimate to date is
round_half_even(recognized_to_date × X / U) (= recognized × rate / (1 - rate)); breakage to
date lies between what expired and what is unused, the estimate in between, and is exactly
what expired once the grant's life is over; the true-up is breakage - estimate.

nova-fast costs 1 credit per 1,000 tokens. Clock 2026-07-01.

USD, the worked example:
- cus_cohort: a paid grants-feed grant (kind starting_balance) of 1,000 credits at 5¢ each
  ($50), 2026-01-01 to 2026-02-01; 800 used in January, so 200 expire on 2026-02-01. Its
  life ends in February: from March, the USD starting_balance cohort is X = 200 expired,
  U = 800 consumed, rate 200/1000 = 20%.
- cus_pcohort: buys pack_31d (test bundle: 1,000 credits, $50, 31 days) on 2026-01-01 and
  uses 800 in January: the USD purchase cohort from March is the same, X = 200, U = 800.
  It took effect in January, with no cohort before it: rate 0, breakage at expiry as ever:
  January recognized 800 × 5 = 4,000; February breakage 1,000 (all true-up).
- cus_worked: a starting_balance grant of 500 credits for $50.00 (5,000 minor units: 10 per credit), 2026-03-01 to
  2026-05-01. Uses 100 in March, 250 in April; 150 expire on 2026-05-01.
  March: recognized 1,000; estimate 1,000 × 200/800 = 250; closing 5,000 - 1,000 - 250 = 3,750.
  April: recognized 2,500 (3,500 to date); estimate to date 3,500 × 200/800 = 875, so 625 in
  April; closing 5,000 - 3,500 - 875 = 625.
  May: 150 expire, 1,500 of breakage in all: true-up 1,500 - 875 = 625; closing 0.
  Life: recognized 3,500 + estimate 875 + true-up 625 = 5,000.
- cus_refund: buys pack_10k (10,000 credits, $100, 365 days) on 2026-03-01, uses 2,000 in
  March, refunded 2026-04-10. March: recognized 2,000; estimate 2,000 × 200/800 = 500;
  closing 7,500. April: refunded the unconsumed 8,000 (the credit note); nothing expired, so
  breakage is 0 and the true-up takes back the 500: closing 7,500 + 500 - 8,000 = 0.
  Life: recognized 2,000 + refunded 8,000 + estimate 500 - true-up 500 = 10,000.

EUR, amounts that do not divide (the rate is per currency):
- cus_eu_cohort: 3 credits at 1 cent each, 2026-01-01 to 2026-02-01, 2 used in January:
  the EUR cohort from March is X = 1, U = 2, rate 1/3, estimate = recognized × 1/2.
- cus_eu: 3 credits at a cost basis of 33.333333333333 (round(99.999999999999) = 100 cents),
  2026-03-01 to 2026-06-01; one credit used in each of March, April and May.
  March: recognized round(100/3) = 33; estimate round_half_even(33/2 = 16.5) = 16 (to even);
  unused 67; closing 67 - 16 = 51.
  April: recognized to date round(200/3) = 67 (34 in April); estimate round_half_even(33.5)
  = 34 (to even), but only 33 is unused: breakage to date 33, true-up -1; closing 0.
  April: estimate 34 - 16 = 18, true-up -1, breakage 17; 51 - 34 - 17 = 0.
  May: the last credit is consumed: recognized 100 to date (33 in May); estimate 50 to date
  (16 in May); the life is over and nothing expired: breakage 0, true-up -50 to date (-49 in
  May). Life: recognized 100 + estimate 50 + true-up -50 = 100.
- cus_eu_buyer: buys pack_10k (10,000 credits, 9,500 euro cents) on 2026-03-01 and uses
  1,000 in March: recognized 950. No EUR purchase has ended before March: no estimate.
"""

import duckdb
import pytest
import yaml
from helpers import CATALOG_PATH, build_warehouse, fast_event, query, write_landing

from credits_warehouse.catalog import CatalogError, load_catalog, parse_catalog
from credits_warehouse.checks import models as m
from credits_warehouse.checks.pushdown import judge
from credits_warehouse.warehouse import connect, write_catalog
from dagster_project.cli import main

AS_OF = "2026-07-01T00:00:00"


def _customer(customer_id, currency):
    return {
        "customer_id": customer_id,
        "name": customer_id,
        "currency": currency,
        "country": "US",
        "tax_rate": "0",
        "created_at": "2025-12-01T00:00:00Z",
    }


def _grant(grant_id, customer_id, credits, cost_basis, effective, expires):
    return {
        "grant_id": grant_id,
        "customer_id": customer_id,
        "kind": "starting_balance",
        "credits": credits,
        "effective_at": effective,
        "expires_at": expires,
        "priority": "",
        "cost_basis_per_credit": cost_basis,
        "reason": "migration",
        "created_by": "finance",
    }


def _proportional_catalog(root):
    catalog = yaml.safe_load(CATALOG_PATH.read_text())
    catalog.setdefault("settings", {})["breakage_policy"] = "proportional"
    catalog["bundles"].append(
        {"id": "pack_31d", "credits": 1000, "bonus_credits": 0, "prices": {"USD": 5000},
         "expires_after_days": 31, "priority": 50}
    )  # fmt: skip
    path = root / "catalog.yml"
    path.write_text(yaml.safe_dump(catalog))
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("breakage")
    customers = [
        _customer("cus_cohort", "USD"),
        _customer("cus_pcohort", "USD"),
        _customer("cus_worked", "USD"),
        _customer("cus_refund", "USD"),
        _customer("cus_eu_cohort", "EUR"),
        _customer("cus_eu", "EUR"),
        _customer("cus_eu_buyer", "EUR"),
    ]
    jan, feb, mar, may, jun = (f"2026-{m:02d}-01T00:00:00Z" for m in (1, 2, 3, 5, 6))
    grants = [
        _grant("g_cohort", "cus_cohort", "1000", "5", jan, feb),
        _grant("g_worked", "cus_worked", "500", "10", mar, may),
        _grant("g_eu_cohort", "cus_eu_cohort", "3", "1", jan, feb),
        _grant("g_eu", "cus_eu", "3", "33.333333333333", mar, jun),
    ]
    purchases = [
        {"purchase_id": "p_cohort", "customer_id": "cus_pcohort", "bundle_id": "pack_31d", "quantity": 1,
         "purchased_at": jan, "amount_paid": 5000, "currency": "USD", "status": "succeeded"},
        {"purchase_id": "p_refund", "customer_id": "cus_refund", "bundle_id": "pack_10k", "quantity": 1,
         "purchased_at": mar, "amount_paid": 10000, "currency": "USD", "status": "refunded"},
        {"purchase_id": "p_eu", "customer_id": "cus_eu_buyer", "bundle_id": "pack_10k", "quantity": 1,
         "purchased_at": mar, "amount_paid": 9500, "currency": "EUR", "status": "succeeded"},
    ]  # fmt: skip
    refunds = [
        {
            "refund_id": "r1",
            "purchase_id": "p_refund",
            "refunded_at": "2026-04-10T00:00:00Z",
            "reason": "asked",
        }
    ]
    events = [
        fast_event("c1", "cus_cohort", "2026-01-15T00:00:00Z", 800, user_id="u1"),
        fast_event("p1", "cus_pcohort", "2026-01-15T00:00:00Z", 800, user_id="u1"),
        fast_event("w1", "cus_worked", "2026-03-15T00:00:00Z", 100, user_id="u1"),
        fast_event("w2", "cus_worked", "2026-04-15T00:00:00Z", 250, user_id="u1"),
        fast_event("r1", "cus_refund", "2026-03-15T00:00:00Z", 2000, user_id="u1"),
        fast_event("e0", "cus_eu_cohort", "2026-01-15T00:00:00Z", 2, user_id="u1"),
        fast_event("e1", "cus_eu", "2026-03-15T00:00:00Z", 1, user_id="u1"),
        fast_event("e2", "cus_eu", "2026-04-15T00:00:00Z", 1, user_id="u1"),
        fast_event("e3", "cus_eu", "2026-05-15T00:00:00Z", 1, user_id="u1"),
        fast_event("b1", "cus_eu_buyer", "2026-03-15T00:00:00Z", 1000, user_id="u1"),
    ]
    landing = write_landing(
        root / "landing",
        customers=customers,
        purchases=purchases,
        grants=grants,
        refunds=refunds,
        events_jsonl=events,
    )
    return build_warehouse(root, landing, catalog_path=_proportional_catalog(root), as_of=AS_OF)


def _roll(warehouse, customer_id):
    return {
        row[0]: row[1:]
        for row in query(
            warehouse,
            "select period, opening_deferred, purchased, recognized_usage, breakage_estimate,"
            " breakage_true_up, refunded, closing_deferred from marts.fct_deferred_revenue"
            " where customer_id = ? and (purchased, recognized_usage, recognized_breakage, refunded,"
            " closing_deferred) <> (0, 0, 0, 0, 0) order by period",
            [customer_id],
        )
    }


def test_no_cohort_before_a_grant_means_rate_0_and_breakage_at_expiry(warehouse):
    #                   opening purchased recognized estimate true-up refunded closing
    for customer_id in ("cus_cohort", "cus_pcohort"):
        assert _roll(warehouse, customer_id) == {
            "2026-01": (0, 5000, 4000, 0, 0, 0, 1000),
            "2026-02": (1000, 0, 0, 0, 1000, 0, 0),
        }


def test_a_kind_with_no_cohort_is_not_estimated(warehouse):
    # EUR has a starting_balance cohort (rate 1/3) but no purchase cohort: the purchase is
    # booked as under at_expiry.
    #                                   opening purchased recognized estimate true-up refunded closing
    assert _roll(warehouse, "cus_eu_buyer")["2026-03"] == (0, 9500, 950, 0, 0, 0, 8550)


def test_the_worked_example_estimates_20_percent_and_trues_up_at_expiry(warehouse):
    roll = _roll(warehouse, "cus_worked")
    assert roll == {
        "2026-03": (0, 5000, 1000, 250, 0, 0, 3750),
        "2026-04": (3750, 0, 2500, 625, 0, 0, 625),
        "2026-05": (625, 0, 0, 0, 625, 0, 0),
    }
    # recognized + estimate + true-up over the grant's life = paid, exactly.
    assert sum(r[2] + r[3] + r[4] + r[5] for r in roll.values()) == 5000


def test_a_refund_takes_the_estimate_back(warehouse):
    roll = _roll(warehouse, "cus_refund")
    assert roll == {
        "2026-03": (0, 10000, 2000, 500, 0, 0, 7500),
        "2026-04": (7500, 0, 0, 0, -500, 8000, 0),
    }
    assert sum(r[2] + r[3] + r[4] + r[5] for r in roll.values()) == 10000


def test_amounts_that_do_not_divide_round_half_even_and_stay_exact(warehouse):
    roll = _roll(warehouse, "cus_eu")
    assert roll == {
        "2026-03": (0, 100, 33, 16, 0, 0, 51),
        "2026-04": (51, 0, 34, 18, -1, 0, 0),
        "2026-05": (0, 0, 33, 16, -49, 0, 0),
    }
    assert sum(r[2] + r[3] + r[4] + r[5] for r in roll.values()) == 100


def test_the_grant_rows_split_breakage_to_date(warehouse):
    rows = query(
        warehouse,
        "select period, recognized_to_date, breakage_estimate_to_date, breakage_true_up_to_date,"
        " breakage_to_date, deferred_to_date from intermediate.int_revenue_by_grant_period"
        " where grant_id = 'g_eu' order by period",
    )
    assert rows == [
        ("2026-03", 33, 16, 0, 16, 51),
        ("2026-04", 67, 34, -1, 33, 0),
        ("2026-05", 100, 50, -50, 0, 0),
        ("2026-06", 100, 50, -50, 0, 0),
        ("2026-07", 100, 50, -50, 0, 0),
    ]


def test_journals_post_the_estimate_and_the_true_up_apart(warehouse):
    rows = query(
        warehouse,
        "select journal_id, source_type, account, debit, credit from marts.fct_journal_entries"
        " where customer_id = 'cus_worked' and source_type like 'breakage%'"
        " order by period, journal_id, account",
    )
    assert rows == [
        ("breakage_estimate:cus_worked:2026-03:USD", "breakage_estimate", "breakage_revenue", 0, 250),
        ("breakage_estimate:cus_worked:2026-03:USD", "breakage_estimate", "deferred_revenue", 250, 0),
        ("breakage_estimate:cus_worked:2026-04:USD", "breakage_estimate", "breakage_revenue", 0, 625),
        ("breakage_estimate:cus_worked:2026-04:USD", "breakage_estimate", "deferred_revenue", 625, 0),
        ("breakage:cus_worked:2026-05:USD", "breakage", "breakage_revenue", 0, 625),
        ("breakage:cus_worked:2026-05:USD", "breakage", "deferred_revenue", 625, 0),
    ]  # fmt: skip
    # A negative true-up swaps the sides: the refund's takes 500 back from breakage revenue.
    assert query(
        warehouse,
        "select account, debit, credit from marts.fct_journal_entries"
        " where journal_id = 'breakage:cus_refund:2026-04:USD' order by account",
    ) == [("breakage_revenue", 500, 0), ("deferred_revenue", 0, 500)]


def test_the_pandera_rules_hold_on_every_row(warehouse):
    con = connect(warehouse, read_only=True)
    try:
        for model, relation in (
            (m.RevenueByGrantPeriod, "intermediate.int_revenue_by_grant_period"),
            (m.DeferredRevenue, "marts.fct_deferred_revenue"),
            (m.JournalEntries, "marts.fct_journal_entries"),
        ):
            verdict = judge(con, model, f"select * from {relation}")  # noqa: S608 - fixed names
            assert verdict.passed, verdict.summary
    finally:
        con.close()


# --- the setting itself: validated, and fixed once a period is closed --------------------


def test_an_unknown_policy_is_one_clear_line():
    data = yaml.safe_load(CATALOG_PATH.read_text())
    data["settings"]["breakage_policy"] = "sometimes"
    with pytest.raises(CatalogError) as err:
        parse_catalog(data, "catalog.yml")
    assert str(err.value) == (
        "invalid catalog catalog.yml: settings.breakage_policy: Input should be 'at_expiry' or"
        " 'proportional'"
    )


def test_the_policy_cannot_change_once_a_period_is_closed(tmp_path):
    at_expiry = load_catalog(CATALOG_PATH)
    proportional = load_catalog(_proportional_catalog(tmp_path))
    assert at_expiry.settings.breakage_policy == "at_expiry"  # the default
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        write_catalog(con, at_expiry)
        write_catalog(con, proportional)  # nothing closed yet: free to change
        write_catalog(con, at_expiry)
        con.execute("create table raw.period_closes (period varchar)")
        con.execute("insert into raw.period_closes values ('2026-03')")
        write_catalog(con, at_expiry)  # the same policy: fine
        with pytest.raises(CatalogError) as err:
            write_catalog(con, proportional)
        assert str(err.value) == (
            "settings.breakage_policy: cannot change from at_expiry to proportional: periods"
            " through 2026-03 are closed and their deferred revenue would change"
        )
        # Refused before anything was written.
        assert con.execute(
            "select value from raw.catalog_settings where setting = 'breakage_policy'"
        ).fetchall() == [("at_expiry",)]
        # A scratch copy that forgets its frozen figures (credits simulate) may ask for it.
        write_catalog(con, proportional, closed_periods_kept=False)
        assert con.execute(
            "select value from raw.catalog_settings where setting = 'breakage_policy'"
        ).fetchall() == [("proportional",)]
    finally:
        con.close()


def test_the_cli_refuses_the_change_in_one_line_before_it_runs(tmp_path, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        write_catalog(con, load_catalog(CATALOG_PATH))
        con.execute("create table raw.period_closes (period varchar)")
        con.execute("insert into raw.period_closes values ('2026-01')")
    finally:
        con.close()
    (tmp_path / "landing").mkdir()
    argv = ["--catalog", str(_proportional_catalog(tmp_path)), "--landing", str(tmp_path / "landing"),
            "--warehouse", str(warehouse), "--reports", str(tmp_path / "reports"),
            "--as-of", "2026-04-01T00:00:00"]  # fmt: skip
    assert main(["run", *argv]) == 1
    assert capsys.readouterr().err == (
        "credits run: settings.breakage_policy: cannot change from at_expiry to proportional:"
        " periods through 2026-01 are closed and their deferred revenue would change\n"
    )
