"""`credits simulate` on a worked example: nova-ultra re-rated from 15 to 12 credits per 1k
tokens, in one warehouse build and two simulations (dbt runs once per simulation).

The warehouse has March 2026 closed (its figures frozen, its invoices numbered, as a close
leaves them) and the clock at 2026-04-01. Shipped catalog: pro is $100 a month with 10,000
credits (cost basis 1¢ a credit) and overage at 1¢ a credit; pack_10k is $100 for 10,000
credits (1¢ a credit); nova-fast is 1 credit per 1k tokens, nova-ultra 15 (12 simulated).

- cus_pro, on pro from 2026-03-01, tax 20%. March: 1,000,000 nova-ultra tokens
  = 15,000 credits (12,000 simulated). The allowance covers 10,000, so overage is 5,000
  credits (2,000), billed at 1¢: $50.00 (5000) and $20.00 (2000) on March's closing
  invoice with April's $100 fee: (10000 + 5000) × 1.2 = 18000, (10000 + 2000) × 1.2 = 14400,
  a change of −3600. Revenue: the 10,000 allowance credits at 1¢ = 10000, plus the overage:
  15000 and 12000, −3000. Its first fee (issued at the start of March, so in February's
  invoices) is 10000 × 1.2 = 12000, either way.
- cus_pack buys pack_10k on 2026-03-02 (10000, no tax) and uses 200,000 nova-ultra tokens
  (3,000 credits; 2,400 simulated) and 500,000 nova-fast tokens (500 credits): 3,500 and
  2,900 consumed, revenue at 1¢ a credit 3500 and 2900, −600; its invoice is unchanged.
- cus_fast, on free (500 credits, no fee), uses 300,000 nova-fast tokens = 300 credits:
  nothing changes.

March totals: consumed 15,000 + 3,500 + 300 = 18,800 and 12,000 + 2,900 + 300 = 15,200
(−3,600); invoiced 18000 + 10000 + 0 = 28000 and 14400 + 10000 = 24400 (−3600); revenue
15000 + 3500 = 18500 and 12000 + 2900 = 14900 (−3600).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from decimal import Decimal

import pytest
import yaml
from helpers import CATALOG_PATH, build_warehouse, write_landing
from pypdf import PdfReader

from credits_warehouse import simulation
from credits_warehouse.documents.chart import bar_chart_svg
from credits_warehouse.exports import plain_number
from credits_warehouse.warehouse import connect
from dagster_project.cli import main

# A whole command end to end, each run a whole build: `make test-commands` (CI runs it).
pytestmark = pytest.mark.commands

CLOSED_AT = "2026-04-01T06:00:00"


def _tokens(event_id, customer_id, day, model, tokens):
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": "llm_token_usage",
        "timestamp": f"2026-03-{day:02d}T12:00:00Z",
        "properties": {"model": model, "tokens": tokens, "user_id": "u1"},
    }


def _freeze_as_a_close_does(warehouse):
    """What `credits close` records after its build (dagster_project/assets/finance.py):
    the closed periods' figures and the final invoices' numbers."""
    con = connect(warehouse)
    try:
        con.execute(
            "insert into raw.frozen_figures select period, customer_id, figure, value, ?"
            " from intermediate.int_period_figures where period <= '2026-03'",
            [dt.datetime.fromisoformat(CLOSED_AT)],
        )
        con.execute(
            "insert into raw.invoice_numbers select invoice_id, invoice_number, series,"
            " series_year, series_seq, ? from intermediate.int_invoices_numbered"
            " where is_newly_numbered",
            [dt.datetime.fromisoformat(CLOSED_AT)],
        )
        assert con.execute("select count(*) from raw.frozen_figures").fetchall()[0][0] > 0
    finally:
        con.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("simulate")
    customers = [
        {"customer_id": "cus_pro", "name": "Pro Ltd", "currency": "USD", "country": "GB",
         "tax_rate": "0.2", "created_at": "2026-01-01T00:00:00Z"},
        {"customer_id": "cus_pack", "name": "Pack Inc", "currency": "USD", "country": "US",
         "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"},
        {"customer_id": "cus_fast", "name": "Fast Inc", "currency": "USD", "country": "US",
         "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    subscriptions = [
        {"customer_id": "cus_pro", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z"},
        {"customer_id": "cus_fast", "plan_id": "free", "started_at": "2026-03-01T00:00:00Z"},
    ]
    purchases = [
        {"purchase_id": "p1", "customer_id": "cus_pack", "bundle_id": "pack_10k", "quantity": 1,
         "purchased_at": "2026-03-02T00:00:00Z", "amount_paid": 10000, "currency": "USD",
         "status": "succeeded"},
    ]  # fmt: skip
    events = [
        _tokens("e1", "cus_pro", 10, "nova-ultra", 600_000),
        _tokens("e2", "cus_pro", 20, "nova-ultra", 400_000),
        _tokens("e3", "cus_pack", 5, "nova-ultra", 200_000),
        _tokens("e4", "cus_pack", 6, "nova-fast", 500_000),
        _tokens("e5", "cus_fast", 7, "nova-fast", 300_000),
    ]
    landing = write_landing(
        root / "landing",
        customers=customers,
        subscriptions=subscriptions,
        purchases=purchases,
        events_jsonl=events,
    )
    warehouse = build_warehouse(root / "wh", landing, closes=[("2026-03", CLOSED_AT)])
    _freeze_as_a_close_does(warehouse)

    catalog = yaml.safe_load(CATALOG_PATH.read_text())
    (rates,) = catalog["credit_products"]
    ultra = next(r for r in rates["aggregators"] if r["aggregator"] == "nova_ultra_tokens")
    assert ultra["weight"] == 15
    ultra["weight"] = 12
    new_catalog = root / "nova-ultra-12.yml"
    new_catalog.write_text(yaml.safe_dump(catalog))
    same_catalog = root / "same.yml"
    same_catalog.write_bytes(CATALOG_PATH.read_bytes())
    return root, warehouse, new_catalog, same_catalog


def _flags(root, warehouse, catalog, first="2026-02", last="2026-03"):
    return [
        "simulate", "--catalog", str(catalog), "--from", first, "--to", last,
        "--warehouse", str(warehouse), "--reports", str(root / "reports"),
    ]  # fmt: skip


def _fingerprint(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.fixture(scope="module")
def simulated(workspace):
    """Both simulations, each run once: the new catalog, then the same catalog."""
    root, warehouse, new_catalog, same_catalog = workspace
    before = _fingerprint(warehouse)
    runs = {}
    for name, catalog in (("new", new_catalog), ("same", same_catalog)):
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("sys.stdout", out)
            assert main(_flags(root, warehouse, catalog)) == 0
        runs[name] = [line for line in out.getvalue().splitlines() if line]
    return before, runs


def _rows(path):
    with path.open(newline="", encoding="utf-8") as fh:
        return [tuple(row) for row in csv.reader(fh)]


def test_nova_ultra_at_12_changes_what_was_worked_out_by_hand(workspace, simulated):
    root = workspace[0]
    _, runs = simulated
    folder = root / "reports" / "simulations" / "2026-02_2026-03"
    assert runs["new"] == [str(folder / "nova-ultra-12.csv"), str(folder / "nova-ultra-12.pdf")]
    rows = _rows(folder / "nova-ultra-12.csv")
    assert rows[0] == simulation.CSV_COLUMNS
    assert rows[1:] == [
        # February: cus_pro's first fee (12000), unchanged; nothing consumed.
        ("total", "2026-02", "", "credits_consumed", "", "credits", "0", "0", "0"),
        ("total", "2026-02", "", "overage_credits", "", "credits", "0", "0", "0"),
        ("total", "2026-02", "", "overage_amount", "USD", "minor_units", "0", "0", "0"),
        ("total", "2026-02", "", "invoiced_amount", "USD", "minor_units", "12000", "12000", "0"),
        ("total", "2026-02", "", "recognized_revenue", "USD", "minor_units", "0", "0", "0"),
        ("total", "2026-03", "", "credits_consumed", "", "credits", "18800", "15200", "-3600"),
        ("total", "2026-03", "", "overage_credits", "", "credits", "5000", "2000", "-3000"),
        ("total", "2026-03", "", "overage_amount", "USD", "minor_units", "5000", "2000", "-3000"),
        ("total", "2026-03", "", "invoiced_amount", "USD", "minor_units", "28000", "24400", "-3600"),
        ("total", "2026-03", "", "recognized_revenue", "USD", "minor_units", "18500", "14900", "-3600"),
        # The range: February + March.
        ("total", "2026-02..2026-03", "", "credits_consumed", "", "credits", "18800", "15200", "-3600"),
        ("total", "2026-02..2026-03", "", "overage_credits", "", "credits", "5000", "2000", "-3000"),
        ("total", "2026-02..2026-03", "", "overage_amount", "USD", "minor_units", "5000", "2000", "-3000"),
        ("total", "2026-02..2026-03", "", "invoiced_amount", "USD", "minor_units", "40000", "36400", "-3600"),
        ("total", "2026-02..2026-03", "", "recognized_revenue", "USD", "minor_units", "18500", "14900", "-3600"),
        # Customers: only what changed; cus_fast not at all.
        ("customer", "2026-03", "cus_pack", "credits_consumed", "", "credits", "3500", "2900", "-600"),
        ("customer", "2026-03", "cus_pack", "recognized_revenue", "USD", "minor_units", "3500", "2900", "-600"),
        ("customer", "2026-03", "cus_pro", "credits_consumed", "", "credits", "15000", "12000", "-3000"),
        ("customer", "2026-03", "cus_pro", "overage_credits", "", "credits", "5000", "2000", "-3000"),
        ("customer", "2026-03", "cus_pro", "overage_amount", "USD", "minor_units", "5000", "2000", "-3000"),
        ("customer", "2026-03", "cus_pro", "invoiced_amount", "USD", "minor_units", "18000", "14400", "-3600"),
        ("customer", "2026-03", "cus_pro", "recognized_revenue", "USD", "minor_units", "15000", "12000", "-3000"),
    ]  # fmt: skip


def test_the_same_catalog_gives_an_empty_diff(workspace, simulated):
    root = workspace[0]
    _, runs = simulated
    csv_path, pdf_path = map(type(root), runs["same"])
    assert csv_path.name == "same.csv"
    rows = _rows(csv_path)[1:]
    assert {row[0] for row in rows} == {"total"}  # no customer row at all
    assert len(rows) == 15 and all(row[-1] == "0" for row in rows)
    assert "No customer changes" in PdfReader(pdf_path).pages[0].extract_text()


def test_the_warehouse_is_untouched(workspace, simulated):
    root, warehouse, _, _ = workspace
    before, _ = simulated
    assert _fingerprint(warehouse) == before
    # The scratch copy is gone: its folder keeps only dbt's partial parse for the next
    # simulation, and the simulations' lock file stays beside the warehouse.
    folder = simulation.scratch_folder(warehouse)
    assert [p.name for p in folder.iterdir()] == ["warehouse.duckdb.partial_parse.msgpack"]
    assert sorted(p.name for p in warehouse.parent.glob("*simulate*")) == [
        "warehouse.duckdb.simulate",
        "warehouse.duckdb.simulate.lock",
    ]


def test_the_pdf_is_one_page_with_the_changes(workspace, simulated):
    _, runs = simulated
    reader = PdfReader(runs["new"][1])
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Re-rating simulation" in text and "nova-ultra-12.yml" in text
    # cus_pro first (the largest invoice change): $300.00 invoiced over both periods, −$36.00, revenue −$30.00.
    assert text.index("cus_pro") < text.index("cus_pack")
    for figure in ("US$300.00", "-US$36.00", "-US$30.00", "-US$6.00", "18,800", "15,200"):
        assert figure in text, figure


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f[:2] + ["/nonexistent/new.yml"] + f[3:], "cannot read catalog /nonexistent/new.yml"),
        (lambda f: [a.replace("2026-02", "2026-13") for a in f], "period '2026-13' is not YYYY-MM"),
        (lambda f: [a.replace("2026-02", "2026-04") for a in f], "period 2026-04 is after 2026-03"),
        (lambda f: f[:1] + f[3:], "simulate needs --catalog NEW.yml"),
        (lambda f: f[:-3] + ["/nonexistent/w.duckdb"] + f[-2:], "warehouse /nonexistent/w.duckdb does not exist"),
        (lambda f: [*f, "--as-of", "2026-05-01"], "a simulation rebuilds at the clock of the warehouse's last build (2026-04-01T00:00:00)"),
    ],
)  # fmt: skip
def test_bad_input_gets_one_line(workspace, capsys, change, message):
    root, warehouse, new_catalog, _ = workspace
    assert main(change(_flags(root, warehouse, new_catalog))) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("credits simulate: ") and message in last, last


def test_an_invalid_catalog_or_an_unbuilt_warehouse_is_refused(workspace, capsys, tmp_path):
    root, warehouse, new_catalog, _ = workspace
    invalid = tmp_path / "invalid.yml"
    invalid.write_text(new_catalog.read_text().replace("weight: 12", "weight: -12"))
    assert main(_flags(root, warehouse, invalid)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid.yml" in err[0] and "weight" in err[0], err

    empty = tmp_path / "empty.duckdb"
    connect(empty).close()
    assert main(_flags(root, empty, new_catalog)) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert (
        last
        == f"credits simulate: warehouse {empty} has not been built yet; run `credits run` first"
    )
    assert list(simulation.scratch_folder(empty).iterdir()) == []


# --------------------------------------------------------------------------- without dbt


def test_csv_cells_cannot_start_a_formula_and_numbers_stay_numbers():
    key = ("2026-03", '=HYPERLINK("x")', "credits_consumed", "")
    money = ("2026-03", '=HYPERLINK("x")', "invoiced_amount", "EUR")
    comparison = simulation.Comparison(
        ("2026-03",),
        {key: Decimal("10.500000000000"), money: 1000},
        {key: Decimal("8.400000000000"), money: 950},
    )
    rows = simulation.csv_rows(comparison)
    customer = [r for r in rows if r[0] == "customer"]
    assert customer == [
        ["customer", "2026-03", "'=HYPERLINK(\"x\")", "credits_consumed", "", "credits", "10.5", "8.4", "-2.1"],
        ["customer", "2026-03", "'=HYPERLINK(\"x\")", "invoiced_amount", "EUR", "minor_units", "1000", "950", "-50"],
    ]  # fmt: skip
    assert plain_number(Decimal("1E+3")) == "1000"
    assert plain_number(Decimal("-0.000")) == "0"


def test_report_paths_stay_under_the_reports_folder(tmp_path):
    csv_path, pdf_path = simulation.report_paths(
        tmp_path, ["2026-01", "2026-03"], tmp_path / "../../etc/passwd.yml"
    )
    assert csv_path == tmp_path / "simulations" / "2026-01_2026-03" / "passwd.csv"
    assert pdf_path.parent == csv_path.parent
    odd, _ = simulation.report_paths(tmp_path, ["2026-01", "2026-01"], tmp_path / "..yml")
    assert odd.parent == tmp_path / "simulations" / "2026-01_2026-01"
    assert odd.name.endswith(".csv") and not odd.name.startswith(".")


def test_bar_chart_escapes_its_labels_and_takes_only_exact_numbers():
    svg = bar_chart_svg([("<b>", [Decimal(5), Decimal(-2)])], ["A&B", "C"], "en_GB")
    assert "&lt;b&gt;" in svg and "A&amp;B" in svg and "<b>" not in svg
    assert svg.count("<rect") == 2
    with pytest.raises(TypeError):
        bar_chart_svg([("x", [1.5, 2])], ["a", "b"], "en_GB")
