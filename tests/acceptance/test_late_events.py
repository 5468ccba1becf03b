"""A late event after a close (contract §4 "Late events"), and the closed period it leaves alone.

Hand-worked: cus_late has a starting balance of 1,000 credits (no expiry). Batch 1
(ingested 2026-02-25) brings 100 credits of use on 2026-02-10. February is closed on
2026-03-01 06:00. Batch 2 (ingested 2026-03-10) brings 50 credits of use dated
2026-02-20: February was closed when it arrived, so it is late. It is rated at its own
timestamp but booked at 2026-03-01 00:00, the first instant of March, the first open
period, and marked `is_late`. February's ledger is the same with or without it: 100 used,
900 left at the end of February; March shows the 50.
"""

import pytest
from helpers import build_warehouse, query, write_landing

CUSTOMERS = [{"customer_id": "cus_late", "name": "Late Ltd", "currency": "USD", "tax_rate": "0",
              "created_at": "2026-01-01T00:00:00Z"}]  # fmt: skip
GRANTS = [{"grant_id": "g_start", "customer_id": "cus_late", "kind": "starting_balance", "credits": "1000",
           "effective_at": "2026-02-01T00:00:00Z", "expires_at": "", "priority": "", "cost_basis_per_credit": "",
           "reason": "", "created_by": ""}]  # fmt: skip


def _event(event_id, timestamp, credits):
    return {
        "event_id": event_id,
        "customer_id": "cus_late",
        "event_type": "llm_token_usage",
        "timestamp": timestamp,
        "properties": {"model": "nova-fast", "tokens": credits * 1000},
    }


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    root = tmp_path_factory.mktemp("late")
    first = write_landing(
        root / "first", customers=CUSTOMERS, grants=GRANTS,
        events_jsonl=[_event("on_time", "2026-02-10T00:00:00Z", 100)], events_name="events/2026-02.jsonl",
    )  # fmt: skip
    second = write_landing(
        root / "second",
        events_jsonl=[_event("late", "2026-02-20T00:00:00Z", 50)],
        events_name="events/late.jsonl",
    )
    closes = [("2026-02", "2026-03-01T06:00:00")]
    without = build_warehouse(
        root / "without", first, ingested_at="2026-02-25T00:00:00", closes=closes
    )
    with_late = build_warehouse(
        root / "with",
        first,
        ingested_at="2026-02-25T00:00:00",
        later_loads=[(second, "2026-03-10T00:00:00")],
        closes=closes,
    )
    return without, with_late


def test_a_late_event_is_rated_at_its_time_and_booked_in_the_first_open_period(builds):
    _, warehouse = builds
    rows = query(
        warehouse,
        "select event_id, event_at, booked_at, period, is_late, credits from marts.fct_rated_events order by event_id",
    )
    late = {r[0]: r for r in rows}["late"]
    assert late[1].isoformat() == "2026-02-20T00:00:00"
    assert late[2].isoformat() == "2026-03-01T00:00:00"
    assert late[3:] == ("2026-03", True, 50)
    assert {r[0]: r[4] for r in rows}["on_time"] is False


def test_a_late_event_never_changes_a_closed_period(builds):
    without, with_late = builds
    sql = (
        "select entry_at, entry_type, grant_id, credits, balance_after from marts.fct_credit_ledger "
        "where period <= '2026-02' order by entry_seq"
    )
    assert query(with_late, sql) == query(without, sql)
    march = query(
        with_late,
        "select sum(credits) from marts.fct_credit_ledger where period = '2026-03' and entry_type = 'usage'",
    )
    assert march == [(-50,)]
