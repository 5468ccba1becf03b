"""The README's analyst section holds true: its queries run, and read-only opening works.

Every ```sql block of "## For analysts: querying the warehouse" runs against a warehouse
built from a small `credits generate` landing at the demo's clock (2026-04-01), opened
with `read_only=True`, and returns at least one row; the roll-forward block's identity
(opening + billed - recognized - breakage - refunded = closing) holds on every row.

The section's sentence on readers and writers is checked too: read-only connections in two
processes coexist; a process opening the file for writing in place fails on DuckDB's lock
while a reader is open; and `credits run` (copy and swap) succeeds while a reader is open,
the reader still seeing the file as it was.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from helpers import REPO_ROOT, build_warehouse

from credits_warehouse.sample_data.generate import generate

README = REPO_ROOT / "README.md"
SECTION = "## For analysts: querying the warehouse"
AS_OF = "2026-04-01T00:00:00"
CREDITS = Path(sys.executable).with_name("credits")


def analyst_sql_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION) + len(SECTION)
    end = text.find("\n## ", start)
    section = text[start : end if end >= 0 else None]
    return re.findall(r"^```sql\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


BLOCKS = analyst_sql_blocks()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    summary = generate(
        root / "gen", customers=8, events=3_000, start=dt.date(2026, 2, 1), months=2, seed=7
    )
    warehouse = build_warehouse(root, summary.landing, catalog_path=summary.catalog, as_of=AS_OF)
    return warehouse, summary


@pytest.fixture(scope="module")
def warehouse(built):
    return built[0]


# Run in another process, as an analyst's session or a second program would be.
READ_COUNT = (
    "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
    "print(con.execute(sys.argv[2]).fetchone()[0])"
)
OPEN_FOR_WRITING = "import duckdb, sys; duckdb.connect(sys.argv[1])"


def _in_other_process(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_section_has_the_eight_example_queries():
    assert len(BLOCKS) == 8
    assert any("fct_deferred_revenue" in block for block in BLOCKS)
    assert any("fct_balances_over_time" in block for block in BLOCKS)
    assert any("fct_monthly_usage_by_dimension" in block for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_each_query_returns_rows_read_only(warehouse, index):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(BLOCKS[index])
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    assert rows, BLOCKS[index]
    if "fct_deferred_revenue" in BLOCKS[index]:
        for row in (dict(zip(columns, r, strict=True)) for r in rows):
            assert (
                row["opening"] + row["billed"] - row["recognized"] - row["breakage"]
                - row["refunded"] == row["closing"]
            ), row  # fmt: skip


def test_readers_coexist_and_block_an_in_place_writer(warehouse):
    path = str(warehouse)
    con = duckdb.connect(path, read_only=True)
    try:
        assert con.execute("select count(*) from marts.dim_customers").fetchone()[0] == 8
        other_reader = _in_other_process(
            READ_COUNT, path, "select count(*) from marts.dim_customers"
        )
        assert other_reader.returncode == 0, other_reader.stderr
        assert other_reader.stdout.strip() == "8"
        writer = _in_other_process(OPEN_FOR_WRITING, path)
        assert writer.returncode != 0
        assert "Could not set lock on file" in writer.stderr
    finally:
        con.close()


@pytest.mark.commands  # a whole `credits run` in its own process
def test_credits_run_swaps_the_file_under_an_open_reader(built):
    warehouse, summary = built
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        batches = con.execute("select count(*) from raw.load_batches").fetchone()[0]
        extra = summary.landing.parent / "later" / "events" / "extra.jsonl"
        extra.parent.mkdir(parents=True)
        # A later landing directory with one more event: the run records a new load batch.
        extra.write_text(
            '{"event_id": "readme-extra", "customer_id": "cus_00001", '
            '"event_type": "llm_token_usage", "timestamp": "2026-03-31T12:00:00Z", '
            '"properties": {"model": "nova-fast", "tokens": 1000, "user_id": "u1"}}\n'
        )
        run = subprocess.run(  # noqa: S603 - a fixed argv, no shell
            [
                str(CREDITS), "run",
                "--landing", str(extra.parents[1]),
                "--catalog", str(summary.catalog),
                "--warehouse", str(warehouse),
                "--reports", str(warehouse.parent / "reports"),
                "--as-of", AS_OF,
            ],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        # The open connection still reads the file as it was when it connected.
        assert con.execute("select count(*) from raw.load_batches").fetchone()[0] == batches
    finally:
        con.close()
    after = _in_other_process(READ_COUNT, str(warehouse), "select count(*) from raw.load_batches")
    assert after.returncode == 0, after.stderr
    assert int(after.stdout) == batches + 1


def test_the_duckdb_cli_opens_the_warehouse_read_only(warehouse):
    """`.venv/bin/duckdb -readonly FILE` (duckdb-cli 1.5.6) reads what DuckDB 2.0 wrote,
    because a new warehouse is created in the 1.5 storage format."""
    cli = Path(sys.executable).with_name("duckdb")
    result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [str(cli), "-readonly", "-csv", str(warehouse), "-c", BLOCKS[0]],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    header, first, *_ = result.stdout.splitlines()
    assert header.startswith("customer_id,")
    assert first.startswith("cus_")
