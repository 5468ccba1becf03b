"""Test helpers, imported by name (`from helpers import build_warehouse, query`): write a
small landing directory, build a warehouse with dbt, query it.

A dbt build costs several seconds, so each dbt test module builds ONE warehouse in a
module-scoped fixture and asserts many things against it. Every build gets its own target
and log paths under the test's temporary directory, so parallel workers never clash.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from credits_warehouse.catalog import load_catalog
from credits_warehouse.incremental import dbt_build_args, plan_build, record_build
from credits_warehouse.ingest import FEED_COLUMNS as INGEST_FEED_COLUMNS
from credits_warehouse.ingest import load_landing
from credits_warehouse.settings import ENV_VARS
from credits_warehouse.warehouse import connect, write_catalog
from dagster_project.dbt import (
    DBT_PROJECT_DIR,
    PARTIAL_PARSE,
    ensure_manifest,
    keep_parse,
    run_dbt_cli,
    seed_parse,
)
from dagster_project.partitions import dbt_vars

REPO_ROOT = Path(__file__).resolve().parents[1]
CATALOG_PATH = REPO_ROOT / "data" / "catalog.yml"
DEFAULT_AS_OF = "2026-04-01T00:00:00"
# The test builds' shared partial parse (run_dbt), in dbt's own target folder (not in git).
SHARED_PARSE = DBT_PROJECT_DIR / "target" / f"tests.{PARTIAL_PARSE}"

# Column order of each reference feed (contract §2.2); a row dict may omit any of them.
FEED_COLUMNS = {feed: list(columns) for feed, columns in INGEST_FEED_COLUMNS.items()}


def fast_event(event_id: str, customer_id: str, timestamp: str, credits, **properties) -> dict:
    """A usage event of `credits` credits on nova-fast (1 credit per 1k tokens, the sample
    catalog's rate), with any further properties: the landing JSON of the hand-worked tests."""
    return {
        "event_id": event_id,
        "customer_id": customer_id,
        "event_type": "llm_token_usage",
        "timestamp": timestamp,
        "properties": {"model": "nova-fast", "tokens": credits * 1000, **properties},
    }


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Path:
    """A CSV file with a header; missing values are written as empty cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return path


def jsonl_text(lines: Iterable[Mapping[str, Any] | str]) -> str:
    """JSON lines: a dict is serialized, a str is written verbatim (for broken lines)."""
    out = []
    for line in lines:
        out.append(line if isinstance(line, str) else json.dumps(line, separators=(",", ":")))
    return "\n".join(out) + "\n"


def write_landing(
    landing: Path,
    *,
    events_jsonl: Iterable[Mapping[str, Any] | str] | None = None,
    events_name: str = "events/2026-03.jsonl",
    files: Mapping[str, str | bytes] | None = None,
    **feeds: Iterable[Mapping[str, Any]] | None,
) -> Path:
    """Write a landing directory: reference feeds as `<feed>.csv`, events as JSON lines,
    plus any extra `files` given as {relative path: text or bytes}."""
    landing.mkdir(parents=True, exist_ok=True)
    for feed, rows in feeds.items():
        if feed not in FEED_COLUMNS:
            raise TypeError(f"unknown feed {feed!r}")
        if rows is not None:
            write_csv(landing / f"{feed}.csv", FEED_COLUMNS[feed], rows)
    if events_jsonl is not None:
        path = landing / events_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(jsonl_text(events_jsonl), encoding="utf-8")
    for relative, content in (files or {}).items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return landing


def use_settings_env(
    monkeypatch: pytest.MonkeyPatch, landing: Path, catalog: Path, warehouse: Path, reports: Path
) -> None:
    """Point the CREDITS_* variables at a test's files, with no clock: how a run launched
    from the UI or the daemon finds its settings."""
    paths = {"landing": landing, "catalog": catalog, "warehouse": warehouse, "reports": reports}
    for key, path in paths.items():
        monkeypatch.setenv(ENV_VARS[key], str(path))
    monkeypatch.delenv(ENV_VARS["as_of"], raising=False)


def build_warehouse(
    tmp_path: Path,
    landing_dir: Path,
    catalog_path: Path = CATALOG_PATH,
    as_of: str = DEFAULT_AS_OF,
    *,
    ingested_at: str | None = None,
    later_loads: Sequence[tuple[Path, str]] = (),
    closes: Sequence[tuple[str, str]] = (),
) -> Path:
    """Load the catalog and landing into a fresh DuckDB file, then `dbt build` it.

    The landing is loaded at `ingested_at` (default: the clock). `later_loads` are further
    (landing_dir, ingested_at) loads, in order, each its own load batch. `closes` are
    (period, closed_at) rows recorded as `credits close` would before the build.
    """
    tmp_path.mkdir(parents=True, exist_ok=True)
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        write_catalog(con, load_catalog(catalog_path))
        loads = [(landing_dir, ingested_at or as_of), *later_loads]
        for directory, at in loads:
            load_landing(con, directory, dt.datetime.fromisoformat(at))
        for period, closed_at in closes:
            con.execute(
                "insert into raw.period_closes values (?, ?)",
                [period, dt.datetime.fromisoformat(closed_at)],
            ).fetchall()
    finally:
        con.close()

    dbt_build(warehouse, as_of, tmp_path)
    return warehouse


def run_dbt(
    args: Sequence[str], warehouse: Path, variables: Mapping[str, str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess, Path]:
    """Run dbt with `args` against `warehouse`, the run's variables in its environment as the
    dbt asset sets them; returns the finished process and its target folder.

    dbt starts from the last test build's partial parse (SHARED_PARSE), which it checks
    file by file: a parse of the whole project costs about 4 s, and most tests build a
    fresh warehouse. dbt runs in the warehouse's folder (`in_folder`), so the profile is
    the same for every warehouse of the same file name and the parse stays valid."""
    target = tmp_path / "dbt_target"
    seed_parse(target, SHARED_PARSE)
    result = run_dbt_cli(args, warehouse, variables, target, tmp_path / "dbt_logs", in_folder=True)
    if result.returncode == 0:
        keep_parse(target, SHARED_PARSE)
    return result, target


def dbt_build(warehouse: Path, as_of: str, tmp_path: Path, *, full_refresh: bool = False) -> Path:
    """`dbt build` an already loaded warehouse, incrementally unless `full_refresh` or the
    catalog or models changed: the decision the dbt asset makes (credits_warehouse/incremental.py)."""
    con = connect(warehouse)
    try:
        clock = dt.datetime.fromisoformat(as_of)
        plan = plan_build(con, ensure_manifest(), full_refresh, clock)
    finally:
        con.close()
    result, _ = run_dbt(
        dbt_build_args(plan), warehouse, dbt_vars(clock, None, plan.resume_from), tmp_path
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"dbt build failed (exit {result.returncode}):\n{tail}", pytrace=False)
    con = connect(warehouse)
    try:
        record_build(con, plan, clock)
    finally:
        con.close()
    return warehouse


def query(warehouse: Path, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
    """Rows of one query against the warehouse, opened read-only."""
    con = connect(warehouse, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scalar(warehouse: Path, sql: str, params: Sequence[Any] | None = None) -> Any:
    rows = query(warehouse, sql, params)
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]
