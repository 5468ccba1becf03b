"""`CREDITS_ENGINE=spark credits demo` against the default `credits demo`: the same
generated landing, run and closed on each engine, must give the same rows in every model
the DuckDB file names and the same bytes in every file the close writes (the PDFs, the
alert outbox).

Marked `spark` (`make test-spark`): the Spark demo starts a JVM for each of its dbt steps
and takes about 7 minutes on 2 cores; the default one about 1 minute. Both at the demo's
own size (30 customers, 100k events, 3 months), so this is the command a user runs.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from credits_warehouse.warehouse import MODEL_SCHEMAS, table_checksums
from dagster_project.cli import main

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def demos(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    monkeypatch = pytest.MonkeyPatch()
    try:
        monkeypatch.delenv("CREDITS_ENGINE", raising=False)
        assert main(["demo", "--out", str(root / "duckdb")]) == 0
        monkeypatch.setenv("CREDITS_ENGINE", "spark")
        monkeypatch.delenv("CREDITS_SPARK_SELECT", raising=False)
        monkeypatch.delenv("CREDITS_SPARK_DIR", raising=False)
        assert main(["demo", "--out", str(root / "spark")]) == 0
    finally:
        monkeypatch.undo()
    return root / "duckdb", root / "spark"


def _first_rows_apart(duck: Path, spark: Path, relation: str) -> dict[str, list]:
    """A few rows each side holds and the other does not, for the failure message."""
    con = duckdb.connect()
    try:
        con.execute("attach ? as d (read_only)", [str(duck / "warehouse.duckdb")])
        con.execute("attach ? as s (read_only)", [str(spark / "warehouse.duckdb")])
        return {
            side: con.execute(
                f"from (from {a}.{relation} except all from {b}.{relation}) limit 3"  # noqa: S608 - names from the catalog
            ).fetchall()
            for side, a, b in (("only on duckdb", "d", "s"), ("only on spark", "s", "d"))
        }
    finally:
        con.close()


def test_every_model_holds_the_same_rows_on_both_engines(demos):
    duck, spark = demos
    on_duck = table_checksums(duck / "warehouse.duckdb", schemas=MODEL_SCHEMAS)
    on_spark = table_checksums(spark / "warehouse.duckdb", schemas=MODEL_SCHEMAS)
    assert sorted(on_spark) == sorted(on_duck)
    assert len(on_duck) >= 80  # every model, not a few
    apart = {
        relation: (on_duck[relation], on_spark[relation], _first_rows_apart(duck, spark, relation))
        for relation in on_duck
        if on_duck[relation] != on_spark[relation]
    }
    assert apart == {}


def test_every_file_the_close_writes_is_the_same_bytes(demos):
    duck, spark = demos

    def files(demo: Path) -> dict[str, bytes]:
        reports = demo / "reports"
        return {
            str(path.relative_to(reports)): path.read_bytes()
            for path in sorted(reports.rglob("*"))
            if path.is_file()
        }

    on_duck, on_spark = files(duck), files(spark)
    assert sorted(on_spark) == sorted(on_duck)
    assert sum(name.endswith(".pdf") for name in on_duck) >= 150  # statements and invoices
    assert [name for name in on_duck if on_duck[name] != on_spark[name]] == []
