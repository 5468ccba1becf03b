"""`CREDITS_ENGINE=spark credits run`: the engine switch end to end (docs/spark.md, "The
engine switch"), on a small landing directory.

Marked `spark` (`make test-spark`): it needs the optional extra and Java 17, and each run
starts a JVM. Every model is built and every data test run (no CREDITS_SPARK_SELECT: the
strict mode, where a model not built or a test not run fails the run); the views they are
published as must hold the rows of a DuckDB build of the same landing, and the control tables must
behave as on DuckDB: a second run with nothing new loads nothing and writes no raw file,
and a new landing file is one new load batch, written to Spark's raw once.
"""

from __future__ import annotations

import pytest
from helpers import CATALOG_PATH, build_warehouse, query, scalar, write_landing
from test_spark_cross_engine import EVENTS

from credits_warehouse.spark_warehouse import spark_dir
from dagster_project.cli import main

pytestmark = pytest.mark.spark

AS_OF = "2026-04-01T00:00:00"
LATER = "2026-04-02T00:00:00"

CUSTOMERS = [
    {
        "customer_id": "cus_a",
        "name": "A",
        "email": "a@example.com",
        "country": "US",
        "currency": "USD",
        "tax_rate": "0.0825",
        "created_at": "2026-02-15T00:00:00Z",
    },
    {
        "customer_id": "cus_b",
        "external_id": "ext-b",
        "name": "B, Ltd",
        "country": "DE",
        "currency": "EUR",
        "tax_rate": "0",
        "created_at": "2026-02-15T09:00:00+01:00",
    },
]
GRANTS = [
    {
        "grant_id": "g1",
        "customer_id": "cus_a",
        "kind": "promotional",
        "credits": "500",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-06-01T00:00:00Z",
        "priority": "5",
        "reason": "welcome",
        "created_by": "tests",
    }
]
LATE_EVENT = (
    '{"event_id": "late1", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-20T10:00:00Z", "properties": {"model": "nova-fast", "tokens": 10}}'
)


def _raw_files(folder) -> dict[str, int]:
    """Every file of Spark's raw tables, by path, with its modification time."""
    return {
        str(path.relative_to(folder)): path.stat().st_mtime_ns
        for path in sorted(folder.rglob("*.parquet"))
        if not path.name.endswith("all.parquet")  # catalog and control: rewritten each run
    }


def _published(warehouse) -> dict[str, int]:
    """`schema.model` -> rows of every view the Spark builds published."""
    views = query(
        warehouse,
        "select schema_name, view_name from duckdb_views() where not internal"
        " and schema_name in ('staging', 'intermediate', 'marts', 'reporting')",
    )
    return {
        f"{schema}.{view}": scalar(warehouse, f'select count(*) from "{schema}"."{view}"')  # noqa: S608
        for schema, view in views
    }


def _snapshot(warehouse, folder) -> tuple[dict, dict, tuple]:
    """After a run: the published views' rows, Spark's raw files, and how many load
    batches and Spark builds the DuckDB file records."""
    counts = (
        scalar(warehouse, "select count(*) from raw.load_batches"),
        scalar(warehouse, "select count(*) from raw.spark_builds"),
    )
    return _published(warehouse), _raw_files(folder / "raw"), counts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("spark_switch")
    landing = write_landing(
        root / "landing", customers=CUSTOMERS, grants=GRANTS, events_jsonl=EVENTS
    )
    warehouse = root / "warehouse.duckdb"
    flags = [
        "--landing", str(landing),
        "--catalog", str(CATALOG_PATH),
        "--warehouse", str(warehouse),
        "--reports", str(root / "reports"),
    ]  # fmt: skip
    folder = spark_dir(warehouse)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("CREDITS_ENGINE", "spark")
    monkeypatch.delenv("CREDITS_SPARK_SELECT", raising=False)
    monkeypatch.delenv("CREDITS_SPARK_DIR", raising=False)
    seen = {}
    try:
        assert main(["run", *flags, "--as-of", AS_OF]) == 0
        seen["first"] = _snapshot(warehouse, folder)
        assert main(["run", *flags, "--as-of", LATER]) == 0
        seen["second"] = _snapshot(warehouse, folder)
        (landing / "events" / "2026-03-late.jsonl").write_text(LATE_EVENT + "\n", encoding="utf-8")
        assert main(["run", *flags, "--as-of", LATER]) == 0
        seen["third"] = _snapshot(warehouse, folder)
    finally:
        monkeypatch.undo()
    duck = build_warehouse(root / "duckdb", landing, as_of=LATER, ingested_at=AS_OF)
    return warehouse, folder, duck, seen


def test_every_model_is_published_as_a_view_of_spark_outputs(runs):
    warehouse, folder, _, seen = runs
    published, raw_files, _ = seen["first"]
    assert "staging.stg_landing__events" in published
    assert "intermediate.int_events_rated" in published
    (outputs,) = query(warehouse, "select outputs from raw.spark_builds order by build_seq desc")[0]
    assert outputs.startswith(str(folder / "outputs"))
    # One load batch: one file per landing table that has rows, plus its columns file.
    events = sorted(p.split("/")[1].split("-")[0] for p in raw_files if p.startswith("events/"))
    assert events == ["batch", "columns"]


def test_a_second_run_with_nothing_new_loads_nothing(runs):
    _, _, _, seen = runs
    first, first_files, first_counts = seen["first"]
    second, second_files, second_counts = seen["second"]
    assert first_counts == (1, 1)
    assert second_counts == (1, 2)  # no new load batch; a second Spark build
    assert second_files == first_files  # no raw file written again
    # The same rows landed; models that follow the clock (daily balances, forecasts) move
    # with the second run's later clock, the staged rows do not.
    staged = {name: rows for name, rows in first.items() if name.startswith("staging.")}
    assert staged
    assert {name: second[name] for name in staged} == staged


def test_a_new_file_is_one_new_batch_file_and_its_rows_arrive(runs):
    _, _, _, seen = runs
    second, second_files, _ = seen["second"]
    third, third_files, third_counts = seen["third"]
    assert third_counts == (2, 3)
    new = sorted(set(third_files) - set(second_files))
    # The batch's events and its load_batches row (a table kept per batch too).
    assert [p.split("/")[0] for p in new] == ["events", "load_batches"]
    assert {p: third_files[p] for p in second_files} == second_files  # the old ones untouched
    assert third["staging.stg_landing__events"] == second["staging.stg_landing__events"] + 1


def test_the_views_hold_what_duckdb_builds(runs):
    """Row counts of every published model against the default engine's build of the same
    landing at the same clock (the cross-engine test compares every row)."""
    _, _, duck, seen = runs
    third, _, _ = seen["third"]
    expected = {
        name: scalar(duck, f"select count(*) from {name}")  # noqa: S608 - names from duckdb_views
        for name in third
    }
    assert third == expected
