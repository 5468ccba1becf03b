"""Incremental builds equal a full refresh (docs/incremental.md).

A warehouse is loaded in several batches with a build after each, as the daily runs would,
then a copy of it is rebuilt with `--full-refresh` from the same `raw`. Every mart, and the
event models the incremental ones keep, must be identical row for row; only `verdict_seq`
(which run last judged a row) may differ.

The batches are chosen to reach every way an earlier row's verdict can change later:
- events from the future that the clock reaches in a later run;
- an event of an unknown customer whose customer row arrives in a later batch;
- duplicates and conflicting duplicates of earlier batches' events, loaded later;
- a late file for a period closed in between, and a catalog change (which must rebuild).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path

import duckdb
import pytest
from helpers import CATALOG_PATH, dbt_build, jsonl_text, query, write_csv
from reference.compare import customer_diff, warehouse_figures
from reference.ledger import reference_ledger
from reference.scenario import TEST_CATALOG_PATH, Scenario, rfc3339, write_landing
from reference.strategies import seeded_customer

from credits_warehouse.catalog import load_catalog
from credits_warehouse.checks.pushdown import judge
from credits_warehouse.incremental import (
    RUN_BOOKKEEPING_COLUMNS,
    models_a_close_leaves_alone,
    plan_build,
    tables_checked_by_a_build,
)
from credits_warehouse.ingest import FEED_COLUMNS, LANDING_TABLES, load_landing
from credits_warehouse.ledger_batches import INPUT_KINDS, INPUT_SCHEMA
from credits_warehouse.sample_data.generate import generate
from credits_warehouse.warehouse import connect, write_catalog
from dagster_project.checks.asset_checks import PANDERA_CHECKS
from dagster_project.dbt import MANIFEST_PATH, ensure_manifest

# Some 3,300 walk input rows in the generated batches: about two dozen buckets.
WALK_BUCKET_ROWS_IN_TESTS = 150

INCREMENTAL_MODELS = (
    "staging.stg_landing__events",
    "intermediate.int_events_matched_to_aggregators",
    "intermediate.int_events_validated",
    "intermediate.int_events_rated",
    "intermediate.int_events_quarantined",
    "intermediate.int_voided_events",
    "intermediate.int_voids_positioned",
)


def _tables(warehouse: Path) -> list[str]:
    published = [
        f"{schema}.{name}"
        for (schema, name) in query(
            warehouse,
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in ('marts', 'reporting') order by table_schema, table_name",
        )
    ]
    return published + list(INCREMENTAL_MODELS)


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every mart and incremental model's rows, sorted, without the run columns."""
    out = {}
    for table in _tables(warehouse):
        schema, name = table.split(".")
        columns = [
            c
            for (c,) in query(
                warehouse,
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            )
            if c not in RUN_BOOKKEEPING_COLUMNS
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        # JSON columns compare as text.
        out[table] = query(warehouse, f"select {listed} from {table} order by all")  # noqa: S608
    return out


def assert_same(incremental: Path, full: Path) -> None:
    a, b = snapshot(incremental), snapshot(full)
    assert a.keys() == b.keys()
    differing = []
    for table in a:
        if a[table] != b[table]:
            only_a = set(a[table]) - set(b[table])
            only_b = set(b[table]) - set(a[table])
            differing.append(
                f"{table}: {len(a[table])} rows incremental, {len(b[table])} full; "
                f"first only incremental {sorted(only_a, key=repr)[:2]}, "
                f"first only full {sorted(only_b, key=repr)[:2]}"
            )
    assert not differing, "incremental differs from full refresh:\n" + "\n".join(differing)


def load(warehouse: Path, landing: Path, at: str, catalog: Path) -> None:
    con = connect(warehouse)
    try:
        write_catalog(con, load_catalog(catalog))
        load_landing(con, landing, dt.datetime.fromisoformat(at))
    finally:
        con.close()


def close(warehouse: Path, period: str, at: str) -> None:
    con = connect(warehouse)
    try:
        con.execute(
            "insert into raw.period_closes values (?, ?)", [period, dt.datetime.fromisoformat(at)]
        ).fetchall()
    finally:
        con.close()


def full_refresh_copy(warehouse: Path, as_of: str, tmp: Path) -> Path:
    copy = tmp / "full" / "warehouse.duckdb"
    copy.parent.mkdir(parents=True)
    shutil.copy2(warehouse, copy)
    return dbt_build(copy, as_of, copy.parent, full_refresh=True)


def _move(src: Path, landing: Path, relative: str, new_name: str | None = None) -> None:
    target = landing / (new_name or relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / relative, target)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path]:
    """Generated data loaded in three batches, a build and a close after each month, then
    a full refresh of a copy: (incremental warehouse, full-refresh warehouse)."""
    root = tmp_path_factory.mktemp("incremental_generated")
    # With scoped promotions (contract §8.1), so segments split by eligibility class too.
    generate(root / "gen", customers=20, events=20_000, months=3, seed=11, scoped_promos=True)
    src, catalog = root / "gen" / "landing", root / "gen" / "catalog.yml"
    landing = root / "landing"
    warehouse = root / "inc" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    events = sorted(p.relative_to(src).as_posix() for p in (src / "events").rglob("*.*"))
    feeds = [p.name for p in src.iterdir() if p.is_file() and p.name != "customers.jsonl"]

    # Batch 1, February 1st: the feeds, January, the API batch, and an event of a customer
    # nobody knows yet (February, so it is not late once the customer arrives).
    for name in feeds:
        _move(src, landing, name)
    for rel in events:
        if rel.startswith(("events/2026/01/", "events/api/")) and "late" not in rel:
            _move(src, landing, rel)
    stranger = {
        "event_id": "evt_stranger_1",
        "customer_id": "cus_stranger",
        "event_type": "llm_token_usage",
        "timestamp": "2026-02-10T12:00:00Z",
        "properties": {"model": "nova-fast", "tokens": 5000, "user_id": "u1"},
    }
    # ... and one of a customer whose row arrives only after January has closed.
    ghost = {**stranger, "event_id": "evt_ghost_1", "customer_id": "cus_ghost"}
    ghost["timestamp"] = "2026-01-15T12:00:00Z"
    (landing / "events" / "stranger.jsonl").write_text(jsonl_text([stranger, ghost]))
    load(warehouse, landing, "2026-02-01T00:00:00", catalog)
    dbt_build(warehouse, "2026-02-01T00:00:00", root / "inc")
    close(warehouse, "2026-01", "2026-02-01T00:00:00")

    # Batch 2, March 1st: February, its late January file, a March file early (its events
    # are from the future until the next run), customers' later versions, the stranger's
    # customer row, and January's second file again under another name (duplicates).
    for rel in events:
        if (
            rel.startswith("events/2026/02/")
            or rel == "events/2026/03/events-2026-03-part-002.jsonl"
        ):
            _move(src, landing, rel)
    _move(src, landing, "customers.jsonl")
    write_csv(
        landing / "customers" / "stranger.csv",
        FEED_COLUMNS["customers"],
        [{"customer_id": "cus_stranger", "name": "Stranger Ltd", "country": "US",
          "currency": "USD", "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"}],
    )  # fmt: skip
    _move(src, landing, "events/2026/01/events-2026-01-part-002.jsonl", "events/replay/jan-2.jsonl")
    load(warehouse, landing, "2026-03-01T00:00:00", catalog)
    dbt_build(warehouse, "2026-03-01T00:00:00", root / "inc")
    close(warehouse, "2026-02", "2026-03-01T00:00:00")

    # Batch 3, April 1st: the rest, and conflicting copies of some February events.
    for rel in events:
        _move(src, landing, rel)
    february = (src / "events/2026/02/events-2026-02-part-002.jsonl").read_text().splitlines()
    conflicting = []
    for line in february[:50]:
        event = json.loads(line)
        event["properties"]["tokens"] = int(event["properties"].get("tokens", 0)) + 1
        conflicting.append(event)
    (landing / "events" / "replay" / "feb-conflicting.jsonl").write_text(jsonl_text(conflicting))
    load(warehouse, landing, "2026-04-01T00:00:00", catalog)
    dbt_build(warehouse, "2026-04-01T00:00:00", root / "inc")
    # Once more with nothing new: it resumes and checkpoints at the same instant.
    dbt_build(warehouse, "2026-04-01T00:00:00", root / "inc")
    # March closes with nothing new: the build rebuilds only what a close changes, and
    # the walk's checkpoint at April 1st is the one build 3 took while March was open.
    close(warehouse, "2026-03", "2026-04-01T00:00:00")
    assert _plan(warehouse, "2026-04-01T00:00:00").closes_only
    dbt_build(warehouse, "2026-04-01T00:00:00", root / "inc")

    # Batch 4, April 2nd: a day of April usage, resumed from that checkpoint.
    march_file = next(r for r in events if r.startswith("events/2026/03/") and r.endswith(".jsonl"))
    march = (src / march_file).read_text().splitlines()
    april = []
    for n, line in enumerate(march[:300]):
        event = json.loads(line)
        event["event_id"] = f"evt_april_{n}"
        event.pop("idempotency_key", None)
        event["timestamp"] = f"2026-04-01T{n % 24:02}:{n % 60:02}:00Z"
        april.append(event)
    (landing / "events" / "april.jsonl").write_text(jsonl_text(april))
    load(warehouse, landing, "2026-04-02T00:00:00", catalog)
    assert not _plan(warehouse, "2026-04-02T00:00:00").closes_only
    dbt_build(warehouse, "2026-04-02T00:00:00", root / "inc")
    # The full refresh walks the ledger in several buckets of customers, each sorted on its
    # own (int_ledger_walked), the builds above in one: their marts must still be equal.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CREDITS_WALK_BUCKET_ROWS", str(WALK_BUCKET_ROWS_IN_TESTS))
        return warehouse, full_refresh_copy(warehouse, "2026-04-02T00:00:00", root)


def _plan(warehouse: Path, as_of: str):
    con = connect(warehouse)
    try:
        return plan_build(con, MANIFEST_PATH, as_of=dt.datetime.fromisoformat(as_of))
    finally:
        con.close()


def test_generated_batches_equal_full_refresh(generated):
    assert_same(*generated)


def test_builds_after_a_close_resume_the_ledger_at_its_checkpoint(generated):
    incremental, _ = generated
    builds = query(
        incremental,
        "select build_seq, full_refresh, resume_from, checkpoint_at from raw.build_state",
    )
    at = dt.datetime.fromisoformat
    assert builds == [
        (1, False, None, None),
        (2, False, None, at("2026-02-01T00:00:00")),
        (3, False, at("2026-02-01T00:00:00"), at("2026-03-01T00:00:00")),
        (4, False, at("2026-03-01T00:00:00"), at("2026-03-01T00:00:00")),
        (5, False, at("2026-03-01T00:00:00"), at("2026-04-01T00:00:00")),
        (6, False, at("2026-04-01T00:00:00"), at("2026-04-01T00:00:00")),
    ]
    # One checkpoint per customer who had a ledger before April: the one the last build
    # resumed from is the one it kept for the next (no period ended after it).
    assert query(
        incremental,
        "select walked_at, count(*) = count(distinct customer_id) "
        "from intermediate.int_ledger_walked where row_kind = 'checkpoint' group by all",
    ) == [(at("2026-04-01T00:00:00"), True)]


def test_a_close_with_nothing_new_rebuilds_only_the_invoices_and_what_reads_them():
    skipped = set(models_a_close_leaves_alone(ensure_manifest()))
    assert {
        "stg_landing__events",
        "int_events_rated",
        "int_ledger_walked",
        "fct_credit_ledger",
    } <= skipped
    rebuilt = {"int_invoices_numbered", "int_period_figures", "fct_invoices", "fct_journal_entries"}
    assert not rebuilt & skipped


def test_walk_inputs_view_has_the_columns_the_walk_reads(generated):
    """`int_ledger_walk_inputs` (dbt/macros/walk_inputs.sql) and ledger_batches.INPUT_SCHEMA
    name the same columns, in the same order, with the same types."""
    incremental, _ = generated
    with duckdb.connect(str(incremental), read_only=True) as con:
        view = con.sql("select * from intermediate.int_ledger_walk_inputs limit 0").to_arrow_table()
        kinds = {k for (k,) in con.sql(
            "select distinct input_kind from intermediate.int_ledger_walk_inputs"
        ).fetchall()}  # fmt: skip
    assert view.schema.names == INPUT_SCHEMA.names
    assert [f.type for f in view.schema] == [f.type for f in INPUT_SCHEMA]
    # The generated data reaches every kind the view makes (the step adds the other two).
    assert kinds == set(INPUT_KINDS) - {"checkpoint", "prior_span"}


def test_the_full_refresh_walked_in_several_buckets(generated):
    """The fixture's full refresh really split the walk: its inputs are many buckets' worth."""
    _, full = generated
    ((rows,),) = query(full, "select count(*) from intermediate.int_ledger_walk_inputs")
    assert rows > 10 * WALK_BUCKET_ROWS_IN_TESTS


def test_generated_batches_reached_every_kind_of_change(generated):
    """The batches did what they are for: each verdict that can change later did."""
    incremental, _ = generated
    reasons = dict(
        query(
            incremental,
            "select quarantine_reason, count(*) from intermediate.int_events_validated "
            "group by all",
        )
    )
    assert reasons.get("duplicate", 0) > 1000  # the January file loaded twice
    assert reasons.get("conflicting_duplicate", 0) >= 50
    # March's early file: from the future in the second run, accepted by the third.
    assert query(
        incremental,
        "select count(*) > 1000 from intermediate.int_events_validated "
        "where source_file = 'events/2026/03/events-2026-03-part-002.jsonl' "
        "and quarantine_reason is null and verdict_seq = 3",
    ) == [(True,)]
    assert query(
        incremental,
        "select count(*) from intermediate.int_events_validated "
        "where quarantine_reason = 'future_timestamp' and event_at < '2026-04-02'",
    ) == [(0,)]
    # The stranger's event: unknown customer in the first run, accepted by the run that
    # loaded its customer row.
    assert query(
        incremental,
        "select count(*), max(verdict_seq) from intermediate.int_events_validated "
        "where event_id = 'evt_stranger_1' and quarantine_reason is null",
    ) == [(1, 2)]
    late = query(incremental, "select count(*) from marts.fct_rated_events where is_late")
    assert late[0][0] > 0
    # Voids land with the first batch, most of the events they name later: unknown events
    # then, found once those events were judged (int_voided_events looks them up again).
    assert (
        query(
            incremental,
            "select count(*) from intermediate.int_voids_validated as voids "
            "inner join intermediate.int_events_validated as events on voids.event_id = events.event_id "
            "where events.batch_seq > voids.batch_seq "
            "and voids.quarantine_reason is null and events.quarantine_reason is null",
        )[0][0]
        > 0
    )


def _arrives_after_the_closes(warehouse: Path, tmp_path: Path, feed: str, row: dict) -> Path:
    """A copy of the warehouse after one more reference row lands (dated in a closed
    period), ready for the next build."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy2(warehouse, copy)
    landing = tmp_path / "landing"
    write_csv(landing / feed / "late.csv", FEED_COLUMNS[feed], [row])
    con = connect(copy)
    try:
        load_landing(con, landing, dt.datetime.fromisoformat("2026-04-02T00:00:00"))
    finally:
        con.close()
    return copy


def test_a_grant_dated_in_a_closed_period_stops_the_resumed_walk(generated, tmp_path):
    """Closed periods never change: a build resuming after the close refuses, naming the
    customer, rather than show a ledger that a full refresh would not."""
    incremental, _ = generated
    customer = query(incremental, "select min(customer_id) from marts.dim_customers")[0][0]
    copy = _arrives_after_the_closes(
        incremental, tmp_path, "grants",
        {"grant_id": "gr_backdated", "customer_id": customer, "kind": "promotional",
         "credits": "100", "effective_at": "2026-01-15T00:00:00Z", "priority": "50",
         "reason": "backdated", "created_by": "test"},
    )  # fmt: skip
    with pytest.raises(pytest.fail.Exception, match=f"customer {customer}: a grant, void"):
        dbt_build(copy, "2026-04-02T00:00:00", tmp_path)


def test_a_void_dated_in_a_closed_period_stops_the_resumed_walk(generated, tmp_path):
    """The same for a void that arrives after the close, of a January event, dated in
    February: the walk's digest of what acts before the resume point sees it."""
    incremental, _ = generated
    event_id, customer = query(
        incremental,
        "select min(event_id), arg_min(customer_id, event_id) from marts.fct_rated_events"
        " where booked_at < '2026-02-01' and not is_late and event_id not in"
        " (select event_id from intermediate.int_voids_validated where event_id is not null)",
    )[0]
    copy = _arrives_after_the_closes(
        incremental, tmp_path, "voids",
        {"event_id": event_id, "voided_at": "2026-02-10T00:00:00Z", "reason": "late"},
    )  # fmt: skip
    with pytest.raises(pytest.fail.Exception, match=f"customer {customer}: a grant, void"):
        dbt_build(copy, "2026-04-02T00:00:00", tmp_path)


def test_an_event_accepted_into_a_closed_period_fails_the_build(generated, tmp_path):
    """The ghost's January event waited as unknown_customer; its customer row arrives after
    January closed, so the event would be booked in a closed period."""
    incremental, _ = generated
    copy = _arrives_after_the_closes(
        incremental, tmp_path, "customers",
        {"customer_id": "cus_ghost", "name": "Ghost Ltd", "country": "US", "currency": "USD",
         "tax_rate": "0", "created_at": "2026-01-01T00:00:00Z"},
    )  # fmt: skip
    with pytest.raises(
        pytest.fail.Exception, match="assert_ledger_saw_every_event_before_the_resume_point"
    ):
        dbt_build(copy, "2026-04-02T00:00:00", tmp_path)


def test_catalog_change_asks_for_a_full_refresh(generated, tmp_path):
    incremental, _ = generated
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy2(incremental, copy)
    con = connect(copy)
    try:
        assert plan_build(con, MANIFEST_PATH).full_refresh_reason is None
        # nova-ultra repriced: every nova-ultra event must be rated again.
        text = CATALOG_PATH.read_text()
        assert "weight: 15" in text
        repriced = tmp_path / "catalog.yml"
        repriced.write_text(text.replace("weight: 15", "weight: 12", 1))
        write_catalog(con, load_catalog(repriced))
        reason = plan_build(con, MANIFEST_PATH).full_refresh_reason
    finally:
        con.close()
    assert reason == "the catalog or the dbt models changed since the last build"


# --- hypothesis customers -------------------------------------------------------------

CUSTOMERS = 120
AS_OF = "2026-04-01T00:00:00"
# (load clock, periods closed after that load, at that clock), as the daily runs and the
# monthly closes would go: every build after the first resumes the ledger at a checkpoint.
LOADS = (
    ("2026-01-20T00:00:00", ()),
    ("2026-02-25T00:00:00", ("2026-01",)),
    (AS_OF, ("2026-02", "2026-03")),
)


@pytest.fixture(scope="module")
def reference_customers(tmp_path_factory):
    """The reference suite's random customers, their events in three load batches by time
    (each with exact and conflicting duplicates of earlier batches' events), a build after
    each, and the months closed as they end."""
    root = tmp_path_factory.mktemp("incremental_reference")
    seeds = {f"c{i:04d}": f"0:{i}" for i in range(CUSTOMERS)}
    scenario = Scenario.merge(seeded_customer(cid, seed) for cid, seed in seeds.items())
    whole = write_landing(scenario, root / "whole")
    lines = (whole / "events" / "events.jsonl").read_text().splitlines()
    rng = random.Random(20261201)
    parts: list[list[str]] = [[] for _ in LOADS]
    for line in lines:
        stamp = json.loads(line)["timestamp"].replace("Z", "")
        parts[sum(stamp >= at for at, _ in LOADS[:-1])].append(line)
    for i in range(1, len(LOADS)):  # copies of earlier events, exact or with another body
        for line in rng.sample(parts[i - 1], len(parts[i - 1]) // 10):
            event = json.loads(line)
            if rng.random() < 0.3:
                instant = dt.datetime.fromisoformat(event["timestamp"].replace("Z", ""))
                event["timestamp"] = rfc3339(instant + dt.timedelta(microseconds=1))
            parts[i].append(json.dumps(event))
        rng.shuffle(parts[i])

    landing = root / "landing"
    (landing / "events").mkdir(parents=True)
    for feed in FEED_COLUMNS:
        shutil.copy2(whole / f"{feed}.csv", landing / f"{feed}.csv")
    warehouse = root / "inc" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    for n, (at, closes) in enumerate(LOADS):
        (landing / "events" / f"part-{n}.jsonl").write_text("\n".join(parts[n]) + "\n")
        load(warehouse, landing, at, TEST_CATALOG_PATH)
        for period in closes:
            close(warehouse, period, at)
        dbt_build(warehouse, at, root / "inc")
    full = full_refresh_copy(warehouse, AS_OF, root)
    return seeds, scenario, warehouse, full


def test_reference_customers_in_batches_equal_full_refresh(reference_customers):
    _, _, incremental, full = reference_customers
    assert_same(incremental, full)


def test_reference_customers_in_batches_match_the_reference(reference_customers):
    seeds, scenario, incremental, _ = reference_customers
    expected = reference_ledger(
        scenario, load_catalog(TEST_CATALOG_PATH), dt.datetime.fromisoformat(AS_OF)
    )
    grants, totals, fields = warehouse_figures(incremental)
    failing = {
        cid: diff
        for cid in seeds
        if (diff := customer_diff(cid, expected, grants.get(cid, {}), totals.get(cid, {}), fields))
    }
    assert not failing, f"{len(failing)} customers differ, first: {next(iter(failing.items()))}"


def test_a_raw_tables_latest_batch_is_judged_until_a_published_build_has_read_it(
    generated, tmp_path
):
    """The raw pandera checks judge a table's latest load batch; once a build has read it,
    its run judged it, and a run that loads nothing into the table skips the check
    (dagster_project/checks/asset_checks.py). A row written into raw past the last build's
    batches is judged again, as is every table before any build."""
    incremental, _ = generated
    copy = tmp_path / "planted.duckdb"
    shutil.copy2(incremental, copy)
    with duckdb.connect(str(copy)) as con:
        assert tables_checked_by_a_build(con, LANDING_TABLES) == set(LANDING_TABLES)
        # A copy of a customer row, in a batch no build has read.
        con.execute(
            "insert into raw.customers select * replace ("
            " (select max(last_batch_seq) + 1 from raw.build_state) as batch_seq,"
            " line_number + 100000 as line_number"
            ") from raw.customers limit 1"
        )
        assert tables_checked_by_a_build(con, LANDING_TABLES) == set(LANDING_TABLES) - {"customers"}
        con.execute("delete from raw.build_state")
        assert tables_checked_by_a_build(con, LANDING_TABLES) == {
            t for t in LANDING_TABLES if query_count(con, t) == 0
        }


def query_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]  # noqa: S608


def test_checks_of_incremental_models_judge_the_rows_the_last_build_wrote(generated, tmp_path):
    """The last build resumed on April 1st: the ledger's pandera check judges the entries
    from then on, and catches a broken one among them."""
    incremental, full = generated
    spec = next(s for s in PANDERA_CHECKS if s.name == "pandera_credit_ledger")
    since_april = query(
        incremental,
        "select count(*) from marts.fct_credit_ledger where entry_at >= '2026-04-01'",
    )[0][0]
    with duckdb.connect(str(incremental), read_only=True) as con:
        verdict = judge(con, spec.model, spec.sql)
    assert verdict.passed
    assert 0 < verdict.rows == since_april
    # After a full refresh (no resume point recorded) it judges every row.
    with duckdb.connect(str(full), read_only=True) as con:
        whole = judge(con, spec.model, spec.sql).rows
    assert whole == query(full, "select count(*) from marts.fct_credit_ledger")[0][0] > since_april
    broken = tmp_path / "broken.duckdb"
    shutil.copy2(incremental, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(
            "update marts.fct_credit_ledger set period = 'April' where entry_seq = ("
            "select max(entry_seq) from marts.fct_credit_ledger where entry_at >= '2026-04-01')"
        )
        assert not judge(con, spec.model, spec.sql).passed
