"""A backfill is the history replayed: `credits backfill --from 2026-01 --to 2026-03` must
leave the same warehouse and the same documents as running and closing each of the three
months by hand at its end, and as the runs a Dagster partition backfill of `backfill_job`
launches over the same range. All run the Dagster jobs in process, so this also covers the
partitioned `backfill_job` and `close_job` on generated data.
"""

import datetime as dt
import hashlib

import duckdb
import pytest
from dagster import DagsterInstance
from helpers import use_settings_env

from credits_warehouse.incremental import RUN_BOOKKEEPING_COLUMNS, RUN_BOOKKEEPING_TABLES
from credits_warehouse.sample_data.generate import generate
from dagster_project.cli import main
from dagster_project.definitions import build_definitions

# A whole command end to end, each run a whole build: `make test-commands` (CI runs it).
pytestmark = pytest.mark.commands

PERIODS = [("2026-01", "2026-02-01T00:00:00"), ("2026-02", "2026-03-01T00:00:00"),
           ("2026-03", "2026-04-01T00:00:00")]  # fmt: skip


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("backfill_data")
    return generate(root, customers=6, events=4_000, start=dt.date(2026, 1, 1), months=3, seed=11)


def _flags(summary, root):
    return [
        "--landing", str(summary.landing),
        "--catalog", str(summary.catalog),
        "--warehouse", str(root / "warehouse.duckdb"),
        "--reports", str(root / "reports"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def by_hand(landing, tmp_path_factory):
    root = tmp_path_factory.mktemp("by_hand")
    flags = _flags(landing, root)
    for period, end in PERIODS:
        assert main(["run", *flags, "--as-of", end]) == 0
        assert main(["close", period, *flags, "--as-of", end]) == 0
    return root


@pytest.fixture(scope="module")
def backfilled(landing, tmp_path_factory):
    root = tmp_path_factory.mktemp("backfilled")
    flags = _flags(landing, root)
    assert main(["backfill", "--from", "2026-01", "--to", "2026-03", *flags]) == 0
    return root


@pytest.fixture(scope="module")
def dagster_backfilled(landing, tmp_path_factory):
    """The runs a Dagster partition backfill of backfill_job launches, oldest first (as the
    UI's instance queues them, one at a time): settings from the environment, the clock
    from the job's partitioned config, the warehouse written in place."""
    root = tmp_path_factory.mktemp("dagster_backfilled")
    with pytest.MonkeyPatch.context() as patch:
        use_settings_env(
            patch, landing.landing, landing.catalog, root / "warehouse.duckdb", root / "reports"
        )
        job = build_definitions().resolve_job_def("backfill_job")
        for period, _ in PERIODS:
            with DagsterInstance.ephemeral() as instance:
                result = job.execute_in_process(
                    partition_key=period, instance=instance, raise_on_error=False
                )
                assert result.success, period
    return root


def _tables(warehouse) -> dict[str, list[tuple]]:
    """Every table of the warehouse, rows sorted: raw (with the control tables),
    intermediate and marts; without the run bookkeeping (which build judged a row), since
    a backfill makes one build a period where run and close by hand make two."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by all"
        ).fetchall()
        kept = (
            f"columns(lambda c: c not in ({', '.join(repr(c) for c in RUN_BOOKKEEPING_COLUMNS)}))"
        )
        return {
            f"{schema}.{name}": con.execute(
                f'select {kept} from "{schema}"."{name}" order by all'  # noqa: S608 - catalog names
            ).fetchall()
            for schema, name in names
            if f"{schema}.{name}" not in RUN_BOOKKEEPING_TABLES
        }
    finally:
        con.close()


def _files(root) -> dict[str, str]:
    reports = root / "reports"
    return {
        str(path.relative_to(reports)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(reports.rglob("*"))
        if path.is_file()
    }


def test_backfill_leaves_the_same_warehouse_as_run_and_close_by_hand(by_hand, backfilled):
    expected = _tables(by_hand / "warehouse.duckdb")
    got = _tables(backfilled / "warehouse.duckdb")
    assert set(got) == set(expected)
    assert "raw.period_closes" in got and "marts.fct_credit_ledger" in got
    different = [name for name in expected if got[name] != expected[name]]
    assert different == []
    closes = got["raw.period_closes"]
    assert [(p, at.isoformat()) for p, at in closes] == PERIODS


def test_a_dagster_partition_backfill_leaves_the_same_warehouse_and_documents(
    backfilled, dagster_backfilled
):
    expected = _tables(backfilled / "warehouse.duckdb")
    got = _tables(dagster_backfilled / "warehouse.duckdb")
    assert [name for name in expected if got.get(name) != expected[name]] == []
    assert set(got) == set(expected)
    assert _files(dagster_backfilled) == _files(backfilled)


def test_backfill_writes_the_same_documents_byte_for_byte(by_hand, backfilled):
    expected = _files(by_hand)
    assert any(name.startswith("2026-03/statements/") for name in expected)
    assert any("/invoices/" in name for name in expected)
    assert _files(backfilled) == expected


def test_a_backfilled_period_is_skipped_and_the_future_refused(landing, backfilled, capsys):
    flags = _flags(landing, backfilled)
    assert main(["backfill", "--from", "2026-02", "--to", "2026-03", *flags]) == 0
    assert "2026-03 (2/2): already closed, skipped" in capsys.readouterr().err
    code = main(
        ["backfill", "--from", "2026-04", "--to", "2026-04", *flags, "--as-of", "2026-04-15"]
    )
    assert code == 1
    assert "period 2026-04 has not ended by the clock" in capsys.readouterr().err


def test_a_run_cannot_go_back_before_the_last_load_or_close(landing, backfilled, capsys):
    """Loading at a clock before the last load would back-date rows and move closed
    periods: refused in one line, the warehouse left as it was."""
    flags = _flags(landing, backfilled)
    before = _tables(backfilled / "warehouse.duckdb")
    assert main(["run", *flags, "--as-of", "2026-03-15T00:00:00"]) == 1
    err = capsys.readouterr().err
    assert (
        "the clock 2026-03-15T00:00:00 is before the last load or close at 2026-04-01T00:00:00"
        in err
    )
    assert _tables(backfilled / "warehouse.duckdb") == before
