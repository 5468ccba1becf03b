"""Invoices and journals on worked examples, in one build with March 2026 closed.

Hand-worked numbers (shipped catalog: pro is $100 a month with 10,000 credits and overage
at 1 cent a credit; nova-fast is 1 credit per 1,000 tokens):
- cus_autumn (seed 001), on pro from 2026-03-01, tax 20%: the March fee is invoiced when
  the subscription starts: $100 + $20 tax. March usage is 20,000 credits against the
  10,000 allowance, so the balance ends at -10,000 and closing March bills 10,000 × 1¢ =
  $100 of overage in arrears, with April's $100 fee in advance, on one invoice dated
  2026-04-01: subtotal $200, tax $40, total $240.
- cus_upgrade switches plans free -> pro on 2026-03-16 00:00 (tax 0): the pro fee is
  prorated by the remaining 16 of March's 31 days: 10,000 × 16/31 = 5,161.29… -> $51.61.
- cus_refund buys pack_10k ($100, tax 20%) on 2026-03-01, uses 2,500 credits and is
  refunded on 2026-03-20: the credit note is for the unconsumed $75 + $15 tax.
- cus_downgrade (tax 0) is on pro from 2026-03-01 and on free from 2026-03-20. On 03-10 it
  uses 12,000 credits: 10,000 from the pro allowance and 2,000 of overage (pro bills
  overage). On 03-20 the free allowance (500) takes effect and repays 500 of it. The
  1,500 still owed is settled at 04-01 and billed at pro's 1¢ (the plan that billed it),
  not at free's 0¢ (the plan in force at the period's end): $15.
"""

import csv
from collections import defaultdict
from decimal import Decimal

import pytest
from helpers import build_warehouse, fast_event, query, write_landing

from credits_warehouse.exports import export_journals, neutralize


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("invoices")
    customers = [
        {"customer_id": "cus_autumn", "name": "=Autumn", "currency": "USD", "country": "GB", "tax_rate": "0.2",
         "created_at": "2026-01-01T00:00:00Z"},
        {"customer_id": "cus_upgrade", "name": "Upgrade Ltd", "currency": "USD", "country": "US", "tax_rate": "0",
         "created_at": "2026-01-01T00:00:00Z"},
        {"customer_id": "cus_refund", "name": "Refund Ltd", "currency": "USD", "country": "GB", "tax_rate": "0.2",
         "created_at": "2026-01-01T00:00:00Z"},
        {"customer_id": "cus_downgrade", "name": "Downgrade Ltd", "currency": "USD", "country": "US",
         "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    subscriptions = [
        {"customer_id": "cus_autumn", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z", "ended_at": ""},
        {"customer_id": "cus_upgrade", "plan_id": "free", "started_at": "2026-03-01T00:00:00Z",
         "ended_at": "2026-03-16T00:00:00Z"},
        {"customer_id": "cus_upgrade", "plan_id": "pro", "started_at": "2026-03-16T00:00:00Z", "ended_at": ""},
        {"customer_id": "cus_downgrade", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z",
         "ended_at": "2026-03-20T00:00:00Z"},
        {"customer_id": "cus_downgrade", "plan_id": "free", "started_at": "2026-03-20T00:00:00Z", "ended_at": ""},
    ]  # fmt: skip
    purchases = [
        {"purchase_id": "p_refund", "customer_id": "cus_refund", "bundle_id": "pack_10k", "quantity": 1,
         "purchased_at": "2026-03-01T00:00:00Z", "amount_paid": 10000, "currency": "USD", "status": "refunded"},
    ]  # fmt: skip
    refunds = [
        {
            "refund_id": "r1",
            "purchase_id": "p_refund",
            "refunded_at": "2026-03-20T00:00:00Z",
            "reason": "",
        }
    ]
    events = [
        fast_event("a1", "cus_autumn", "2026-03-10T00:00:00Z", 12000),
        fast_event("a2", "cus_autumn", "2026-03-20T00:00:00Z", 8000),
        fast_event("r1", "cus_refund", "2026-03-05T00:00:00Z", 2500),
        fast_event("d1", "cus_downgrade", "2026-03-10T00:00:00Z", 12000),
    ]
    landing = write_landing(
        root / "landing",
        customers=customers,
        subscriptions=subscriptions,
        purchases=purchases,
        refunds=refunds,
        events_jsonl=events,
    )
    return build_warehouse(root, landing, closes=[("2026-03", "2026-04-01T06:00:00")])


def _invoices(warehouse, customer_id):
    return query(
        warehouse,
        "select invoice_type, period, issued_at, subtotal, tax, total, status, invoice_number "
        "from marts.fct_invoices where customer_id = ? order by issued_at, invoice_id",
        [customer_id],
    )


def test_seed_001_overage_is_billed_as_100_dollars_on_the_closing_invoice(warehouse):
    rows = _invoices(warehouse, "cus_autumn")
    first, closing = rows
    assert first[:6] == ("subscription", "2026-02", first[2], 10000, 2000, 12000)
    assert closing[0] == "subscription" and closing[1] == "2026-03"
    assert closing[2].isoformat() == "2026-04-01T00:00:00"
    assert closing[3:6] == (20000, 4000, 24000)
    lines = query(
        warehouse,
        "select line_kind, amount from marts.fct_invoice_lines l join marts.fct_invoices i using (invoice_id) "
        "where i.customer_id = 'cus_autumn' and i.period = '2026-03' order by line_kind",
    )
    assert lines == [("fee", 10000), ("overage", 10000)]
    balance = query(
        warehouse,
        "select balance_after from marts.fct_credit_ledger where customer_id = 'cus_autumn' "
        "and entry_at < '2026-04-01' order by entry_seq desc limit 1",
    )
    assert balance == [(Decimal(-10000),)]


def test_overage_is_priced_by_the_plan_that_billed_it_not_the_one_at_period_end(warehouse):
    ledger = query(
        warehouse,
        "select entry_type, sum(credits) from marts.fct_credit_ledger where customer_id = "
        "'cus_downgrade' and entry_type like 'overage%' group by all order by 1",
    )
    assert ledger == [
        ("overage", Decimal(-2000)),
        ("overage_repaid", Decimal(500)),
        ("overage_settlement", Decimal(1500)),
    ]
    lines = query(
        warehouse,
        "select line_kind, amount from marts.fct_invoice_lines l join marts.fct_invoices i using (invoice_id) "
        "where i.customer_id = 'cus_downgrade' and i.period = '2026-03' and line_kind = 'overage'",
    )
    assert lines == [("overage", 1500)]


def test_a_plan_change_prorates_the_new_fee_by_seconds(warehouse):
    rows = _invoices(warehouse, "cus_upgrade")
    prorated = [r for r in rows if r[2].isoformat() == "2026-03-16T00:00:00"]
    assert [r[3] for r in prorated] == [5161]


def test_a_refund_issues_a_credit_note_for_the_unconsumed_share(warehouse):
    rows = _invoices(warehouse, "cus_refund")
    kinds = {r[0]: r for r in rows}
    assert kinds["purchase"][3:6] == (10000, 2000, 12000)
    assert kinds["credit_note"][3:6] == (7500, 1500, 9000)
    assert kinds["credit_note"][7] == "CN-2026-000001"


def test_closed_invoices_are_numbered_gap_free_in_issued_at_order(warehouse):
    rows = query(
        warehouse,
        "select invoice_number from marts.fct_invoices where status = 'finalized' and invoice_type <> 'credit_note' "
        "order by issued_at, invoice_id",
    )
    assert [r[0] for r in rows] == [f"INV-2026-{n:06d}" for n in range(1, len(rows) + 1)]
    drafts = query(
        warehouse,
        "select count(*) from marts.fct_invoices where status = 'draft' and invoice_number is not null",
    )
    assert drafts == [(0,)]


def test_every_journal_balances_and_the_csv_sums_to_zero(warehouse, tmp_path):
    unbalanced = query(
        warehouse,
        "select journal_id from marts.fct_journal_entries group by 1 having sum(debit) <> sum(credit)",
    )
    assert unbalanced == []
    path, count = export_journals(warehouse, "2026-03", tmp_path / "j.csv", tmp_path)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == count > 0
    per_journal = defaultdict(Decimal)
    for row in rows:
        per_journal[row["JournalNumber"]] += Decimal(row["Debit"]) - Decimal(row["Credit"])
    assert set(per_journal.values()) == {Decimal(0)}
    overage = [r for r in rows if r["AccountCode"] == "overage_revenue"]
    # cus_autumn's $100 and cus_downgrade's $15 of overage.
    assert sorted(r["Credit"] for r in overage) == ["100.00", "15.00"]


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("cash", "cash"),
        ("", ""),
    ],
)
def test_csv_cells_never_start_a_formula(cell, expected):
    assert neutralize(cell) == expected
