"""The pandera checks: one per model on every layer, strict at the boundaries, blocking, and
judged in DuckDB exactly as pandera would judge the same rows."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pandera.errors
import polars as pl
import pytest

from credits_warehouse.checks import models as m
from credits_warehouse.checks.pushdown import judge, sql_rules
from credits_warehouse.ingest import LANDING_TABLES, ensure_raw_schema
from dagster_project.checks.asset_checks import ASSET_CHECKS, PANDERA_CHECKS
from dagster_project.cli import main
from dagster_project.dbt import credits_dbt_assets
from dagster_project.definitions import defs

REPO_ROOT = Path(__file__).resolve().parents[2]
BY_ASSET = {spec.asset: spec for spec in PANDERA_CHECKS}


def _layer(layer: str) -> set:
    return {spec.asset for spec in PANDERA_CHECKS if spec.asset.path[0] == layer}


def test_every_mart_has_a_blocking_pandera_check():
    marts = {key for key in credits_dbt_assets.keys if key.path[0] == "marts"}
    on_disk = {p.stem for p in (REPO_ROOT / "dbt" / "models" / "marts").glob("*.sql")}
    assert {key.path[-1] for key in marts} == on_disk
    assert _layer("marts") == marts

    graph_checks = defs.resolve_asset_graph().asset_check_keys
    specs = {
        (spec.asset_key, spec.name): spec for checks in ASSET_CHECKS for spec in checks.check_specs
    }
    for mart in marts:
        check = BY_ASSET[mart]
        assert (mart, check.name) in specs
        assert specs[(mart, check.name)].blocking
        assert any(k.asset_key == mart and k.name == check.name for k in graph_checks)


def test_every_landed_table_and_the_named_models_have_a_check():
    assert {key.path[-1] for key in _layer("raw")} == set(LANDING_TABLES)
    assert {key.path[-1] for key in _layer("staging")} >= {
        "stg_landing__events",
        "stg_landing__customers",
    }
    assert {key.path[-1] for key in _layer("intermediate")} >= {
        "int_events_rated",
        "int_usage_allocated_to_grants",
        "int_ledger_entries_ordered",
        "int_revenue_by_grant_period",
    }
    names = [spec.name for spec in PANDERA_CHECKS]
    assert len(names) == len(set(names))
    # The CLI and the README name these two.
    assert {"pandera_raw_event_rows", "pandera_rated_events"} <= set(names)


def test_raw_checks_read_only_the_latest_load_batch():
    for key in _layer("raw"):
        assert "batch_seq = (select max(batch_seq)" in BY_ASSET[key].sql


def test_the_boundaries_are_strict():
    for key in _layer("raw") | _layer("marts"):
        assert BY_ASSET[key].model.to_schema().strict is True, key


def test_every_rule_of_every_model_has_its_sql():
    for spec in PANDERA_CHECKS:
        rules = sql_rules(spec.model)
        schema = spec.model.to_schema()
        assert {check.name for check in schema.checks} <= set(rules)
        assert all(
            f"{name}: not_nullable" in rules for name, c in schema.columns.items() if not c.nullable
        )


# --- small frames, no warehouse ---------------------------------------------------------


def _invoices(**columns) -> pl.DataFrame:
    """Two invoices: a finalized purchase (1000 + 200 tax) and a draft subscription (500 + 0)."""
    base = {
        "invoice_id": ["purchase:p1", "subscription:c1:2026-02-01T00:00:00"],
        "invoice_number": ["INV-2026-000001", None],
        "customer_id": ["c1", "c1"],
        "invoice_type": ["purchase", "subscription"],
        "period": ["2026-01", "2026-01"],
        "issued_at": [dt.datetime(2026, 1, 5), dt.datetime(2026, 2, 1)],
        "currency": ["USD", "USD"],
        "subtotal": [1000, 500],
        "tax_rate": [Decimal("0.2"), Decimal("0")],
        "tax": [200, 0],
        "total": [1200, 500],
        "status": ["finalized", "draft"],
    }
    base.update(columns)
    return pl.DataFrame(base).with_columns(
        pl.col("issued_at").cast(pl.Datetime("us")), pl.col("tax_rate").cast(pl.Decimal(16, 6))
    )


def _journal(**columns) -> pl.DataFrame:
    """One purchase journal that balances: cash 1200 = deferred revenue 1000 + tax 200."""
    base = {
        "journal_id": ["invoice:purchase:p1"] * 3,
        "posted_at": [dt.datetime(2026, 1, 5)] * 3,
        "period": ["2026-01"] * 3,
        "customer_id": ["c1"] * 3,
        "account": ["cash", "deferred_revenue", "tax_payable"],
        "debit": [1200, 0, 0],
        "credit": [0, 1000, 200],
        "currency": ["USD"] * 3,
        "source_type": ["purchase"] * 3,
        "source_id": ["p1"] * 3,
    }
    base.update(columns)
    return pl.DataFrame(base).with_columns(pl.col("posted_at").cast(pl.Datetime("us")))


def _ledger(**columns) -> pl.DataFrame:
    """A grant of 10, usage of 4 on it, then a negative adjustment of 8: 6 from the grant
    (booked as the adjustment) and 2 unfunded, a shortfall with no aggregator."""
    base = {
        "entry_id": [f"c1:{n:09d}" for n in range(1, 5)],
        "customer_id": ["c1"] * 4,
        "entry_seq": [1, 2, 3, 4],
        "entry_at": [dt.datetime(2026, 1, d) for d in (1, 2, 3, 3)],
        "period": ["2026-01"] * 4,
        "entry_type": ["grant", "usage", "adjustment", "unfunded"],
        "grant_id": ["g1", "g1", "g1", None],
        "aggregator_id": [None, "nova_fast", None, None],
        "usage_date": [dt.date(2026, 1, d) for d in (1, 2, 3, 3)],
        "credits": [Decimal(10), Decimal(-4), Decimal(-6), Decimal(-2)],
        "balance_after": [Decimal(10), Decimal(6), Decimal(0), Decimal(-2)],
    }
    base.update(columns)
    return pl.DataFrame(base).with_columns(
        pl.col("entry_at").cast(pl.Datetime("us")),
        pl.col("credits", "balance_after").cast(pl.Decimal(38, 12)),
    )


def _pandera_passes(model, frame: pl.DataFrame) -> bool:
    try:
        model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors:
        return False
    return True


def test_the_sample_frames_are_valid():
    assert _pandera_passes(m.Invoices, _invoices())
    assert _pandera_passes(m.JournalEntries, _journal())


def test_a_strict_mart_rejects_an_extra_column():
    with pytest.raises(pandera.errors.SchemaErrors) as err:
        m.Invoices.validate(_invoices().with_columns(pl.lit(1).alias("discount")), lazy=True)
    assert "column_in_schema" in err.value.failure_cases["check"].to_list()


def test_money_is_non_negative_integer_minor_units():
    with pytest.raises(pandera.errors.SchemaErrors, match="greater_than_or_equal_to"):
        m.JournalEntries.validate(_journal(debit=[-1200, 0, 0], credit=[0, 1000, 200]), lazy=True)
    as_float = _journal().with_columns(pl.col("credit").cast(pl.Float64))
    with pytest.raises(pandera.errors.SchemaErrors, match="dtype"):
        m.JournalEntries.validate(as_float, lazy=True)


def test_periods_currencies_and_enumerations_are_checked():
    for bad in (
        _invoices(period=["2026-13", "2026-01"]),
        _invoices(currency=["usd", "USD"]),
        _invoices(status=["paid", "draft"]),
        _invoices(invoice_number=["INV-26-1", None]),
    ):
        assert not _pandera_passes(m.Invoices, bad)


BROKEN = {
    "valid invoices": (m.Invoices, _invoices()),
    "negative tax": (m.Invoices, _invoices(tax=[-200, 0], total=[800, 500])),
    "total is not subtotal + tax": (m.Invoices, _invoices(total=[1201, 500])),
    "bad period": (m.Invoices, _invoices(period=["2026-00", "2026-01"])),
    "lower-case currency": (m.Invoices, _invoices(currency=["USD", "usd"])),
    "a draft with a number": (m.Invoices, _invoices(invoice_number=["INV-2026-000001"] * 2)),
    "a finalized invoice without one": (m.Invoices, _invoices(invoice_number=[None, None])),
    "an invoice in the credit-note series": (
        m.Invoices,
        _invoices(invoice_number=["CN-2026-000001", None]),
    ),
    "an invoice id twice": (m.Invoices, _invoices(invoice_id=["i1", "i1"])),
    "a null customer": (m.Invoices, _invoices(customer_id=["c1", None])),
    "valid journal": (m.JournalEntries, _journal()),
    "valid ledger, with an adjustment's unfunded shortfall": (m.CreditLedger, _ledger()),
    "usage without its aggregator": (
        m.CreditLedger,
        _ledger(aggregator_id=[None, None, None, None]),
    ),
    "a grant naming an aggregator": (
        m.CreditLedger,
        _ledger(aggregator_id=["nova_fast", "nova_fast", None, None]),
    ),
    # An unbalanced journal is not pandera's: a sum per journal is a check across rows,
    # dbt's assert_journals_balance (tests/unit/test_dbt_checks.py, docs/checks.md).
    "valid for pandera, an unbalanced journal": (
        m.JournalEntries,
        _journal(credit=[0, 1000, 100]),
    ),
    "a posting on both sides": (
        m.JournalEntries,
        _journal(debit=[1200, 5, 0], credit=[0, 1005, 200]),
    ),
    "an unknown account": (
        m.JournalEntries,
        _journal(account=["cash", "deferred_revenue", "vat"]),
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_duckdb_judges_rows_as_pandera_does(case):
    model, frame = BROKEN[case]
    con = duckdb.connect()
    con.register("frame", frame)
    verdict = judge(con, model, "select * from frame")
    assert verdict.passed == _pandera_passes(model, frame) == (case.startswith("valid"))
    assert verdict.rows == frame.height


def test_a_broken_row_is_reported_by_rule_with_an_example():
    con = duckdb.connect()
    con.register("frame", _invoices(total=[1201, 500]))
    verdict = judge(con, m.Invoices, "select * from frame")
    assert verdict.failing == 1
    assert verdict.broken == {"total_is_subtotal_plus_tax": 1}
    assert "total_is_subtotal_plus_tax" in verdict.summary


def test_a_schema_failure_is_reported_before_any_rule():
    con = duckdb.connect()
    con.register("frame", _invoices().drop("tax"))
    verdict = judge(con, m.Invoices, "select * from frame")
    assert not verdict.passed
    assert "column_in_dataframe" in verdict.summary


# --- through the CLI: a failing check stops the run and is named -------------------------


@pytest.mark.commands  # a whole `credits run`
def test_a_failing_raw_check_stops_the_run_naming_it(tmp_path, capsys):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    ensure_raw_schema(con)
    # A landed row that no load writes: line numbers start at 1.
    con.execute("insert into raw.events values ('b1', 1, 'events/x.jsonl', 0, '{}', '2026-01-01')")
    con.close()
    (tmp_path / "landing").mkdir()
    flags = [
        "--landing", str(tmp_path / "landing"), "--catalog", str(REPO_ROOT / "data" / "catalog.yml"),
        "--warehouse", str(warehouse), "--reports", str(tmp_path / "reports"),
        "--as-of", "2026-02-01T00:00:00",
    ]  # fmt: skip
    assert main(["run", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "pandera_raw_event_rows" in err
    assert "line_number" in err
