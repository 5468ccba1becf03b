"""Every mart and report is a documented, enforced dbt contract, and `dbt docs generate`
works.

Analysts read the marts through the DuckDB file and dbt docs (contract §1), and the renderer
reads the reports (`reporting.rpt_*`), so each one's columns are declared in
`dbt/models/<layer>/_<layer>__models.yml` with their exact DuckDB type and a description. The fast test reads the parsed manifest; the others build one small
warehouse and hold the declarations to what the models really produce.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import build_warehouse, query, write_landing

from dagster_project.dbt import ensure_manifest
from dagster_project.dbt_ahead import real_dbt
from dagster_project.resources import DBT_PROJECT_DIR

AS_OF = "2026-04-01T00:00:00"
# The published layers: each is a folder of models/ and the schema they are built in.
PUBLISHED = ("marts", "reporting")
MART_NAMES = sorted(
    p.stem for layer in PUBLISHED for p in (DBT_PROJECT_DIR / "models" / layer).glob("*.sql")
)


def _mart_nodes() -> dict[str, dict]:
    manifest = json.loads(ensure_manifest().read_text())
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].split("/")[1] in PUBLISHED
    }


def _normalized(data_type: str) -> str:
    """DuckDB reports `DECIMAL(38,12)`; the yml says `decimal(38,12)` - one spelling."""
    return data_type.replace(" ", "").upper()


def _declared(node: dict) -> list[tuple[str, str]]:
    return [(name, _normalized(column["data_type"])) for name, column in node["columns"].items()]


def usage(event_id: str, tokens: int, timestamp: str) -> dict:
    return {
        "event_id": event_id,
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": timestamp,
        "properties": {"model": "nova-fast", "tokens": tokens, "user_id": "u_1"},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A small warehouse touching most marts: a plan, a purchase, a promotion, usage, a
    rejected row and a closed period (so invoices are numbered)."""
    root = tmp_path_factory.mktemp("contracts")
    landing = write_landing(
        root / "landing",
        customers=[
            {"customer_id": "cus_1", "name": "Acme", "currency": "USD", "country": "US",
             "tax_rate": "0.2", "created_at": "2026-01-01T00:00:00Z"},
        ],
        subscriptions=[{"customer_id": "cus_1", "plan_id": "pro", "started_at": "2026-02-01T00:00:00Z"}],
        purchases=[
            {"purchase_id": "p1", "customer_id": "cus_1", "bundle_id": "pack_10k", "quantity": 1,
             "purchased_at": "2026-02-10T00:00:00Z", "amount_paid": 10000, "currency": "USD",
             "status": "succeeded"},
        ],
        grants=[
            {"grant_id": "g_promo", "customer_id": "cus_1", "kind": "promotional", "credits": "500",
             "effective_at": "2026-02-01T00:00:00Z", "expires_at": "2026-03-01T00:00:00Z",
             "priority": "10", "cost_basis_per_credit": "0", "reason": "welcome", "created_by": "ops"},
        ],
        events_jsonl=[
            usage("e1", 300_000, "2026-02-05T10:00:00Z"),
            usage("e2", 900_000, "2026-03-05T10:00:00Z"),
            '{"event_id": "broken", ',
        ],
    )  # fmt: skip
    return build_warehouse(
        root / "build", landing, as_of=AS_OF, closes=[("2026-02", "2026-03-01T00:00:00")]
    )


def test_every_mart_has_an_enforced_contract_with_documented_typed_columns():
    """Rule: each model under models/marts/ enforces its contract, and every declared column
    has a non-empty description and data_type (so dbt docs explain every column)."""
    nodes = _mart_nodes()
    assert sorted(nodes) == MART_NAMES
    problems = []
    for name, node in sorted(nodes.items()):
        if not node["config"]["contract"]["enforced"]:
            problems.append(f"{name}: contract not enforced")
        if not node["description"].strip():
            problems.append(f"{name}: no model description")
        if not node["columns"]:
            problems.append(f"{name}: no columns declared")
        for column, spec in node["columns"].items():
            if not (spec.get("description") or "").strip():
                problems.append(f"{name}.{column}: no description")
            if not (spec.get("data_type") or "").strip():
                problems.append(f"{name}.{column}: no data_type")
    assert not problems, "\n".join(problems)


def test_built_marts_have_exactly_the_declared_columns_in_order(built):
    """Rule: each built mart's columns (information_schema) are the contract's columns, with
    the same names, DuckDB types and order - nothing undeclared, nothing missing."""
    rows = query(
        built,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema in ('marts', 'reporting') order by table_name, ordinal_position",
    )
    built_columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        built_columns.setdefault(table, []).append((column, _normalized(data_type)))
    assert sorted(built_columns) == MART_NAMES
    for name, node in _mart_nodes().items():
        assert built_columns[name] == _declared(node), name


def test_each_mart_sql_selects_its_columns_in_the_declared_order(built):
    """Rule: the model's own SQL output (its compiled select, described in the warehouse)
    has the contract's columns in the contract's order. dbt checks names and types but
    inserts in contract order, so a reordered select would otherwise pass unnoticed."""
    compiled_dir = built.parent / "dbt_target" / "compiled" / "credits"
    for name, node in sorted(_mart_nodes().items()):
        sql = (compiled_dir / node["original_file_path"]).read_text()
        described = query(built, f"describe (\n{sql}\n)")
        produced = [(row[0], _normalized(row[1])) for row in described]
        assert produced == _declared(node), name


def test_dbt_docs_generate_writes_a_catalog_of_every_mart(built, tmp_path):
    """Rule: `dbt docs generate` succeeds offline against a built warehouse and its
    catalog.json lists every mart (the analyst's documentation, contract §1)."""
    target = tmp_path / "docs_target"
    command = [
        real_dbt(),
        "docs",
        "generate",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--vars",
        json.dumps({"as_of": AS_OF}),
        "--target-path",
        str(target),
        "--log-path",
        str(tmp_path / "docs_logs"),
    ]
    env = {**os.environ, "CREDITS_WAREHOUSE": str(built), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        command, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    catalog = json.loads((target / "catalog.json").read_text())
    assert not catalog.get("errors")
    in_catalog = {
        node["metadata"]["name"]
        for node in catalog["nodes"].values()
        if node["metadata"]["schema"] in PUBLISHED
    }
    assert in_catalog == set(MART_NAMES)
    assert (target / "index.html").exists()


def test_statements_by_hand(built):
    """The statements of the small warehouse, worked out by hand. e1 (300,000 nova-fast
    tokens on 02-05 = 300 credits) lands after February is closed, so it is late usage
    booked in March beside e2 (900 credits).
      Feb: 0 + 500 promo + 10,000 pro allowance + 10,000 pack_10k = 20,500.
      Mar: 20,500 + 10,000 allowance - 1,200 consumed - 10,500 expired at 03-01 (the unused
           promo 500 and February's allowance 10,000) = 18,800; late usage 300.
      Apr: 18,800 + 10,000 allowance - 8,800 expired (March's allowance less 1,200) = 20,000."""
    figures = query(
        built,
        "select period, opening_balance, granted, consumed, expired, closing_balance, late_usage"
        " from reporting.rpt_statements order by period",
    )
    assert figures == [
        ("2026-02", 0, 20_500, 0, 0, 20_500, 0),
        ("2026-03", 20_500, 10_000, 1_200, 10_500, 18_800, 300),
        ("2026-04", 18_800, 10_000, 0, 8_800, 20_000, 0),
    ]
    # Grants by what a customer calls them, not their generated ids.
    labels = query(
        built,
        "select label, credits from reporting.rpt_statement_lines"
        " where period = '2026-02' and section = 'grant' order by line_number",
    )
    assert labels == [
        ("Promotional: welcome", 500),
        ("Plan pro allowance", 10_000),
        ("Credit bundle pack_10k", 10_000),
    ]
    # The purchase invoice: 10,000 + 20% tax, due 14 days after issue; its words leave the
    # quantity to the renderer's locale.
    [invoice] = query(
        built,
        "select invoice_number, total, due_at, template, quantity from reporting.rpt_invoices"
        " inner join (select invoice_id, description_template as template,"
        " description_quantity as quantity from reporting.rpt_invoice_lines) using (invoice_id)"
        " where invoice_id = 'purchase:p1'",
    )
    assert invoice == (
        "INV-2026-000002",
        12_000,
        datetime.datetime(2026, 2, 24),
        "Credit bundle pack_10k ({quantity} credits)",
        10_000,
    )
