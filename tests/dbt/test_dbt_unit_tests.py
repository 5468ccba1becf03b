"""The dbt unit tests (dbt/models/_unit_tests.yml): tax rounding, fee proration and invoice
numbering on hand-made rows, each expected number worked out by hand there.

dbt runs a unit test on its fixtures, but reads the column types of the tested model's
direct parents from the warehouse, so those must exist as relations. The cheapest correct
way: a warehouse holding only the catalog and the empty raw tables (what a first load
makes), and ONE `dbt build` of the tested models and their ancestors, models and unit tests
only. The models build empty in ~2 s (`--empty` cannot serve: it hides the `rowid` that
stg_landing__events reads), and `dbt build` runs each model's unit tests just after its
parents and before the model itself. Production builds leave unit tests out
(`dbt_build_args`), so they never fail a Dagster run.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from helpers import CATALOG_PATH, DEFAULT_AS_OF, run_dbt

from credits_warehouse.catalog import load_catalog
from credits_warehouse.incremental import BuildPlan, dbt_build_args
from credits_warehouse.ingest import ensure_raw_schema
from credits_warehouse.warehouse import connect, write_catalog
from dagster_project.partitions import dbt_vars


def empty_warehouse(path: Path) -> Path:
    """The catalog and every raw table, with no landed rows."""
    con = connect(path)
    try:
        ensure_raw_schema(con)
        write_catalog(con, load_catalog(CATALOG_PATH))
    finally:
        con.close()
    return path


def run_unit_tests(tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    warehouse = empty_warehouse(tmp_path / "warehouse.duckdb")
    args = [
        "build",
        "--select",
        "+test_type:unit",  # the unit tests, their models and those models' ancestors
        "--resource-type",
        "model",
        "unit_test",
        "--no-use-colors",
    ]
    clock = dt.datetime.fromisoformat(DEFAULT_AS_OF)
    return run_dbt(args, warehouse, dbt_vars(clock, None, None), tmp_path)


def unit_test_statuses(target: Path) -> dict[str, str]:
    """{unit test name: status} of the build's run results, empty when it wrote none."""
    path = target / "run_results.json"
    if not path.exists():
        return {}
    results = json.loads(path.read_text())["results"]
    return {
        r["unique_id"].split(".")[-1]: r["status"]
        for r in results
        if r["unique_id"].startswith("unit_test.")
    }


def failure_report(result: subprocess.CompletedProcess, target: Path) -> str:
    """dbt's own account of what failed (each unit test's diff of actual and expected), after
    one line per unit test that did not pass. A failing unit test skips its model and so
    everything downstream, with the unit tests of those models: they show as `skipped`."""
    lines = (result.stdout + result.stderr).splitlines()
    starts = [i for i, line in enumerate(lines) if "Completed with" in line]
    account = lines[starts[-1] :] if starts else lines[-80:]
    statuses = unit_test_statuses(target)
    summary = [f"  {name}: {status}" for name, status in statuses.items() if status != "pass"]
    return "\n".join([f"dbt unit tests failed (exit {result.returncode}):", *summary, "", *account])


def test_the_dbt_unit_tests_pass(tmp_path):
    result, target = run_unit_tests(tmp_path)
    if result.returncode != 0:
        pytest.fail(failure_report(result, target), pytrace=False)
    # Every unit test of the project ran and passed: a selection that matched none would
    # also exit 0.
    defined = json.loads((target / "manifest.json").read_text())["unit_tests"]
    names = [unique_id.split(".")[-1] for unique_id in defined]
    assert len(names) >= 4
    assert unit_test_statuses(target) == dict.fromkeys(names, "pass")


@pytest.mark.parametrize(
    "plan",
    [
        BuildPlan("f", None, None, None),  # incremental
        BuildPlan("f", "asked for", None, None),  # everything from raw
        BuildPlan("f", None, None, None, left_alone=("int_customers_validated",)),  # a close
    ],
    ids=["incremental", "full_refresh", "closes_only"],
)
def test_a_runs_build_leaves_the_unit_tests_out(plan):
    """Unit tests check the models' logic on fixtures, not the run's data: a run (Dagster's
    or the tests' build_warehouse) leaves them out, so they can never fail it."""
    args = dbt_build_args(plan)
    assert args[0] == "build"
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test"
