"""The `credits` command end to end on a small generated landing directory.

One module-scoped sequence (generate, run, run again, close) because every Dagster run
costs seconds of fixed overhead. The tests that build (several whole builds each) run in
`make test-commands`; the refusals, which build nothing, in `make test`.
"""

import datetime as dt

import duckdb
import pytest
from pypdf import PdfReader

from credits_warehouse.periods import month_start, period_bounds
from credits_warehouse.sample_data.generate import generate
from dagster_project.cli import main

AS_OF = "2026-03-01T00:00:00"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    summary = generate(root, customers=6, events=3_000, start=dt.date(2026, 1, 1), months=2, seed=3)
    flags = [
        "--landing", str(summary.landing),
        "--catalog", str(summary.catalog),
        "--warehouse", str(root / "warehouse.duckdb"),
        "--reports", str(root / "reports"),
        "--as-of", AS_OF,
    ]  # fmt: skip
    return root, summary, flags


def _scalar(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


@pytest.mark.commands
def test_run_twice_loads_nothing_twice(workspace, capsys):
    root, summary, flags = workspace
    assert main(["run", *flags]) == 0
    warehouse = root / "warehouse.duckdb"
    rows = _scalar(warehouse, "select count(*) from raw.events")
    files = _scalar(warehouse, "select count(*) from raw.loaded_files")
    assert rows == summary.event_rows
    assert _scalar(warehouse, "select count(*) from marts.fct_rated_events") > 0

    # Nothing new at the same clock: nothing to do, and the file is not even rewritten.
    before = warehouse.stat().st_mtime_ns
    assert main(["run", *flags]) == 0
    assert warehouse.stat().st_mtime_ns == before
    assert "is up to date" in capsys.readouterr().err

    assert main(["run", "--full-refresh", *flags]) == 0
    assert _scalar(warehouse, "select count(*) from raw.events") == rows
    assert _scalar(warehouse, "select count(*) from raw.loaded_files") == files
    out, err = capsys.readouterr()
    assert "0 new files" in err
    # dbt's own output goes to a log beside the warehouse, its progress to stderr.
    assert "Running with dbt" not in out
    assert "dbt: 1/" in err
    assert "Running with dbt" in (root / "warehouse.duckdb.dbt.log").read_text()


def _numbers(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return dict(
            con.execute(
                "select invoice_id, invoice_number from marts.fct_invoices where invoice_number is not null"
            ).fetchall()
        )
    finally:
        con.close()


@pytest.mark.commands
def test_numbering_across_two_closes_and_a_rerun(workspace):
    root, _, flags = workspace
    warehouse = root / "warehouse.duckdb"
    assert main(["close", "2026-01", *flags]) == 0
    january = _numbers(warehouse)
    assert january, "closing January finalizes its invoices"

    # A rebuild from raw reproduces January's frozen figures.
    assert main(["run", "--full-refresh", *flags]) == 0
    assert _numbers(warehouse) == january

    assert main(["close", "2026-02", *flags]) == 0
    both = _numbers(warehouse)
    assert {k: both[k] for k in january} == january
    for series in ("INV", "CN"):
        seqs = sorted(int(n.rsplit("-", 1)[1]) for n in both.values() if n.startswith(series))
        assert seqs == list(range(1, len(seqs) + 1))


@pytest.mark.commands
def test_close_writes_statements_and_is_idempotent(workspace, capsys):
    root, _, flags = workspace
    assert main(["close", "2026-02", *flags]) == 0
    statements = sorted((root / "reports").glob("*/statements/*.pdf"))
    assert {p.parent.parent.name for p in statements} == {"2026-01", "2026-02"}
    first = statements[0]
    text = "".join(page.extract_text() for page in PdfReader(first).pages)
    customer_id = first.stem
    balance = _scalar(
        root / "warehouse.duckdb",
        f"select count(*) from marts.dim_customers where customer_id = '{customer_id}'",  # noqa: S608
    )
    assert balance == 1
    assert "Credit statement" in text and customer_id in text
    before = {p: p.read_bytes() for p in statements}

    assert main(["close", "2026-02", *flags]) == 0
    assert "already closed" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in statements} == before


def test_close_refuses_a_period_not_ended(workspace, capsys):
    _, _, flags = workspace
    assert main(["close", "2026-03", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has not ended" in err[0]


@pytest.mark.commands
def test_a_clock_past_this_machines_closes_what_has_ended_by_it(tmp_path, capsys):
    """Contract §7: a close refuses a period not ended by the clock, the run's (--as-of),
    not this machine's. This month is not over here, but it is at next month's clock."""
    month = month_start(dt.datetime.now(dt.UTC)).date()
    summary = generate(tmp_path / "gen", customers=3, events=600, start=month, months=1, seed=5)
    clock = period_bounds(f"{month:%Y-%m}")[1]  # the month's end
    flags = [
        "--landing", str(summary.landing),
        "--catalog", str(summary.catalog),
        "--warehouse", str(tmp_path / "warehouse.duckdb"),
        "--reports", str(tmp_path / "reports"),
        "--as-of", clock.isoformat(),
    ]  # fmt: skip
    assert main(["close", f"{month:%Y-%m}", *flags]) == 0
    assert f"closed through {month:%Y-%m}" in capsys.readouterr().err
    assert list((tmp_path / "reports" / f"{month:%Y-%m}" / "statements").glob("*.pdf"))


def test_malformed_catalog_exits_with_one_line_and_writes_nothing(tmp_path, workspace, capsys):
    root, summary, _ = workspace
    bad = tmp_path / "catalog.yml"
    bad.write_text(summary.catalog.read_text().replace("operation: sum", "operation: avg", 1))
    warehouse = tmp_path / "w.duckdb"
    code = main(
        [
            "run",
            "--landing",
            str(summary.landing),
            "--catalog",
            str(bad),
            "--warehouse",
            str(warehouse),
            "--as-of",
            AS_OF,
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "aggregators[0].operation" in err[0]
    assert not warehouse.exists()


@pytest.mark.commands
def test_alerts_are_never_sent_twice_across_runs(workspace):
    import json

    root, _, flags = workspace
    outbox = root / "reports" / "alerts" / "outbox.jsonl"
    assert main(["run", *flags]) == 0
    first = outbox.read_text().splitlines()
    assert first, "the generated data raises alerts"
    ids = [json.loads(line)["alert_id"] for line in first]
    assert len(ids) == len(set(ids))
    assert main(["run", *flags]) == 0
    assert outbox.read_text().splitlines() == first
