"""The engine switch's parts that need no Spark (credits_warehouse/spark_warehouse.py and
spark_engine.export_raw_tables): the engine setting, where Spark's folder is, the raw
export one file per load batch, and the views that publish a build's outputs in DuckDB.
The whole switch on a Spark session: tests/dbt/test_spark_engine_switch.py (marker spark).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from helpers import write_landing

from credits_warehouse.ingest import load_landing
from credits_warehouse.spark_engine import export_raw_tables
from credits_warehouse.spark_warehouse import engine, prepare, publish, selection, spark_dir
from credits_warehouse.warehouse import connect, working_copy_path

EVENT = (
    '{{"event_id": "{id}", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T10:00:00Z", "properties": {{"model": "nova-fast", "tokens": 1}}}}'
)
CLOCK = dt.datetime(2026, 4, 1)


def test_the_engine_is_duckdb_unless_set():
    assert engine({}) == "duckdb"
    assert engine({"CREDITS_ENGINE": " Spark "}) == "spark"
    with pytest.raises(ValueError, match="CREDITS_ENGINE must be one of duckdb, spark"):
        engine({"CREDITS_ENGINE": "snowflake"})
    assert selection({}) == ("fqn:*",)
    assert selection({"CREDITS_SPARK_SELECT": "path:models/staging  int_events_rated"}) == (
        "path:models/staging",
        "int_events_rated",
    )


def test_the_spark_folder_is_the_real_warehouses_not_the_working_copys(monkeypatch, tmp_path):
    monkeypatch.delenv("CREDITS_SPARK_DIR", raising=False)
    warehouse = tmp_path / "w.duckdb"
    assert spark_dir(warehouse) == tmp_path / "w.duckdb.spark"
    assert spark_dir(working_copy_path(warehouse)) == tmp_path / "w.duckdb.spark"
    monkeypatch.setenv("CREDITS_SPARK_DIR", str(tmp_path / "elsewhere"))
    assert spark_dir(warehouse) == tmp_path / "elsewhere"


def _files(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "all.parquet"
    }


def test_raw_export_writes_each_load_batch_once(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    out = tmp_path / "raw"
    try:
        landing = write_landing(tmp_path / "l1", events_jsonl=[EVENT.format(id="e1")])
        load_landing(con, landing, CLOCK)
        first = export_raw_tables(con, out)
        assert "events" in first.tables and "period_closes" in first.tables
        assert [w for w in first.written if w.startswith("events/")] == [
            "events/batch-20260401T000000-000001.parquet"
        ]
        assert not first.rewound
        before = _files(out)

        again = export_raw_tables(con, out)
        assert again.written == [] and again.removed == []
        assert _files(out) == before

        (landing / "events" / "late.jsonl").write_text(EVENT.format(id="e2") + "\n")
        load_landing(con, landing, CLOCK + dt.timedelta(hours=1))
        third = export_raw_tables(con, out)
        assert third.written == [
            "events/batch-20260401T010000-000002.parquet",
            "load_batches/batch-20260401T010000-000002.parquet",
        ]
        assert {k: v for k, v in _files(out).items() if k in before} == before

        # The rows as Spark reads them: the whole folder, DuckDB's rowid a real column.
        rows = (
            duckdb.read_parquet(str(out / "events" / "*.parquet"))
            .select("rowid, batch_seq, raw_payload->>'event_id'")
            .order("rowid")
            .fetchall()
        )
        assert rows == [(0, 1, "e1"), (1, 2, "e2")]
        assert con.execute("select rowid from raw.events order by rowid").fetchall() == [(0,), (1,)]

        # A batch DuckDB no longer has (a failed run, rolled back) leaves Spark's raw too.
        con.execute("delete from raw.events where batch_seq = 2")
        con.execute("delete from raw.load_batches where batch_seq = 2")
        rolled_back = export_raw_tables(con, out)
        assert rolled_back.removed == [
            "events/batch-20260401T010000-000002.parquet",
            "load_batches/batch-20260401T010000-000002.parquet",
        ]
        assert rolled_back.rewound
    finally:
        con.close()


def test_raw_export_writes_every_batch_again_when_the_columns_change(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    out = tmp_path / "raw"
    try:
        load_landing(
            con, write_landing(tmp_path / "l", events_jsonl=[EVENT.format(id="e1")]), CLOCK
        )
        export_raw_tables(con, out)
        con.execute("alter table raw.events add column event_id varchar")
        changed = export_raw_tables(con, out)
        assert changed.rewound
        assert "events/batch-20260401T000000-000001.parquet" in changed.written
        assert len([p for p in (out / "events").iterdir() if p.name.startswith("columns-")]) == 1
    finally:
        con.close()


def test_publish_names_each_output_as_a_view_with_its_contract_types(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    try:
        con.execute("create schema raw")
        prepared = prepare(con, tmp_path / "spark", None, CLOCK)
        folder = prepared.outputs / "fct_example.parquet"
        folder.mkdir(parents=True)
        duckdb.sql(
            "select 'i1' as invoice_id, 1250::decimal(38, 0) as total, '{\"a\": 1}' as details"
        ).write_parquet(str(folder / "part-00000.parquet"))
        con.execute("create schema marts")
        con.execute("create table marts.fct_example (x integer)")  # a DuckDB build's, before
        manifest = {
            "nodes": {
                "model.credits.fct_example": {
                    "name": "fct_example",
                    "resource_type": "model",
                    "schema": "marts",
                    "columns": {"total": {"data_type": "bigint"}, "details": {"data_type": "json"}},
                }
            }
        }
        assert publish(con, prepared, ["fct_example"], manifest, CLOCK) == ["marts.fct_example"]
        assert con.execute("select * from marts.fct_example").fetchall() == [
            ("i1", 1250, '{"a": 1}')
        ]
        kinds = con.execute("describe marts.fct_example").fetchall()
        assert [(name, kind) for name, kind, *_ in kinds] == [
            ("invoice_id", "VARCHAR"),
            ("total", "BIGINT"),
            ("details", "JSON"),
        ]
        assert con.execute(
            "select build_seq, build_id, models from raw.spark_builds"
        ).fetchall() == [(1, prepared.build_id, 1)]
        # The next build keeps the published build's outputs, drops any other.
        stale = prepared.outputs.parent / "a-failed-build"
        stale.mkdir()
        nxt = prepare(con, tmp_path / "spark", None, CLOCK)
        assert sorted(p.name for p in prepared.outputs.parent.iterdir()) == [prepared.build_id]
        assert nxt.outputs.parent == prepared.outputs.parent
    finally:
        con.close()


def test_the_cli_refuses_an_unknown_engine_in_one_line(monkeypatch, tmp_path, capsys):
    from dagster_project.cli import main

    monkeypatch.setenv("CREDITS_ENGINE", "snowflake")
    landing = write_landing(tmp_path / "landing", events_jsonl=[EVENT.format(id="e1")])
    warehouse = tmp_path / "w.duckdb"
    assert main(["run", "--landing", str(landing), "--warehouse", str(warehouse)]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("CREDITS_ENGINE must be one of duckdb, spark, not 'snowflake'")
    )
    assert not warehouse.exists()


def test_a_rebuild_from_raw_drops_sparks_own_tables_first(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    folder = tmp_path / "spark"
    try:
        con.execute("create schema raw")
        for state in ("tables", "metastore_db"):
            (folder / state / "x").mkdir(parents=True)
        assert prepare(con, folder, None, CLOCK).rebuilt is None
        assert (folder / "tables" / "x").is_dir()
        assert prepare(con, folder, "asked for", CLOCK).rebuilt == "asked for"
        assert not (folder / "tables").exists() and not (folder / "metastore_db").exists()
    finally:
        con.close()


def test_the_dbt_progress_bar_starts_again_with_each_dbt_step(monkeypatch, tmp_path):
    """A Spark build runs dbt three times (before the walk, after it, the tests), each
    numbering its nodes from 1 of its own total; the bar showed '75/31' by adding them up."""
    from dagster_project.assets import ingest
    from dagster_project.cli import DbtOutput

    shown = []
    monkeypatch.setattr(
        ingest, "progress_bar", lambda label, done, total: shown.append((done, total))
    )
    lines = [f"{n} of 3 OK created sql table model m{n}\n" for n in (1, 2, 3)]
    lines += [f"{n} of 2 OK created sql table model a{n}\n" for n in (2, 1)]  # threads: any order
    lines += [f"{n} of 2 PASS test t{n}\n" for n in (1, 2)]  # the same total again, a new step
    with DbtOutput(tmp_path / "dbt.log") as output:
        for line in lines:
            output.write(line)
    assert shown == [(1, 3), (2, 3), (3, 3), (1, 2), (2, 2), (1, 2), (2, 2)]
    assert (tmp_path / "dbt.log").read_text(encoding="utf-8").endswith("".join(lines))
