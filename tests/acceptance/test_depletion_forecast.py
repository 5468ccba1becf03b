"""The depletion forecast (docs/ledger.md "Depletion forecast"): dim_customers'
projected_depletion_date and next_grant_at, the forecast_depletion alert, and the statement's
forecast at its period's end. One build at 2026-04-10 00:00.

Hand-worked (nova-fast: 1 credit per 1,000 tokens). Burn at the clock: usage booked in
[2026-03-13 00:00, 2026-04-10 00:00). days = floor(balance x 28 / burn); date = clock + days.
- cus_fast: 1,000 credits (03-01, no expiry); a 500 promotion scheduled for 05-01 00:00.
  Usage 100 on 03-10 (before the window), 50 on 03-13 00:00 (its first instant), 640 on
  04-01 12:00. Balance 1,000 - 790 = 210; burn 50 + 640 = 690;
  days = floor(5,880 / 690 = 8.52) = 8: 2026-04-18, before the grant's day 05-01: alert.
- cus_slow: plan pro from 03-01 (10,000 at each period start, expiring at its end). Usage
  280 on 03-20, 280 on 04-05. Balance 10,000 - 280 = 9,720; burn 560;
  days = floor(272,160 / 560) = 486: 2027-08-09. Next grant: May's allowance, 05-01. No alert.
- cus_idle: 500 credits (03-01); usage 100 on 03-05 only. No burn: no forecast, no alert.
- cus_broke: no grant, no plan; usage 100 on 04-03, unfunded. Balance -100: no forecast.
- cus_nogrant: 300 credits (03-01); usage 280 on 04-01 12:00. Balance 20; burn 280;
  days = floor(560 / 280) = 2: 2026-04-12. No grant known after the clock: no alert.
- cus_edge: 490 credits (03-01); 100 scheduled for 05-01 09:00; usage 280 on 04-02.
  Balance 210; burn 280; days = floor(5,880 / 280) = 21: 2026-05-01, the grant's own day:
  not before it, no alert.

March's statement forecasts at its end, 04-01 00:00, from the balance then (after every
entry at that instant) and usage in [03-04, 04-01):
- cus_fast: 1,000 - 150 = 850 over 100 + 50 = 150: floor(23,800 / 150 = 158.7) = 158: 2026-09-06.
- cus_slow: 10,000 (March's 9,720 left expire, April's 10,000 arrive) over 280:
  floor(280,000 / 280) = 1,000: 2028-12-26.
- cus_idle: 400 over 100: floor(11,200 / 100) = 112: 2026-07-22.
- cus_broke, cus_nogrant, cus_edge: no usage in those 28 days (or no balance): none.
"""

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pytest
from helpers import build_warehouse, fast_event, query, write_landing

from credits_warehouse.documents.contexts import Party
from credits_warehouse.documents.render import DocumentRenderer
from credits_warehouse.statements import read_statements
from credits_warehouse.warehouse import connect

AS_OF = "2026-04-10T00:00:00"
CUSTOMERS = ("cus_fast", "cus_slow", "cus_idle", "cus_broke", "cus_nogrant", "cus_edge")


def _grant(grant_id, customer_id, credits, effective_at, kind="starting_balance", expires_at=""):
    return {
        "grant_id": grant_id, "customer_id": customer_id, "kind": kind, "credits": credits,
        "effective_at": effective_at, "expires_at": expires_at, "priority": "",
        "cost_basis_per_credit": "", "reason": "", "created_by": "",
    }  # fmt: skip


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    landing = write_landing(
        root / "landing",
        customers=[
            {"customer_id": c, "name": c, "currency": "USD", "country": "GB", "tax_rate": "0",
             "created_at": "2026-01-01T00:00:00Z"}
            for c in CUSTOMERS
        ],
        subscriptions=[{"customer_id": "cus_slow", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z"}],
        grants=[
            _grant("g_fast", "cus_fast", "1000", "2026-03-01T00:00:00Z"),
            _grant("g_fast_next", "cus_fast", "500", "2026-05-01T00:00:00Z", "promotional", "2026-06-01T00:00:00Z"),
            _grant("g_idle", "cus_idle", "500", "2026-03-01T00:00:00Z"),
            _grant("g_nogrant", "cus_nogrant", "300", "2026-03-01T00:00:00Z"),
            _grant("g_edge", "cus_edge", "490", "2026-03-01T00:00:00Z"),
            _grant("g_edge_next", "cus_edge", "100", "2026-05-01T09:00:00Z", "promotional"),
        ],
        events_jsonl=[
            fast_event("f1", "cus_fast", "2026-03-10T00:00:00Z", 100),
            fast_event("f2", "cus_fast", "2026-03-13T00:00:00Z", 50),
            fast_event("f3", "cus_fast", "2026-04-01T12:00:00Z", 640),
            fast_event("s1", "cus_slow", "2026-03-20T00:00:00Z", 280),
            fast_event("s2", "cus_slow", "2026-04-05T00:00:00Z", 280),
            fast_event("i1", "cus_idle", "2026-03-05T00:00:00Z", 100),
            fast_event("b1", "cus_broke", "2026-04-03T00:00:00Z", 100),
            fast_event("n1", "cus_nogrant", "2026-04-01T12:00:00Z", 280),
            fast_event("e1", "cus_edge", "2026-04-02T00:00:00Z", 280),
        ],
    )  # fmt: skip
    return build_warehouse(root / "build", landing, as_of=AS_OF)


def test_dim_customers_forecasts_each_customer_at_the_clock(warehouse):
    rows = query(
        warehouse,
        "select customer_id, current_balance, credits_consumed_28d, projected_depletion_date,"
        " next_grant_at from marts.dim_customers order by customer_id",
    )
    d, t = dt.date, dt.datetime
    assert rows == [
        ("cus_broke", Decimal(-100), Decimal(100), None, None),
        ("cus_edge", Decimal(210), Decimal(280), d(2026, 5, 1), t(2026, 5, 1, 9)),
        ("cus_fast", Decimal(210), Decimal(690), d(2026, 4, 18), t(2026, 5, 1)),
        ("cus_idle", Decimal(400), Decimal(0), None, None),
        ("cus_nogrant", Decimal(20), Decimal(280), d(2026, 4, 12), None),
        ("cus_slow", Decimal(9720), Decimal(560), d(2027, 8, 9), t(2026, 5, 1)),
    ]


def test_the_alert_fires_only_when_the_credits_run_out_before_the_next_grant(warehouse):
    rows = query(
        warehouse,
        "select alert_id, customer_id, triggered_at, details from marts.fct_alerts"
        " where alert_type = 'forecast_depletion'",
    )
    assert len(rows) == 1
    alert_id, customer_id, triggered_at, details = rows[0]
    assert (customer_id, triggered_at) == ("cus_fast", dt.datetime(2026, 4, 10))
    details = json.loads(details, parse_float=Decimal)
    assert details["projected_depletion_date"] == "2026-04-18"
    assert details["next_grant_at"] == "2026-05-01 00:00:00"
    assert (details["balance"], details["credits_consumed_28d"]) == (210, 690)
    # Once per customer and next grant: the id names the grant, not the clock or the figures.
    expected = hashlib.md5(b"cus_fast|forecast_depletion|2026-05-01 00:00:00").hexdigest()  # noqa: S324
    assert alert_id == expected


def test_the_statement_forecasts_at_its_period_end(warehouse):
    rows = query(
        warehouse,
        "select customer_id, period, projected_depletion_date from reporting.rpt_statements"
        " order by customer_id, period",
    )
    march = {c: date for c, period, date in rows if period == "2026-03"}
    assert march == {
        "cus_broke": None,
        "cus_edge": None,
        "cus_fast": dt.date(2026, 9, 6),
        "cus_idle": dt.date(2026, 7, 22),
        "cus_nogrant": None,
        "cus_slow": dt.date(2028, 12, 26),
    }
    # April has not ended by the clock: no forecast yet.
    assert {date for _, period, date in rows if period == "2026-04"} == {None}


def test_the_statement_says_it_in_one_line(warehouse):
    con = connect(warehouse, read_only=True)
    try:
        seller = Party("Seller", "", "", "", "", 14)
        fast, idle = read_statements(
            con, seller, [("cus_fast", "2026-03"), ("cus_idle", "2026-04")]
        )
    finally:
        con.close()
    renderer = DocumentRenderer()
    html = renderer.render_html("statement.html.j2", fast.template_context())
    assert "At your recent rate your credits last until 6 Sept 2026." in html
    html = renderer.render_html("statement.html.j2", idle.template_context())
    assert "At your recent rate" not in html
