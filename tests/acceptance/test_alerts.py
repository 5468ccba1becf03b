"""Customer notifications (`fct_alerts`, contract §6.1): one hand-built customer per rule,
in one build.

Shipped catalog: nova-fast costs 1 credit per 1,000 tokens; plan `free` grants 500 credits
at its start and each period start, expiring at period end, with warning_limit 100 and
overage none; alerts fire 30, 7 and 1 days before an expiry and on a day above k = 3 × the
trailing 28-day median. The clock is 2026-04-01T00:00 UTC, so the April allowance of the
free-plan customers is granted at the clock and March's expires then.

Hand-worked alerts (every alert of every customer; "U" = usage at 12:00 UTC that day):
- cus_low_plan (free from 03-28, no override): +500 on 03-28; U 03-29 450 → 50 < 100:
  low_balance 03-29T12:00. The allowance still holds 50 one day before its expiry:
  credits_expiring 03-31T00:00 (its 30- and 7-day instants fall before it took effect).
  At 04-01 the 50 expire → 0: balance_depleted 04-01T00:00.
- cus_override_above (free from 03-28, threshold 300 > the plan's 100): U 03-29 250 →
  250, not below the plan's 100 but below 300: low_balance 03-29T12:00; expiring 03-31;
  depleted 04-01.
- cus_override_below (free from 03-28, threshold 20 < the plan's 100): U 03-29 450 → 50
  would cross the plan's 100 but not 20: nothing; U 03-30 40 → 10 < 20: low_balance
  03-30T12:00; expiring 03-31; depleted 04-01.
- cus_override_no_plan (no plan, threshold 500): starting balance 1,000 never expiring;
  U 03-05 600 → 400: low_balance 03-05T12:00 (an override needs no plan).
- cus_depleted (no plan): starting balance 100; U 03-05 100 → 0: balance_depleted
  03-05T12:00. No plan and no override: no low_balance.
- cus_unfunded (no plan, no credits): U 02-10 5, U 03-10 5, U 03-12 5 are unfunded, each
  period's writeoff brings the balance back to 0: unfunded_usage 02-10T12:00 and
  03-10T12:00, the first of each period only. A balance that starts at 0 is not depleted.
- cus_expiring: g_exp_a 100 credits 02-01 → 03-15; g_exp_b 50 credits priority 10,
  02-20 → 03-31; starting balance 10 never expiring (so no depletion at expiry).
  g_exp_a holds 100 at 02-13 (30 days before): credits_expiring 02-13T00:00; g_exp_b holds
  50 at 03-01 (30 days before 03-31): credits_expiring 03-01T00:00. U 03-10 110 draws
  g_exp_b's 50 first (priority), then 60 of g_exp_a; g_exp_a still holds 100 at 03-08 and
  40 at 03-14: credits_expiring 03-08T00:00 and 03-14T00:00. g_exp_b is empty at 03-24 and
  03-30: no notice. 40 expire on 03-15: balance 160 − 110 − 40 = 10, not depleted.
- cus_spike (no plan, starting balance 100,000 from 03-01): U 10 credits on 03-01..03-07,
  k × 10 on 03-08 (trailing median 10: equal to k × median is not above it), k × 10 + 1
  on 03-09 (trailing median of [10 × 7, k × 10] is 10): usage_spike at the end of 03-09,
  03-10T00:00.

User limits (contract §8.4; the test catalog adds plan `team`: no allowance, warning_limit 0,
user_limits {dimension: user_id, monthly_credits: 100}; crossing means going past 100, so
reaching exactly 100 does not cross; counted per calendar month, once per user and month,
only for usage under the plan; nova_fast_tokens keeps user_id, api_key and project):
- cus_user_limit (team from 02-01, starting balance 10,000 never expiring):
  February: u_a 60 (02-10) then 50 (02-11) → 110 > 100: user_limit 02-11T12:00 with
  credits 110; u_a 30 more (02-20) → 140, no second alert that month. u_b 60 (02-12) then
  40 (02-13) → exactly 100: none.
  March starts again at 0: u_a 60 (03-10) then 50 (03-11) → 110: user_limit 03-11T12:00.
  u_b 40, u_d 30, u_e 20, u_f 10, u_h 10, u_g 5 and 500 credits with no user (03-15):
  none. The limit blocks nothing: 10,000 − (240 + 725) = 9,035 left at the clock.
- cus_switch (team only from 03-15, starting balance 10,000): u_c 80 (03-05, before the
  plan: not counted) and 60 (03-20) → 60 under the plan: none (140 would have crossed).

Depletion forecast at the clock (docs/ledger.md): balance × 28 / usage of [03-04, 04-01),
floored, days after 04-01, against the next grant (the free plan's May allowance, 05-01):
- cus_override_below: 500 (April's allowance) over 450 + 40 = 490: floor(14,000 / 490 =
  28.6) = 28 → 04-29, before 05-01: forecast_depletion 04-01T00:00 (the clock).
- cus_low_plan: 500 over 450: floor(31.1) = 31 → 05-02; cus_override_above: 500 over 250:
  56 → 05-27: after the next grant, none. The customers without a plan have no grant coming,
  and a forecast with nothing to come before raises no alert.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from helpers import CATALOG_PATH, FEED_COLUMNS, build_warehouse, query, write_csv, write_landing

from credits_warehouse.ingest import OPTIONAL_FEED_COLUMNS

AS_OF = "2026-04-01T00:00:00"
K = Decimal(str(yaml.safe_load(CATALOG_PATH.read_text())["alerts"]["usage_spike_factor"]))
CUSTOMER_COLUMNS = [*FEED_COLUMNS["customers"], *OPTIONAL_FEED_COLUMNS["customers"]]

# customer_id: low_balance_threshold ("" = the plan's)
CUSTOMERS = {
    "cus_low_plan": "",
    "cus_override_above": "300",
    "cus_override_below": " 20 ",  # cells are trimmed like every other feed value
    "cus_override_no_plan": "500",
    "cus_depleted": "",
    "cus_unfunded": "",
    "cus_expiring": "",
    "cus_spike": "",
    "cus_user_limit": "",
    "cus_switch": "",
}
FREE_FROM_03_28 = ("cus_low_plan", "cus_override_above", "cus_override_below")


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


EXPECTED = {
    ("cus_low_plan", "low_balance", _at("2026-03-29T12:00:00")),
    ("cus_low_plan", "credits_expiring", _at("2026-03-31T00:00:00")),
    ("cus_low_plan", "balance_depleted", _at("2026-04-01T00:00:00")),
    ("cus_override_above", "low_balance", _at("2026-03-29T12:00:00")),
    ("cus_override_above", "credits_expiring", _at("2026-03-31T00:00:00")),
    ("cus_override_above", "balance_depleted", _at("2026-04-01T00:00:00")),
    ("cus_override_below", "low_balance", _at("2026-03-30T12:00:00")),
    ("cus_override_below", "credits_expiring", _at("2026-03-31T00:00:00")),
    ("cus_override_below", "balance_depleted", _at("2026-04-01T00:00:00")),
    ("cus_override_no_plan", "low_balance", _at("2026-03-05T12:00:00")),
    ("cus_depleted", "balance_depleted", _at("2026-03-05T12:00:00")),
    ("cus_unfunded", "unfunded_usage", _at("2026-02-10T12:00:00")),
    ("cus_unfunded", "unfunded_usage", _at("2026-03-10T12:00:00")),
    ("cus_expiring", "credits_expiring", _at("2026-02-13T00:00:00")),
    ("cus_expiring", "credits_expiring", _at("2026-03-01T00:00:00")),
    ("cus_expiring", "credits_expiring", _at("2026-03-08T00:00:00")),
    ("cus_expiring", "credits_expiring", _at("2026-03-14T00:00:00")),
    ("cus_spike", "usage_spike", _at("2026-03-10T00:00:00")),
    ("cus_user_limit", "user_limit", _at("2026-02-11T12:00:00")),
    ("cus_user_limit", "user_limit", _at("2026-03-11T12:00:00")),
    ("cus_override_below", "forecast_depletion", _at("2026-04-01T00:00:00")),
}

# The shipped catalog, plus plan `team` with a user limit and more dimensions to report by.
TEAM_PLAN = {
    "id": "team",
    "fees": {"USD": 0},
    "included_credits": 0,
    "user_limits": {"dimension": "user_id", "monthly_credits": 100},
}


def _usage(
    event_id: str, customer_id: str, day: str, credits: Decimal | int, user: str | None = "u1",
    **properties: str,
) -> dict:  # fmt: skip
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": "llm_token_usage",
        "timestamp": f"{day}T12:00:00Z",
        "properties": {
            "model": "nova-fast",
            "tokens": int(Decimal(credits) * 1000),
            **({"user_id": user} if user else {}),
            **properties,
        },
    }


def _team_usage() -> list[dict]:
    """The user-limit customers' events, as the module docstring works them out."""
    spend = [  # (customer, day, user, credits)
        ("cus_user_limit", "2026-02-10", "u_a", 60),
        ("cus_user_limit", "2026-02-11", "u_a", 50),
        ("cus_user_limit", "2026-02-20", "u_a", 30),
        ("cus_user_limit", "2026-02-12", "u_b", 60),
        ("cus_user_limit", "2026-02-13", "u_b", 40),
        ("cus_user_limit", "2026-03-10", "u_a", 60),
        ("cus_user_limit", "2026-03-11", "u_a", 50),
        ("cus_user_limit", "2026-03-12", "u_b", 40),
        ("cus_user_limit", "2026-03-12", "u_d", 30),
        ("cus_user_limit", "2026-03-12", "u_e", 20),
        ("cus_user_limit", "2026-03-12", "u_f", 10),
        ("cus_user_limit", "2026-03-12", "u_h", 10),
        ("cus_user_limit", "2026-03-12", "u_g", 5),
        ("cus_user_limit", "2026-03-15", None, 500),
        ("cus_switch", "2026-03-05", "u_c", 80),
        ("cus_switch", "2026-03-20", "u_c", 60),
    ]
    # In February u_a calls through two API keys, and u_b in project "search".
    keys = {0: {"api_key": "key_1", "project": "chat"}, 1: {"api_key": "key_2"},
            2: {"api_key": "key_1"}, 3: {"project": "search"}, 4: {"project": "search"}}  # fmt: skip
    return [
        _usage(f"team_{n}", customer, day, credits, user, **keys.get(n, {}))
        for n, (customer, day, user, credits) in enumerate(spend)
    ]


def _team_catalog(path: Path) -> Path:
    data = yaml.safe_load(CATALOG_PATH.read_text())
    data["plans"].append(TEAM_PLAN)
    data["aggregators"][0]["dimensions"] = ["user_id", "api_key", "project"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _grant(grant_id, customer_id, kind, credits, effective, expires="", priority=""):
    return {
        "grant_id": grant_id,
        "customer_id": customer_id,
        "kind": kind,
        "credits": credits,
        "effective_at": f"{effective}T00:00:00Z",
        "expires_at": f"{expires}T00:00:00Z" if expires else "",
        "priority": priority,
        "cost_basis_per_credit": "",
        "reason": "test",
        "created_by": "test",
    }


def _customer(customer_id: str, threshold: str) -> dict:
    return {
        "customer_id": customer_id,
        "name": customer_id,
        "currency": "USD",
        "country": "US",
        "tax_rate": "0",
        "created_at": "2025-12-01T00:00:00Z",
        "low_balance_threshold": threshold,
    }


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("alerts")
    customers = [_customer(c, t) for c, t in CUSTOMERS.items()]
    # Broken thresholds, quarantined as invalid_value: a new customer (so it is unknown) and
    # a later version of cus_depleted (so its earlier, valid row stays current).
    customers += [_customer("cus_bad_threshold", "-5"), _customer("cus_depleted", "lots")]
    subscriptions = [
        {"customer_id": c, "plan_id": "free", "started_at": "2026-03-28T00:00:00Z"}
        for c in FREE_FROM_03_28
    ] + [
        {"customer_id": "cus_user_limit", "plan_id": "team", "started_at": "2026-02-01T00:00:00Z"},
        {"customer_id": "cus_switch", "plan_id": "team", "started_at": "2026-03-15T00:00:00Z"},
    ]
    grants = [
        _grant("g_no_plan", "cus_override_no_plan", "starting_balance", "1000", "2026-03-01"),
        _grant("g_depleted", "cus_depleted", "starting_balance", "100", "2026-03-01"),
        _grant("g_exp_a", "cus_expiring", "promotional", "100", "2026-02-01", "2026-03-15"),
        _grant("g_exp_b", "cus_expiring", "promotional", "50", "2026-02-20", "2026-03-31", "10"),
        _grant("g_exp_floor", "cus_expiring", "starting_balance", "10", "2026-02-01"),
        _grant("g_spike", "cus_spike", "starting_balance", "100000", "2026-03-01"),
        _grant("g_team", "cus_user_limit", "starting_balance", "10000", "2026-02-01"),
        _grant("g_switch", "cus_switch", "starting_balance", "10000", "2026-03-01"),
    ]
    events = [
        _usage("low_plan_1", "cus_low_plan", "2026-03-29", 450),
        _usage("above_1", "cus_override_above", "2026-03-29", 250),
        _usage("below_1", "cus_override_below", "2026-03-29", 450),
        _usage("below_2", "cus_override_below", "2026-03-30", 40),
        _usage("no_plan_1", "cus_override_no_plan", "2026-03-05", 600),
        _usage("depleted_1", "cus_depleted", "2026-03-05", 100),
        _usage("unfunded_1", "cus_unfunded", "2026-02-10", 5),
        _usage("unfunded_2", "cus_unfunded", "2026-03-10", 5),
        _usage("unfunded_3", "cus_unfunded", "2026-03-12", 5),
        _usage("expiring_1", "cus_expiring", "2026-03-10", 110),
        *(_usage(f"spike_base_{d}", "cus_spike", f"2026-03-0{d}", 10) for d in range(1, 8)),
        _usage("spike_at_k", "cus_spike", "2026-03-08", K * 10),
        _usage("spike_above_k", "cus_spike", "2026-03-09", K * 10 + 1),
        *_team_usage(),
    ]
    landing = write_landing(
        root / "landing", subscriptions=subscriptions, grants=grants, events_jsonl=events
    )
    write_csv(landing / "customers.csv", CUSTOMER_COLUMNS, customers)
    catalog = _team_catalog(root / "catalog.yml")
    return build_warehouse(root, landing, catalog_path=catalog, as_of=AS_OF)


def _alerts(warehouse):
    return query(
        warehouse,
        "select customer_id, alert_type, triggered_at, details from marts.fct_alerts "
        "order by customer_id, triggered_at, alert_type",
    )


def test_every_alert_row_is_the_hand_worked_one(warehouse):
    got = {(c, t, at) for c, t, at, _ in _alerts(warehouse)}
    assert sorted(got) == sorted(EXPECTED)


@pytest.mark.parametrize(
    "alert_type",
    [
        "low_balance",
        "credits_expiring",
        "balance_depleted",
        "unfunded_usage",
        "usage_spike",
        "user_limit",
        "forecast_depletion",
    ],
)
def test_each_alert_type(warehouse, alert_type):
    got = sorted((c, at) for c, t, at, _ in _alerts(warehouse) if t == alert_type)
    assert got == sorted((c, at) for c, t, at in EXPECTED if t == alert_type)


def test_low_balance_details_name_the_threshold_in_force(warehouse):
    details = {c: json.loads(d) for c, t, _, d in _alerts(warehouse) if t == "low_balance"}
    assert details["cus_low_plan"] == {"balance": 50, "warning_limit": 100}
    assert details["cus_override_above"] == {
        "balance": 250, "warning_limit": 300, "threshold_source": "customer",
    }  # fmt: skip
    assert details["cus_override_below"]["warning_limit"] == 20
    assert details["cus_override_no_plan"]["warning_limit"] == 500


def test_expiring_details_count_down_30_7_1_days(warehouse):
    got = sorted(
        (d["grant_id"], d["days_before"], Decimal(str(d["credits"])))
        for c, t, _, raw in _alerts(warehouse)
        if t == "credits_expiring" and c == "cus_expiring"
        for d in [json.loads(raw)]
    )
    assert got == [
        ("g_exp_a", 1, Decimal(40)),
        ("g_exp_a", 7, Decimal(100)),
        ("g_exp_a", 30, Decimal(100)),
        ("g_exp_b", 30, Decimal(50)),
    ]


def test_spike_details_compare_with_k_times_the_median(warehouse):
    (raw,) = [d for _, t, _, d in _alerts(warehouse) if t == "usage_spike"]
    details = json.loads(raw)
    assert Decimal(str(details["trailing_median"])) == 10
    assert Decimal(str(details["credits"])) == K * 10 + 1 > K * Decimal(details["trailing_median"])


def test_bad_thresholds_are_quarantined(warehouse):
    got = query(
        warehouse,
        "select line_number, reason, raw_payload ->> 'customer_id', raw_payload ->> 'low_balance_threshold' "
        "from marts.fct_event_quarantine where feed = 'customers' order by line_number",
    )
    assert got == [
        (12, "invalid_value", "cus_bad_threshold", "-5"),
        (13, "invalid_value", "cus_depleted", "lots"),
    ]
    customers = {r[0] for r in query(warehouse, "select customer_id from marts.dim_customers")}
    assert customers == set(CUSTOMERS)


def test_user_limit_details_name_the_user_the_limit_and_the_total(warehouse):
    got = sorted((at, json.loads(d)) for c, t, at, d in _alerts(warehouse) if t == "user_limit")
    assert got == [
        (_at("2026-02-11T12:00:00"), {"period": "2026-02", "dimension": "user_id", "user": "u_a",
                                      "monthly_credits": 100, "credits": 110}),
        (_at("2026-03-11T12:00:00"), {"period": "2026-03", "dimension": "user_id", "user": "u_a",
                                      "monthly_credits": 100, "credits": 110}),
    ]  # fmt: skip


def test_a_user_limit_blocks_no_usage(warehouse):
    # 10,000 - (60 + 50 + 30 + 60 + 40) - (60 + 50 + 40 + 30 + 20 + 10 + 10 + 5 + 500)
    # = 10,000 - 240 - 725 = 9,035
    assert query(
        warehouse,
        "select current_balance from marts.dim_customers where customer_id = 'cus_user_limit'",
    ) == [(Decimal(9035),)]


def test_usage_by_dimension_reports_each_configured_dimension_per_period(warehouse):
    """fct_monthly_usage_by_dimension (contract §8.4): one row per period, aggregator,
    dimension and value; an event without the property counts under a null value."""
    rows = query(
        warehouse,
        "select dimension_name, dimension_value, events, credits "
        "from marts.fct_monthly_usage_by_dimension "
        "where customer_id = 'cus_user_limit' and period = '2026-02' "
        "order by dimension_name, dimension_value nulls last",
    )
    # February: u_a 60 (key_1, chat) + 50 (key_2) + 30 (key_1); u_b 60 + 40 (search).
    assert rows == [
        ("api_key", "key_1", 2, Decimal(90)),
        ("api_key", "key_2", 1, Decimal(50)),
        ("api_key", None, 2, Decimal(100)),
        ("project", "chat", 1, Decimal(60)),
        ("project", "search", 2, Decimal(100)),
        ("project", None, 2, Decimal(80)),
        ("user_id", "u_a", 3, Decimal(140)),
        ("user_id", "u_b", 2, Decimal(100)),
    ]


def test_the_statement_lists_the_top_five_users_of_the_month(warehouse):
    """rpt_statement_lines `top_user`: by credits, then user id; events without a user are
    nobody's. March: u_a 110, u_b 40, u_d 30, u_e 20, then u_f and u_h tie at 10 and u_f
    comes first; u_h and u_g (5) are not in the top five."""
    rows = query(
        warehouse,
        "select period, line_number, item_id, events, credits from reporting.rpt_statement_lines "
        "where customer_id = 'cus_user_limit' and section = 'top_user' order by period, line_number",
    )
    assert rows == [
        ("2026-02", 1, "u_a", 3, Decimal(140)),
        ("2026-02", 2, "u_b", 2, Decimal(100)),
        ("2026-03", 1, "u_a", 2, Decimal(110)),
        ("2026-03", 2, "u_b", 1, Decimal(40)),
        ("2026-03", 3, "u_d", 1, Decimal(30)),
        ("2026-03", 4, "u_e", 1, Decimal(20)),
        ("2026-03", 5, "u_f", 1, Decimal(10)),
    ]
