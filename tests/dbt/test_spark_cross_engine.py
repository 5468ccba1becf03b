"""The same dbt models on DuckDB and on a local Spark session, row for row (docs/spark.md).

Marked `spark`: `make test-spark` runs it; `make test` leaves it out. It needs the optional
extra (`pip install -e ".[spark]"`: pyspark, dbt-spark) and Java 17.

One DuckDB warehouse is built from seed 000's month (tests/acceptance/test_seed_000_month.py:
2,355 events of two customers) plus rows that reach the parsing edge cases (a line that is
not JSON, a JSON array, properties that are an array, null, a string or absent, an offset
timestamp, decimal texts, blanks, duplicates by id and by content), and two customers
that take the ledger down each of its paths (LEDGER_EVENTS). Its raw tables go to parquet, a
Spark session builds the staging, events and ledger models from them (the walk through
credits_warehouse/spark_walk.py), and every row of every model Spark built must equal
DuckDB's: decimals exactly (same value and same scale), timestamps naive UTC.

The marts and reports build on Spark too, with a customer (cus_m) that reaches every grant
status, the statement's sections and the invoices; then dbt's data tests run on Spark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from acceptance.test_seed_000_month import promo_events, seed_events
from helpers import CATALOG_PATH, REPO_ROOT, build_warehouse, write_csv, write_landing

from credits_warehouse.incremental import dbt_env
from credits_warehouse.ingest import FEED_COLUMNS
from credits_warehouse.spark_engine import export_model_tables, export_raw_tables
from credits_warehouse.warehouse import connect
from dagster_project.partitions import dbt_vars

pytestmark = pytest.mark.spark

AS_OF = "2026-04-01T00:00:00"
# February is closed (the fixture's build records the close): the ledger resumes here.
RESUME_FROM = "2026-03-01T00:00:00"

# Every mart but fct_promotional_usage, which waits on money.sql's money_share on Spark.
MARTS = [
    "dim_customers",
    "fct_alerts",
    "fct_balances_daily",
    "fct_balances_over_time",
    "fct_credit_ledger",
    "fct_deferred_revenue",
    "fct_event_quarantine",
    "fct_grant_amendments",
    "fct_grant_balances_over_time",
    "fct_grants",
    "fct_invoice_lines",
    "fct_invoices",
    "fct_journal_entries",
    "fct_monthly_usage",
    "fct_monthly_usage_by_dimension",
    "fct_rated_events",
]
REPORTS = [
    "rpt_invoice_lines",
    "rpt_invoices",
    "rpt_restatements",
    "rpt_statement_lines",
    "rpt_statements",
]

# What the Spark build covers in this milestone; the rest of the project is listed in
# docs/spark.md with what keeps each model off Spark today.
SELECT = [
    "path:models/staging",
    "int_aggregator_dimensions",
    "int_events_matched_to_aggregators",
    "int_customers_validated",
    "int_events_validated",
    "int_events_rated",
    # The ledger, with the walk (credits_warehouse/spark_walk.py) between its dbt steps.
    "int_ledger_instants",
    "int_eligibility_classes",
    "int_usage_positioned",
    "int_usage_segments",
    "int_voids_positioned",
    "int_ledger_walk_inputs",
    "int_ledger_walked",
    "int_usage_allocated_to_grants",
    "int_ledger_entries_ordered",
    "int_period_figures",
    "int_usage_restated",
    *MARTS,
    "path:models/reporting",
]

# Models the selection reads that are not ported yet: DuckDB's build of them is named as
# Spark tables before the run (spark_engine --parents). Each leaves this list when its port
# lands in SELECT.
PARENTS_FROM_DUCKDB = [
    "int_alerts_triggered",
    "int_auto_topups_priced",
    "int_auto_topups_validated",
    "int_depletion_forecasts",
    "int_grant_amendments_applied",
    "int_grant_amendments_sequenced",
    "int_grant_amendments_validated",
    "int_grant_labels",
    "int_grants_all",
    "int_grants_taking_effect",
    "int_grants_unioned",
    "int_invoice_lines_drafted",
    "int_invoices_numbered",
    "int_journal_postings",
    "int_next_grants",
    "int_plan_spells",
    "int_refunds_validated",
    "int_revenue_by_grant_period",
    "int_rows_quarantined",
    "int_subscriptions_validated",
    "int_voids_validated",
]

EVENTS = [
    # Plain usage, one event per model.
    '{"event_id": "e1", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T10:00:00Z", "properties": {"model": "nova-fast", "tokens": 1200, "user_id": "u1"}}',
    # An offset: 2026-03-02T12:30:00+02:00 is 10:30 UTC.
    '{"event_id": "e2", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T12:30:00+02:00", "properties": {"model": "nova-pro", "tokens": 250}}',
    # A decimal quantity with a trailing zero, and keys in another order.
    '{"properties": {"tokens": 2.50, "model": "nova-ultra"}, "timestamp": "2026-03-03T00:00:00Z",'
    ' "event_type": "llm_token_usage", "customer_id": "ext-b", "idempotency_key": "k1"}',
    # A duplicate of e1.
    '{"event_id": "e1", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-02T10:00:00Z", "properties": {"model": "nova-fast", "tokens": 1200, "user_id": "u1"}}',
    # Not JSON; a JSON array; properties an array; no properties; a bad timestamp;
    # an unknown model; a quantity that is text; a naive timestamp.
    "this is not json",
    "[1, 2, 3]",
    '{"event_id": "e5", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-04T00:00:00Z", "properties": [1, 2]}',
    '{"event_id": "e6", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-04T00:00:00Z"}',
    '{"event_id": "e7", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "March 4th", "properties": {"model": "nova-fast", "tokens": 1}}',
    '{"event_id": "e8", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-04T00:00:00Z", "properties": {"model": "nova-mega", "tokens": 1}}',
    '{"event_id": "e9", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05T00:00:00Z", "properties": {"model": "nova-fast", "tokens": "many"}}',
    '{"event_id": "e10", "customer_id": "cus_b", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05 06:00:00", "properties": {"model": "nova-pro", "tokens": "40"}}',
    # Properties JSON null, a string; two events with no id, told apart by content only.
    '{"event_id": "e11", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05T00:00:00Z", "properties": null}',
    '{"event_id": "e12", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-05T00:00:00Z", "properties": "nova-fast"}',
    '{"customer_id": "cus_a", "event_type": "llm_token_usage", "timestamp": "2026-03-06T00:00:00Z",'
    ' "properties": {"user_id": "u2", "model": "nova-fast", "tokens": 3}}',
    '{"customer_id": "cus_a", "event_type": "llm_token_usage", "timestamp": "2026-03-06T00:00:00Z",'
    ' "properties": {"model": "nova-fast", "tokens": 3, "user_id": "u2"}}',
    # No id, a decimal and a nested value in the hashed content; a key given twice.
    '{"customer_id": "cus_a", "event_type": "llm_token_usage", "timestamp": "2026-03-07T00:00:00Z",'
    ' "properties": {"model": "nova-pro", "tokens": 2.50, "meta": {"b": 1e3, "a": [1, "x"]}}}',
    '{"event_id": "e13", "event_id": "e14", "customer_id": "cus_a", "event_type": "llm_token_usage",'
    ' "timestamp": "2026-03-07T00:00:00Z", "properties": {"model": "nova-pro", "tokens": 1}}',
]

# cus_m reaches the marts and reports: a plan, a purchase and its refund, grants amended,
# voided before they take effect, scheduled after the clock and negative; seven users (five
# make the statement's top users, two of them tied on credits) and usage with no user.
MARTS_EVENTS = [
    {
        "event_id": f"m{i}",
        "customer_id": "cus_m",
        "event_type": "llm_token_usage",
        "timestamp": f"2026-03-{day:02d}T{hour:02d}:00:00Z",
        "properties": {"model": model, "tokens": tokens, **({"user_id": user} if user else {})},
    }
    for i, (day, hour, model, tokens, user) in enumerate(
        [
            (2, 9, "nova-fast", 3_000_000, "u1"),
            (3, 10, "nova-pro", 400_000, "u2"),
            (4, 11, "nova-fast", 2_000_000, "u3"),
            (4, 12, "nova-fast", 2_000_000, "u4"),
            (9, 13, "nova-ultra", 50_000, "u5"),
            (12, 14, "nova-fast", 1_000_000, "u6"),
            (16, 15, "nova-fast", 500_000, "u7"),
            (20, 16, "nova-pro", 1_234_567, None),
            (28, 23, "nova-fast", 7_000_000, "u1"),
        ]
    )
]


MARTS_GRANTS = [
    {"grant_id": grant_id, "customer_id": "cus_m", "kind": kind, "credits": credits,
     "effective_at": effective_at, "expires_at": expires_at}
    for grant_id, kind, credits, effective_at, expires_at in [
        ("gm_promo", "promotional", "1000.5", "2026-03-01T00:00:00Z", "2026-04-20T00:00:00Z"),
        ("gm_voided", "promotional", "50", "2026-03-15T00:00:00Z", "2026-06-01T00:00:00Z"),
        ("gm_later", "promotional", "500", "2026-05-01T00:00:00Z", ""),
        ("gm_minus", "adjustment", "-20", "2026-03-25T00:00:00Z", ""),
    ]
]  # fmt: skip


# The ledger's paths (docs/ledger.md), on customers of their own so the seed month's counts
# stay as they were. cus_c, on a plan that rolls over (`rollover`, added to the catalog
# below): usage in February (a late file: February is closed, so it is booked in March),
# then in March more than its allowance and rollover hold, so it runs short; a purchase
# later that month repays the shortfall and is refunded; a grant scoped to nova_pro_tokens
# (eligibility classes) whose expiry an amendment moves. cus_d: an auto top-up that fires
# when usage takes its promotional grant below the threshold.
LEDGER_EVENTS = [
    {
        "event_id": f"c{n}",
        "customer_id": customer,
        "event_type": "llm_token_usage",
        "timestamp": at,
        "properties": {"model": model, "tokens": tokens},
    }
    for n, (customer, at, model, tokens) in enumerate(
        [
            ("cus_c", "2026-02-10T00:00:00Z", "nova-fast", 300000),
            ("cus_c", "2026-03-05T00:00:00Z", "nova-pro", 10000),
            ("cus_c", "2026-03-10T00:00:00Z", "nova-fast", 1800000),
            ("cus_c", "2026-03-12T00:00:00Z", "nova-pro", 20000),
            ("cus_c", "2026-03-22T00:00:00Z", "nova-fast", 100000),
            ("cus_d", "2026-03-03T00:00:00Z", "nova-fast", 30000),
            ("cus_d", "2026-03-04T00:00:00Z", "nova-fast", 40000),
            ("cus_d", "2026-03-09T00:00:00Z", "nova-fast", 25000),
        ]
    )
]

ROLLOVER_PLAN = {
    "id": "rollover",
    "fees": {"USD": 0, "EUR": 0},
    "included_credits": 1000,
    "allowance_expires": "period_end",
    "rollover": {"max_credits": 500, "expires_after_periods": 2},
    "overage": "bill",
    "overage_price_per_credit": {"USD": 1, "EUR": 1},
    "warning_limit": 100,
}

GRANTS = [
    {
        "grant_id": "g1",
        "customer_id": "cus_a",
        "kind": "promotional",
        "credits": "500.123456789012",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-03-15T12:00:00Z",
        "priority": "5",
        "cost_basis_per_credit": "",
        "reason": "welcome",
        "created_by": "tests",
    },
    {
        "grant_id": "g2",
        "customer_id": "cus_b",
        "kind": "Adjustment",
        "credits": "ten",
        "effective_at": "2026-03-01",
        "expires_at": "",
    },
    {
        "grant_id": "g3",
        "customer_id": "cus_c",
        "kind": "promotional",
        "credits": "50",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-04-15T00:00:00Z",
        "priority": "1",
        "reason": "pro trial",
        "created_by": "tests",
        "applies_to": "nova_pro_tokens",
    },
    {
        "grant_id": "g4",
        "customer_id": "cus_d",
        "kind": "promotional",
        "credits": "150",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-06-30T00:00:00Z",
        "priority": "5",
        "reason": "welcome",
        "created_by": "tests",
    },
    # Seed 000's grants, so its usage draws on them.
    {
        "grant_id": "g_seed_start",
        "customer_id": "cus_seed",
        "kind": "starting_balance",
        "credits": "10000",
        "effective_at": "2026-03-01T00:00:00Z",
    },
    {
        "grant_id": "g_seed_promo",
        "customer_id": "cus_promo",
        "kind": "promotional",
        "credits": "500",
        "effective_at": "2026-03-01T00:00:00Z",
        "expires_at": "2026-03-15T12:00:00Z",
    },
    *MARTS_GRANTS,
]


def _catalog_with_rollover(path: Path) -> Path:
    catalog = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    catalog["plans"].append(ROLLOVER_PLAN)
    path.write_text(yaml.safe_dump(catalog, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("spark_cross_engine")
    landing = write_landing(
        root / "landing",
        customers=[
            *(
                {
                    "customer_id": seed_customer,
                    "name": "Seed Customer",
                    "email": "seed@example.com",
                    "country": "US",
                    "currency": "USD",
                    "tax_rate": "0",
                    "created_at": "2026-02-15T00:00:00Z",
                }
                for seed_customer in ("cus_seed", "cus_promo")
            ),
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
                "customer_id": "cus_m",
                "name": "Marts GmbH",
                "email": "m@example.com",
                "address": "Hauptstr. 1, Berlin",
                "country": "DE",
                "currency": "USD",
                "tax_rate": "0.19",
                "created_at": "2026-01-01T00:00:00Z",
            },
            {
                "customer_id": "cus_b",
                "external_id": "ext-b",
                "name": "B, Ltd",
                "country": "DE",
                "currency": "EUR",
                "tax_rate": "abc",
                "created_at": "2026-02-15T09:00:00+01:00",
            },
            *(
                {
                    "customer_id": customer,
                    "name": customer,
                    "country": "US",
                    "currency": "USD",
                    "tax_rate": "0",
                    "created_at": "2026-01-15T00:00:00Z",
                }
                for customer in ("cus_c", "cus_d")
            ),
        ],
        purchases=[
            {
                "purchase_id": "p1",
                "customer_id": "cus_a",
                "bundle_id": "pack_10k",
                "quantity": "",
                "purchased_at": "2026-03-01T08:00:00Z",
                "amount_paid": "10000",
                "currency": "USD",
                "status": "PAID",
            },
            {
                "purchase_id": "p2",
                "customer_id": "cus_c",
                "bundle_id": "pack_10k",
                "quantity": "1",
                "purchased_at": "2026-03-20T00:00:00Z",
                "amount_paid": "10000",
                "currency": "USD",
                "status": "succeeded",
            },
            {
                "purchase_id": "pm1",
                "customer_id": "cus_m",
                "bundle_id": "pack_10k",
                "quantity": "1",
                "purchased_at": "2026-03-02T08:00:00Z",
                "amount_paid": "10000",
                "currency": "USD",
                "status": "refunded",
            },
        ],
        subscriptions=[
            {"customer_id": "cus_a", "plan_id": "starter", "started_at": "2026-03-01T00:00:00Z"},
            {"customer_id": "cus_c", "plan_id": "rollover", "started_at": "2026-02-01T00:00:00Z"},
            {"customer_id": "cus_m", "plan_id": "pro", "started_at": "2026-03-01T00:00:00Z"},
        ],
        auto_topups=[
            {
                "customer_id": "cus_a",
                "threshold": "100.5",
                "bundle_id": "pack_10k",
                "max_per_period": "2",
                "enabled_from": "2026-03-01T00:00:00Z",
            },
            {
                "customer_id": "cus_d",
                "threshold": "100",
                "bundle_id": "pack_10k",
                "max_per_period": "2",
                "enabled_from": "2026-03-01T00:00:00Z",
            },
        ],
        voids=[
            {"event_id": "e2", "voided_at": "2026-03-06T00:00:00Z", "reason": "test"},
            {"event_id": "c3", "voided_at": "2026-03-14T00:00:00Z", "reason": "test"},
        ],
        refunds=[
            {"refund_id": "r1", "purchase_id": "p1", "refunded_at": "2026-03-07T00:00:00Z"},
            {"refund_id": "r2", "purchase_id": "p2", "refunded_at": "2026-03-25T00:00:00Z"},
            {"refund_id": "rm1", "purchase_id": "pm1", "refunded_at": "2026-03-26T00:00:00Z"},
        ],
        grant_amendments=[
            {
                "amendment_id": "a1",
                "grant_id": "g1",
                "action": "Extend",
                "effective_at": "2026-03-10T00:00:00Z",
                "new_expires_at": "2026-03-20T00:00:00Z",
            },
            {
                "amendment_id": "a2",
                "grant_id": "g3",
                "action": "set_expiry",
                "effective_at": "2026-03-15T00:00:00Z",
                "new_expires_at": "2026-05-31T00:00:00Z",
            },
            {
                "amendment_id": "am_expiry",
                "grant_id": "gm_promo",
                "action": "set_expiry",
                "effective_at": "2026-03-08T00:00:00Z",
                "new_expires_at": "2026-04-25T00:00:00Z",
                "reason": "goodwill",
                "created_by": "tests",
            },
            {
                "amendment_id": "am_void",
                "grant_id": "gm_voided",
                "action": "void",
                "effective_at": "2026-03-12T00:00:00Z",
            },
        ],
        events_jsonl=[*seed_events(), *promo_events(), *EVENTS, *LEDGER_EVENTS, *MARTS_EVENTS],
    )
    # Grants with the optional column applies_to.
    write_csv(landing / "grants.csv", (*FEED_COLUMNS["grants"], "applies_to"), GRANTS)
    warehouse = build_warehouse(
        root / "duckdb",
        landing,
        _catalog_with_rollover(root / "catalog.yml"),
        as_of=AS_OF,
        closes=[("2026-02", "2026-03-01T06:00:00")],
    )

    raw_dir = root / "raw_parquet"
    con = connect(warehouse, read_only=True)
    try:
        export_raw_tables(con, raw_dir)
        export_model_tables(con, PARENTS_FROM_DUCKDB, root / "parents")
    finally:
        con.close()

    out_dir = root / "spark_out"
    summary = _run_on_spark(root, out_dir, SELECT)
    print("spark timings (s):", summary["timings"])
    return warehouse, out_dir, summary


def _run_on_spark(root: Path, out_dir: Path, select: list[str], **run_vars: str) -> dict:
    """`python -m credits_warehouse.spark_engine` on the fixture's raw and parents files,
    in the Spark folder the fixture's build keeps; returns its built.json."""
    clock = __import__("datetime").datetime.fromisoformat(AS_OF)
    env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        **dbt_env({**dbt_vars(clock, None, ""), **run_vars}),
    }
    command = [
        sys.executable,
        "-m",
        "credits_warehouse.spark_engine",
        str(root / "raw_parquet"),
        str(root / "spark"),
        str(out_dir),
        "--select",
        *select,
        "--parents",
        str(root / "parents"),
        "--test",
    ]
    result = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"the Spark build failed (exit {result.returncode}):\n{tail}", pytrace=False)
    return json.loads((out_dir / "built.json").read_text(encoding="utf-8"))


def _sort_key(row: tuple) -> tuple:
    return tuple((value is None, str(type(value)), str(value)) for value in row)


def _duckdb_rows(warehouse: Path, model: str) -> tuple[list[str], list[str], list[tuple]]:
    con = connect(warehouse, read_only=True)
    try:
        (schema,) = con.execute(
            "select table_schema from information_schema.tables where table_name = ?", [model]
        ).fetchone()
        columns = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, model],
        ).fetchall()
        rows = con.table(f"{schema}.{model}").fetchall()
    finally:
        con.close()
    return [name for name, _ in columns], [kind for _, kind in columns], rows


def _spark_rows(out_dir: Path, model: str, columns: list[str]) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect()
    try:
        relation = con.read_parquet(str(out_dir / f"{model}.parquet" / "*.parquet"))
        kinds = dict(zip(relation.columns, relation.types, strict=True))
        rows = relation.select(*[duckdb.ColumnExpression(name) for name in columns]).fetchall()
    finally:
        con.close()
    return [str(kinds[name]) for name in columns], rows


def _same_decimal_scale(duck_kind: str, spark_kind: str) -> bool:
    return not duck_kind.startswith("DECIMAL") or duck_kind == spark_kind


def test_spark_builds_the_selected_models(engines):
    _, _, summary = engines
    assert sorted(summary["models"]) == sorted(
        [
            "stg_catalog__aggregator_dimensions",
            "stg_catalog__aggregator_filters",
            "stg_catalog__aggregators",
            "stg_catalog__alert_expiring_days",
            "stg_catalog__bundle_prices",
            "stg_catalog__bundles",
            "stg_catalog__iso_currencies",
            "stg_catalog__plan_prices",
            "stg_catalog__plan_user_limits",
            "stg_catalog__plans",
            "stg_catalog__promotions",
            "stg_catalog__rates",
            "stg_catalog__settings",
            "stg_control__frozen_figures",
            "stg_control__invoice_numbers",
            "stg_control__period_closes",
            "stg_landing__auto_topups",
            "stg_landing__customers",
            "stg_landing__event_payloads",
            "stg_landing__events",
            "stg_landing__grant_amendments",
            "stg_landing__grants",
            "stg_landing__purchases",
            "stg_landing__refunds",
            "stg_landing__subscriptions",
            "stg_landing__voids",
            "int_aggregator_dimensions",
            "int_events_matched_to_aggregators",
            "int_customers_validated",
            "int_events_validated",
            "int_events_rated",
            *SELECT[SELECT.index("int_ledger_instants") : SELECT.index(MARTS[0])],
            *MARTS,
            *REPORTS,
        ]
    )


def test_the_data_tests_pass_on_spark(engines):
    """dbt's data tests of the selection (those reading only models built on Spark) run on
    Spark's build and pass, as they do on DuckDB's (build_warehouse runs dbt build)."""
    _, _, summary = engines
    failed = {name: status for name, status in summary["tests"].items() if status != "pass"}
    assert failed == {}
    # The other four read intermediate models still taken from DuckDB (PARENTS_FROM_DUCKDB).
    assert {
        "assert_deferred_revenue_rolls_forward",
        "assert_events_in_equal_accepted_plus_quarantined",
        "assert_invoice_totals_add_up",
        "assert_journals_balance",
        "assert_ledger_balance_after_is_running_sum",
        "assert_ledger_balance_matches_daily_closing",
        "assert_partition_window_is_closed_and_half_open",
        "assert_statements_match_the_ledger",
        "assert_usage_draws_only_on_applicable_grants",
        "assert_usage_within_grant_window",
    } == {name for name in summary["tests"] if name.startswith("assert_")}


def test_every_row_of_every_model_is_the_same_on_both_engines(engines):
    warehouse, out_dir, summary = engines
    differences = {}
    for model in summary["models"]:
        columns, duck_kinds, duck = _duckdb_rows(warehouse, model)
        spark_kinds, spark = _spark_rows(out_dir, model, columns)
        scales = [
            (name, d, s)
            for name, d, s in zip(columns, duck_kinds, spark_kinds, strict=True)
            if not _same_decimal_scale(d, s)
        ]
        # Exact decimals: the same value at the same scale (Decimal('1.50') == Decimal('1.5'),
        # so the text is compared too).
        duck_text = sorted([tuple(repr(v) for v in row) for row in duck])
        spark_text = sorted([tuple(repr(v) for v in row) for row in spark])
        if scales or duck_text != spark_text:
            only_duck = sorted(set(map(tuple, duck_text)) - set(map(tuple, spark_text)))[:3]
            only_spark = sorted(set(map(tuple, spark_text)) - set(map(tuple, duck_text)))[:3]
            differences[model] = {
                "decimal types": scales,
                "columns": columns,
                "only on duckdb": only_duck,
                "only on spark": only_spark,
            }
    assert differences == {}, json.dumps(differences, indent=1, default=str)


def test_the_walk_resumed_from_a_checkpoint_is_the_whole_walk(engines):
    """The walk on Spark resumes (docs/incremental.md): from the checkpoint at the end of the
    closed period, over the table the first run wrote, it gives the same rows as walking
    everything. Also prints the walk's time on both engines."""
    warehouse, out_dir, summary = engines
    resumed_dir = out_dir.parent / "spark_resumed"
    resumed = _run_on_spark(
        out_dir.parent, resumed_dir, ["int_ledger_walked"], resume_from=RESUME_FROM
    )
    assert resumed["models"] == ["int_ledger_walked"]
    columns, _, whole = _duckdb_rows(warehouse, "int_ledger_walked")
    _, again = _spark_rows(resumed_dir, "int_ledger_walked", columns)
    assert sorted(map(repr, again)) == sorted(map(repr, whole))
    duckdb_run = json.loads(
        (warehouse.parent / "dbt_target" / "run_results.json").read_text(encoding="utf-8")
    )
    (duckdb_walk,) = [
        r["execution_time"]
        for r in duckdb_run["results"]
        if r["unique_id"] == "model.credits.int_ledger_walked"
    ]
    print(
        f"the walk (s): duckdb {duckdb_walk:.2f}, spark {summary['timings']['walk']:.2f},"
        f" spark resumed {resumed['timings']['walk']:.2f}"
    )


def test_the_fixture_reaches_the_edge_cases(engines):
    """The comparison means something: the edge rows are there, parsed as worked out."""
    warehouse, _, _ = engines
    con = connect(warehouse, read_only=True)
    try:
        # Seed 000's month: 2,000 + 300 + 50 calls of cus_seed and 5 of cus_promo, all rated.
        seed_rated = con.execute(
            "select count(*) from intermediate.int_events_rated"
            " where customer_id in ('cus_seed', 'cus_promo')"
        ).fetchone()[0]
        got = con.execute(
            "select event_id, event_at, properties_type from staging.stg_landing__events"
            " where event_id in ('e2', 'e5', 'e6', 'e10') order by event_id"
        ).fetchall()
        grant_credits = con.execute(
            "select credits from staging.stg_landing__grants where grant_id = 'g1'"
        ).fetchone()[0]
        walked = {
            kind
            for (kind,) in con.execute(
                "select distinct row_kind || ':' || coalesce(entry_type, amendment_outcome, kind, '')"
                " from intermediate.int_ledger_walked"
            ).fetchall()
        }
        classes = con.execute(
            "select distinct eligibility_class from intermediate.int_eligibility_classes"
        ).fetchall()
        restated = con.execute("select count(*) from intermediate.int_usage_restated").fetchone()
        statuses = con.execute("select distinct status from marts.fct_grants").fetchall()
        sections = con.execute(
            "select section, count(*) from reporting.rpt_statement_lines"
            " where customer_id = 'cus_m' group by section"
        ).fetchall()
        invoice_types = con.execute(
            "select distinct invoice_type from marts.fct_invoices"
        ).fetchall()
    finally:
        con.close()
    dt = __import__("datetime").datetime
    assert got == [
        ("e10", dt(2026, 3, 5, 6), "OBJECT"),  # naive text is UTC
        ("e2", dt(2026, 3, 2, 10, 30), "OBJECT"),  # 12:30 at +02:00 = 10:30 UTC
        ("e5", dt(2026, 3, 4), "ARRAY"),
        ("e6", dt(2026, 3, 4), "NULL"),
    ]
    assert grant_credits == Decimal("500.123456789012")
    assert seed_rated == 2000 + 300 + 50 + 5
    # The ledger's paths: usage runs short (overage), is repaid by a later purchase, which is
    # refunded; grants expire and roll over; a top-up fires; voids give back; an amendment
    # moves an expiry; a scoped grant makes eligibility classes; a closed period restates.
    assert {
        "entry:expiry",
        "entry:rollover",
        "entry:repayment",
        "entry:overage_repaid",
        "entry:refund",
        "entry:void",
        "entry:unfunded_writeoff",
        "span:overage",
        "span:unfunded",
        "grant:auto_topup",
        "grant:rollover",
        "amendment:applied",
        "checkpoint:",
    } <= walked
    assert sorted(classes) == [("",), ("nova_pro_tokens",)]
    assert restated == (1,)
    assert {status for (status,) in statuses} == {
        "active",
        "depleted",
        "expired",
        "scheduled",
        "voided",
    }
    # Seven users: the statement lists the top five; and grants to come after the clock.
    assert dict(sections)["top_user"] == 5
    assert dict(sections)["coming"] >= 1
    assert {kind for (kind,) in invoice_types} == {"credit_note", "purchase", "subscription"}
