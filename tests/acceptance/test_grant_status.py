"""Grant status and scheduled grants (contract §8.2): `fct_grants` lists every known grant,
also those taking effect after the clock, each with its status as of the clock; a scheduled
grant moves no balance until it takes effect, and the statement lists it as coming.

Shipped catalog: nova-fast costs 1 credit per 1,000 tokens; pack_10k is 10,000 credits for
USD 100.00; plan `free` grants 500 credits at its start, expiring at the period's end.

cus_status (no plan). Its grants feed, and one event:
- g_active: starting balance 1,000 from 03-01, never expiring (priority 50);
- g_depleted: promotional 200 from 03-01, never expiring, priority 10 (drawn first);
- g_expired: promotional 50 from 02-01, expiring 03-01;
- g_at_clock: promotional 30 from 03-20, expiring 04-01 (the first clock), priority 90;
- g_scheduled: compensation 400 from 04-15, expiring 05-15;
- adj_scheduled: an adjustment of −20 on 04-05;
- purchase p_future: pack_10k bought on 04-10 for 10,000 cents;
- usage 300 credits on 03-10 12:00.
cus_later subscribes to `free` from 04-20.

Clock 1, 04-01 00:00. The ledger: 02-01 +50 (50); 03-01 g_expired's 50 expire (0), then
+200 and +1,000 (1,200); 03-10 usage 300 draws g_depleted's 200, then 100 of g_active
(900); 03-20 +30 (930); 04-01 g_at_clock's 30 expire (900). The balance is 900.
Statuses, the first that applies: g_active active (900 left); g_depleted depleted (0
left); g_expired and g_at_clock expired (expires_at <= the clock, g_at_clock's exactly at
it); g_scheduled, adj_scheduled, purchase:p_future and cus_later's allowance (effective
04-20, expiring 05-01) scheduled: nothing consumed, credits_remaining = credits (0 for the
adjustment, which holds nothing), no ledger entry.
The March statement receives g_active, g_depleted and g_at_clock, and lists as coming, in
effective order: the adjustment (04-05), the purchase (04-10), g_scheduled (04-15).

Clock 2, 04-20 00:00, after March closed at clock 1 (an incremental build resumes the ledger
on 04-01): 04-05 the adjustment draws 20 from g_active, the only grant then (880); 04-10
+10,000 (10,880); 04-15 +400 (11,280). g_active 880, g_scheduled 400 and the purchase
10,000 are active; the applied adjustment holds nothing: depleted. cus_later's allowance
takes effect exactly at the clock: active, +500. A full refresh at clock 2 gives the same
tables.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest
from helpers import build_warehouse, dbt_build, query, write_landing

from credits_warehouse.incremental import RUN_BOOKKEEPING_COLUMNS
from credits_warehouse.warehouse import connect

CLOCK_1 = "2026-04-01T00:00:00"
CLOCK_2 = "2026-04-20T00:00:00"
ALLOWANCE = "subscription:free:cus_later:2026-04-20T00:00:00"


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _grant(grant_id, kind, credits, effective, expires="", priority=""):
    return {
        "grant_id": grant_id, "customer_id": "cus_status", "kind": kind, "credits": credits,
        "effective_at": f"{effective}T00:00:00Z",
        "expires_at": f"{expires}T00:00:00Z" if expires else "",
        "priority": priority, "cost_basis_per_credit": "", "reason": "test", "created_by": "test",
    }  # fmt: skip


def _customer(customer_id: str) -> dict:
    return {
        "customer_id": customer_id, "name": customer_id, "currency": "USD", "country": "US",
        "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z",
    }  # fmt: skip


@pytest.fixture(scope="module")
def clock_1(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("grant_status")
    landing = write_landing(
        root / "landing",
        customers=[_customer("cus_status"), _customer("cus_later")],
        subscriptions=[
            {"customer_id": "cus_later", "plan_id": "free", "started_at": "2026-04-20T00:00:00Z"}
        ],
        purchases=[
            {"purchase_id": "p_future", "customer_id": "cus_status", "bundle_id": "pack_10k",
             "quantity": 1, "purchased_at": "2026-04-10T00:00:00Z", "amount_paid": 10000,
             "currency": "USD", "status": "succeeded"},
        ],
        grants=[
            _grant("g_active", "starting_balance", "1000", "2026-03-01"),
            _grant("g_depleted", "promotional", "200", "2026-03-01", priority="10"),
            _grant("g_expired", "promotional", "50", "2026-02-01", "2026-03-01"),
            _grant("g_at_clock", "promotional", "30", "2026-03-20", "2026-04-01", "90"),
            _grant("g_scheduled", "compensation", "400", "2026-04-15", "2026-05-15"),
            _grant("adj_scheduled", "adjustment", "-20", "2026-04-05"),
        ],
        events_jsonl=[
            {"event_id": "e1", "customer_id": "cus_status", "event_type": "llm_token_usage",
             "timestamp": "2026-03-10T12:00:00Z",
             "properties": {"model": "nova-fast", "tokens": 300_000, "user_id": "u1"}},
        ],
    )  # fmt: skip
    return build_warehouse(root / "clock_1", landing, as_of=CLOCK_1)


@pytest.fixture(scope="module")
def clock_2(clock_1, tmp_path_factory) -> tuple[Path, Path]:
    """(incremental, full refresh) at clock 2, March closed at clock 1: the close's build
    keeps the walk's state at 04-01, from which the build at clock 2 resumes."""
    root = tmp_path_factory.mktemp("grant_status_later")
    incremental = root / "incremental" / "warehouse.duckdb"
    incremental.parent.mkdir()
    shutil.copy2(clock_1, incremental)
    con = connect(incremental)
    try:
        con.execute("insert into raw.period_closes values ('2026-03', ?)", [_at(CLOCK_1)])
    finally:
        con.close()
    dbt_build(incremental, CLOCK_1, incremental.parent)
    dbt_build(incremental, CLOCK_2, incremental.parent)
    full = root / "full" / "warehouse.duckdb"
    full.parent.mkdir()
    shutil.copy2(incremental, full)
    return incremental, dbt_build(full, CLOCK_2, full.parent, full_refresh=True)


def _grants(warehouse: Path) -> dict[str, tuple]:
    """grant_id: (status, credits, credits_consumed, credits_expired, credits_remaining)."""
    rows = query(
        warehouse,
        "select grant_id, status, credits, credits_consumed, credits_expired, credits_remaining "
        "from marts.fct_grants",
    )
    return {grant_id: tuple(rest) for grant_id, *rest in rows}


def _balance(warehouse: Path, customer_id: str) -> D:
    return query(
        warehouse,
        "select current_balance from marts.dim_customers where customer_id = ?",
        [customer_id],
    )[0][0]


def test_every_known_grant_with_its_status_at_the_clock(clock_1):
    assert _grants(clock_1) == {
        "g_active": ("active", D(1000), D(100), D(0), D(900)),
        "g_depleted": ("depleted", D(200), D(200), D(0), D(0)),
        "g_expired": ("expired", D(50), D(0), D(50), D(0)),
        "g_at_clock": ("expired", D(30), D(0), D(30), D(0)),
        "g_scheduled": ("scheduled", D(400), D(0), D(0), D(400)),
        "adj_scheduled": ("scheduled", D(-20), D(0), D(0), D(0)),
        "purchase:p_future": ("scheduled", D(10000), D(0), D(0), D(10000)),
        ALLOWANCE: ("scheduled", D(500), D(0), D(0), D(500)),
    }
    # The allowance of a subscription that starts after the clock is known whole.
    assert query(
        clock_1,
        "select effective_at, expires_at, paid_amount from marts.fct_grants where grant_id = ?",
        [ALLOWANCE],
    ) == [(_at("2026-04-20T00:00:00"), _at("2026-05-01T00:00:00"), 0)]


def test_scheduled_grants_move_no_balance_yet(clock_1):
    assert _balance(clock_1, "cus_status") == D(900)
    scheduled = ("g_scheduled", "adj_scheduled", "purchase:p_future", ALLOWANCE)
    marks = ", ".join("?" for _ in scheduled)
    assert query(
        clock_1,
        f"select count(*) from marts.fct_credit_ledger where grant_id in ({marks})",  # noqa: S608
        list(scheduled),
    ) == [(0,)]


def test_the_statement_receives_grants_in_effect_and_lists_scheduled_ones_as_coming(clock_1):
    rows = query(
        clock_1,
        "select section, line_number, item_id, label, occurred_at, credits "
        "from reporting.rpt_statement_lines "
        "where customer_id = 'cus_status' and period = '2026-03' "
        "and section in ('grant', 'coming') order by section desc, line_number",
    )
    assert rows == [
        ("grant", 1, "g_active", "Starting balance: test", _at("2026-03-01T00:00:00"), D(1000)),
        ("grant", 2, "g_depleted", "Promotional: test", _at("2026-03-01T00:00:00"), D(200)),
        ("grant", 3, "g_at_clock", "Promotional: test", _at("2026-03-20T00:00:00"), D(30)),
        ("coming", 1, "adj_scheduled", "Adjustment: test", _at("2026-04-05T00:00:00"), D(-20)),
        ("coming", 2, "purchase:p_future", "Credit bundle pack_10k",
         _at("2026-04-10T00:00:00"), D(10000)),
        ("coming", 3, "g_scheduled", "Compensation: test", _at("2026-04-15T00:00:00"), D(400)),
    ]  # fmt: skip


def test_a_later_clock_makes_scheduled_grants_active(clock_2):
    incremental, _ = clock_2
    grants = _grants(incremental)
    assert grants["g_active"] == ("active", D(1000), D(120), D(0), D(880))
    assert grants["g_scheduled"] == ("active", D(400), D(0), D(0), D(400))
    assert grants["purchase:p_future"] == ("active", D(10000), D(0), D(0), D(10000))
    assert grants["adj_scheduled"] == ("depleted", D(-20), D(0), D(0), D(0))
    assert grants[ALLOWANCE] == ("active", D(500), D(0), D(0), D(500))
    assert _balance(incremental, "cus_status") == D(11280)
    assert _balance(incremental, "cus_later") == D(500)
    # Nothing is scheduled any more: no statement lists anything as coming.
    assert query(
        incremental, "select count(*) from reporting.rpt_statement_lines where section = 'coming'"
    ) == [(0,)]


def test_the_incremental_build_at_the_later_clock_equals_a_full_refresh(clock_2):
    incremental, full = clock_2
    assert query(incremental, "select resume_from from raw.build_state order by build_seq") == [
        (None,),
        (None,),
        (_at(CLOCK_1),),
    ]
    tables = [
        f"{schema}.{name}"
        for schema, name in query(
            incremental,
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('marts', 'reporting') order by all",
        )
    ]
    for table in tables:
        schema, name = table.split(".")
        columns = [
            f'"{column}"'
            for (column,) in query(
                incremental,
                "select column_name from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            )
            if column not in RUN_BOOKKEEPING_COLUMNS
        ]
        sql = f"select {', '.join(columns)} from {table} order by all"  # noqa: S608
        assert query(incremental, sql) == query(full, sql), table
