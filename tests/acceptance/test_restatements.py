"""The restatement report (`credits report restatements P`, `reporting.rpt_restatements`):
each closed period's usage as frozen at its close beside usage with every late event in the
period it happened in, end to end through the `credits` command.

Hand-worked (nova-fast: 1 credit per 1,000 tokens). cus_a has a 1,000-credit starting
balance; cus_b and cus_c have no grant and no plan, so their usage is unfunded (still usage).
cus_d is on pro from 2026-02-01 (shipped catalog: $100.00 = 10000 a month, billed in
advance, for 10,000 credits that expire at the period's end; overage 1¢ a credit, billed in
arrears on the period's subscription invoice; tax 0).

Close 1, `credits close 2026-02` at 2026-03-01 06:00, loads batch 1 and closes Jan and Feb:
  e1 cus_a 2026-01-15  100 credits     e2 cus_a 2026-02-10  200     e3 cus_b 2026-02-12  40
  d1 cus_d 2026-02-15  12,000
  frozen: Jan cus_a 100; Feb cus_a 200, cus_b 40, cus_d 12,000 (10,000 of the allowance
  and 2,000 of overage).
Close 2, `credits close 2026-03` at 2026-04-01 06:00, loads batch 2 (ingested then, before
March closes) and closes March:
  l1 cus_a 2026-02-20 50    l2 cus_a 2026-01-31 23:59:59 25    l3 cus_c 2026-02-25 7.5
  (late: their periods closed at 03-01 06:00, before they arrived; booked 2026-03-01 00:00)
  d2 cus_d 2026-02-27 3,000    e4 cus_a 2026-03-05 10 (on time)
  frozen: Mar cus_a 50 + 25 + 10 = 85 (3 events), cus_c 7.5 (1 event), cus_d 3,000.

The report, now (at close -> now, delta; booked later; from earlier):
  2026-01 cus_a  events 1 -> 2 (+1), credits 100 -> 125 (+25); 1 / 25 booked later
  2026-02 cus_a  events 1 -> 2 (+1), credits 200 -> 250 (+50); 1 / 50 booked later
          cus_b  events 1 -> 1 (0),  credits 40 -> 40 (0)
          cus_c  events 0 -> 1 (+1), credits 0 -> 7.5 (+7.5); 1 / 7.5 booked later
          cus_d  events 1 -> 2 (+1), credits 12,000 -> 15,000 (+3,000); 1 / 3,000 booked later
  2026-03 cus_a  events 3 -> 1 (-2), credits 85 -> 10 (-75); 2 / 75 from earlier
          cus_c  events 1 -> 0 (-1), credits 7.5 -> 0 (-7.5); 1 / 7.5 from earlier
          cus_d  events 1 -> 0 (-1), credits 3,000 -> 0 (-3,000); 1 / 3,000 from earlier

February's money, as frozen at close 1 and as known now (the warehouse rebuilt with no
close, so d2 and the late events of cus_a and cus_c sit in February):
  cus_d  usage 15,000 against the 10,000 allowance: overage 2,000 -> 5,000 credits, so
         ledger:overage -2000 -> -5000 (-3000) and ledger:overage_settlement (the overage
         billed) 2000 -> 5000 (+3000); ledger:usage -10000 either way (the allowance);
         February's subscription invoice (March's fee 10000 + February's overage at 1¢)
         10000 + 2000 = 12000 -> 10000 + 5000 = 15000 (+3000) minor units.
  cus_a  ledger:usage -200 -> -250 (-50) (the starting balance pays; no money).
  cus_c  ledger:unfunded 0 -> -7.5 and ledger:unfunded_writeoff 0 -> +7.5.
  totals: ledger:grant 10000 (cus_d's allowance) and deferred_revenue:USD 0 (the allowance
  used up) unchanged; ledger:usage -200 - 10000 = -10200 -> -250 - 10000 = -10250 (-50);
  ledger:unfunded -40 -> -47.5 (cus_b's 40 and cus_c's 7.5), writeoff 40 -> 47.5.
"""

import csv
import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from helpers import CATALOG_PATH, query, write_landing
from pypdf import PdfReader

from credits_warehouse import restatements
from dagster_project import cli
from dagster_project.cli import main

# A whole command end to end, each run a whole build: `make test-commands` (CI runs it).
pytestmark = pytest.mark.commands

CUSTOMERS = [
    {"customer_id": c, "name": name, "currency": "USD", "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"}
    for c, name in (("cus_a", "Acme"), ("cus_b", "Bravo"), ("cus_c", "=HYPERLINK(\"x\")"),
                    ("cus_d", "Delta"))
]  # fmt: skip
SUBSCRIPTIONS = [{"customer_id": "cus_d", "plan_id": "pro", "started_at": "2026-02-01T00:00:00Z"}]
GRANTS = [{"grant_id": "g_a", "customer_id": "cus_a", "kind": "starting_balance", "credits": "1000",
           "effective_at": "2026-01-01T00:00:00Z", "expires_at": "", "priority": "", "cost_basis_per_credit": "",
           "reason": "", "created_by": ""}]  # fmt: skip
FROZEN_1 = dt.datetime(2026, 3, 1, 6)
FROZEN_2 = dt.datetime(2026, 4, 1, 6)


def _event(event_id, customer_id, timestamp, tokens):
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": "llm_token_usage",
        "timestamp": timestamp,
        "properties": {"model": "nova-fast", "tokens": tokens},
    }


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    root = tmp_path_factory.mktemp("restatements")
    landing = write_landing(
        root / "landing", customers=CUSTOMERS, grants=GRANTS, subscriptions=SUBSCRIPTIONS,
        events_jsonl=[
            _event("e1", "cus_a", "2026-01-15T10:00:00Z", 100_000),
            _event("e2", "cus_a", "2026-02-10T10:00:00Z", 200_000),
            _event("e3", "cus_b", "2026-02-12T10:00:00Z", 40_000),
            _event("d1", "cus_d", "2026-02-15T10:00:00Z", 12_000_000),
        ],
        events_name="events/batch-1.jsonl",
    )  # fmt: skip
    flags = [
        "--landing", str(landing), "--catalog", str(CATALOG_PATH),
        "--warehouse", str(root / "warehouse.duckdb"), "--reports", str(root / "reports"),
    ]  # fmt: skip
    assert main(["close", "2026-02", *flags, "--as-of", FROZEN_1.isoformat()]) == 0
    write_landing(
        landing,
        events_jsonl=[
            _event("l1", "cus_a", "2026-02-20T00:00:00Z", 50_000),
            _event("l2", "cus_a", "2026-01-31T23:59:59Z", 25_000),
            _event("l3", "cus_c", "2026-02-25T00:00:00Z", 7_500),
            _event("e4", "cus_a", "2026-03-05T00:00:00Z", 10_000),
            _event("d2", "cus_d", "2026-02-27T00:00:00Z", 3_000_000),
        ],
        events_name="events/batch-2.jsonl",
    )
    assert main(["close", "2026-03", *flags, "--as-of", FROZEN_2.isoformat()]) == 0
    return root, flags


COLUMNS = (
    "period, customer_id, frozen_at, events_at_close, events_now, events_delta,"
    " usage_credits_at_close, usage_credits_now, usage_credits_delta,"
    " late_events_booked_later, late_credits_booked_later,"
    " late_events_from_earlier, late_credits_from_earlier"
)
D = Decimal


def test_each_closed_period_is_restated_with_late_events_where_they_happened(closed):
    root, _ = closed
    rows = query(
        root / "warehouse.duckdb",
        f"select {COLUMNS} from reporting.rpt_restatements order by period, customer_id",  # noqa: S608
    )
    assert rows == [
        ("2026-01", "cus_a", FROZEN_1, 1, 2, 1, D(100), D(125), D(25), 1, D(25), 0, D(0)),
        ("2026-02", "cus_a", FROZEN_1, 1, 2, 1, D(200), D(250), D(50), 1, D(50), 0, D(0)),
        ("2026-02", "cus_b", FROZEN_1, 1, 1, 0, D(40), D(40), D(0), 0, D(0), 0, D(0)),
        ("2026-02", "cus_c", FROZEN_1, 0, 1, 1, D(0), D("7.5"), D("7.5"), 1, D("7.5"), 0, D(0)),
        ("2026-02", "cus_d", FROZEN_1, 1, 2, 1, D(12000), D(15000), D(3000), 1, D(3000), 0, D(0)),
        ("2026-03", "cus_a", FROZEN_2, 3, 1, -2, D(85), D(10), D(-75), 0, D(0), 2, D(75)),
        ("2026-03", "cus_c", FROZEN_2, 1, 0, -1, D("7.5"), D(0), D("-7.5"), 0, D(0), 1, D("7.5")),
        ("2026-03", "cus_d", FROZEN_2, 1, 0, -1, D(3000), D(0), D(-3000), 0, D(0), 1, D(3000)),
    ]


def test_at_close_is_what_the_close_froze(closed):
    """usage_credits_at_close is read from raw.frozen_figures, not recomputed: the ledger's
    usage entries (here usage for cus_a, unfunded for cus_b and cus_c, usage and overage for
    cus_d)."""
    root, _ = closed
    frozen = query(
        root / "warehouse.duckdb",
        "select period, customer_id, figure, value from raw.frozen_figures"
        " where figure in ('ledger:usage', 'ledger:unfunded', 'ledger:overage') order by all",
    )
    assert frozen == [
        ("2026-01", "cus_a", "ledger:usage", D(-100)),
        ("2026-02", "cus_a", "ledger:usage", D(-200)),
        ("2026-02", "cus_b", "ledger:unfunded", D(-40)),
        ("2026-02", "cus_d", "ledger:overage", D(-2000)),
        ("2026-02", "cus_d", "ledger:usage", D(-10000)),
        ("2026-03", "cus_a", "ledger:usage", D(-85)),
        ("2026-03", "cus_c", "ledger:unfunded", D("-7.5")),
        ("2026-03", "cus_d", "ledger:usage", D(-3000)),
    ]


def test_the_command_writes_usage_and_money_of_the_period(closed, capsys, monkeypatch):
    """One rebuild (the money of February); the rerun and March's report reuse or skip it."""
    root, flags = closed
    warehouse = root / "warehouse.duckdb"
    before = (warehouse.stat().st_mtime_ns, hashlib.sha256(warehouse.read_bytes()).hexdigest())
    read_now = restatements.read_money_now
    seen = []
    monkeypatch.setattr(
        restatements, "read_money_now", lambda *a: seen.append(read_now(*a)) or seen[-1]
    )
    assert main(["report", "restatements", "2026-02", *flags]) == 0
    path = root / "reports" / "2026-02" / "restatements-2026-02.csv"
    pdf = path.with_suffix(".pdf")
    money = path.with_name("restatements-money-2026-02.csv")
    out, err = capsys.readouterr()
    assert out.split() == [str(path), str(pdf), str(money)]
    assert "1/3 copy" in err and "2/3 rebuild every model from raw with no period closed" in err
    assert "3/3 compare with the figures frozen at the close: 6 moved, of 3 customers" in err
    # A reader: the warehouse is untouched, to the byte; the scratch copy is gone.
    assert (
        warehouse.stat().st_mtime_ns,
        hashlib.sha256(warehouse.read_bytes()).hexdigest(),
    ) == before
    assert not any(p.suffix == ".duckdb" for p in root.glob("warehouse.duckdb.simulate/*"))

    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0][:4] == ["period", "customer_id", "customer_name", "frozen_at"]
    assert lines[1:] == [
        ["2026-02", "cus_a", "Acme", "2026-03-01T06:00:00", "1", "2", "1", "200", "250", "50", "1", "50", "0", "0"],
        ["2026-02", "cus_b", "Bravo", "2026-03-01T06:00:00", "1", "1", "0", "40", "40", "0", "0", "0", "0", "0"],
        # A name that a spreadsheet would run as a formula is written as text.
        ["2026-02", "cus_c", "'=HYPERLINK(\"x\")", "2026-03-01T06:00:00", "0", "1", "1", "0", "7.5", "7.5", "1", "7.5", "0", "0"],
        ["2026-02", "cus_d", "Delta", "2026-03-01T06:00:00", "1", "2", "1", "12000", "15000", "3000", "1", "3000", "0", "0"],
    ]  # fmt: skip

    # The money, worked out in the module's docstring: totals of every figure, then each
    # customer's figure that moved; credits exact, money in minor units.
    with money.open(newline="", encoding="utf-8") as handle:
        money_lines = list(csv.reader(handle))
    assert money_lines == [
        ["scope", "period", "customer_id", "customer_name", "figure", "unit", "at_close", "now", "delta"],
        ["total", "2026-02", "", "", "ledger:grant", "credits", "10000", "10000", "0"],
        ["total", "2026-02", "", "", "ledger:overage", "credits", "-2000", "-5000", "-3000"],
        ["total", "2026-02", "", "", "ledger:overage_settlement", "credits", "2000", "5000", "3000"],
        ["total", "2026-02", "", "", "ledger:unfunded", "credits", "-40", "-47.5", "-7.5"],
        ["total", "2026-02", "", "", "ledger:unfunded_writeoff", "credits", "40", "47.5", "7.5"],
        ["total", "2026-02", "", "", "ledger:usage", "credits", "-10200", "-10250", "-50"],
        ["total", "2026-02", "", "", "invoices:subscription:USD", "minor_units", "12000", "15000", "3000"],
        ["total", "2026-02", "", "", "deferred_revenue:USD", "minor_units", "0", "0", "0"],
        ["customer", "2026-02", "cus_a", "Acme", "ledger:usage", "credits", "-200", "-250", "-50"],
        ["customer", "2026-02", "cus_c", "'=HYPERLINK(\"x\")", "ledger:unfunded", "credits", "0", "-7.5", "-7.5"],
        ["customer", "2026-02", "cus_c", "'=HYPERLINK(\"x\")", "ledger:unfunded_writeoff", "credits", "0", "7.5", "7.5"],
        ["customer", "2026-02", "cus_d", "Delta", "ledger:overage", "credits", "-2000", "-5000", "-3000"],
        ["customer", "2026-02", "cus_d", "Delta", "ledger:overage_settlement", "credits", "2000", "5000", "3000"],
        ["customer", "2026-02", "cus_d", "Delta", "invoices:subscription:USD", "minor_units", "12000", "15000", "3000"],
    ]  # fmt: skip

    # The PDF: usage on page 1, as without money: the customers whose usage moved, largest
    # change first, and totals over all four: events 3 -> 6 (+3), credits 12,240 ->
    # 15,297.5 (+3,057.5). Money on page 2: cus_d first (+$30.00), then by credits moved
    # (cus_a 50, cus_c 7.5).
    pages = PdfReader(pdf).pages
    assert len(pages) == 2
    text = pages[0].extract_text()
    assert "Restatements" in text and "Frozen at the close 1 Mar 2026" in text
    assert text.index("Delta") < text.index("Acme") < text.index('=HYPERLINK("x")')
    assert "cus_a 1 2 +1 200 250 +50" in text.replace("\n", " ")
    assert "All 4 customers 3 6 +3 12,240 15,297.5 +3,057.5" in text
    money_text = pages[1].extract_text().replace("\n", " ")
    assert "Money as known now" in money_text
    assert "Invoices: subscription (USD) US$120.00 US$150.00 +US$30.00" in money_text
    assert "Ledger: overage (credits) -2,000 -5,000 -3,000" in money_text
    assert money_text.index("cus_d") < money_text.index("cus_a") < money_text.index("cus_c")
    first = pdf.read_bytes()

    # The same data gives the same bytes: a rerun, its rebuild replaced by the figures the
    # first one read (the rebuild is a full refresh of the same raw tables at the same clock).
    monkeypatch.setattr(cli, "_rebuild_copy", lambda *a: None)
    monkeypatch.setattr(restatements, "read_money_now", lambda *a: seen[0])
    assert main(["report", "restatements", "2026-02", *flags]) == 0
    assert pdf.read_bytes() == first
    capsys.readouterr()

    out = root / "elsewhere" / "march.csv"
    assert (
        main(["report", "restatements", "2026-03", "--usage-only", "--out", str(out), *flags]) == 0
    )
    assert "rebuild" not in capsys.readouterr().err
    with out.open(newline="", encoding="utf-8") as handle:
        march = list(csv.reader(handle))[1:]
    # Negative deltas keep their sign: numbers are never neutralized.
    assert [row[6] for row in march] == ["-2", "-1", "-1"]
    assert [row[9] for row in march] == ["-75", "-7.5", "-3000"]
    # Usage only: one page, no money CSV.
    assert len(PdfReader(out.with_suffix(".pdf")).pages) == 1
    assert "made with --usage-only" in PdfReader(out.with_suffix(".pdf")).pages[0].extract_text()
    assert not out.with_name("restatements-money-2026-03.csv").exists()


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-04", "period 2026-04 is not closed (closed through 2026-03)"),
        ("2026-3", "period '2026-3' is not YYYY-MM"),
        ("../2026-01", "period '../2026-01' is not YYYY-MM"),
    ],
)
def test_an_open_or_malformed_period_is_refused_in_one_line(closed, capsys, period, message):
    root, flags = closed
    assert main(["report", "restatements", period, *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"credits report: {message}")
    assert "\n" not in err
    assert not (root / "reports" / "2026-04").exists()
