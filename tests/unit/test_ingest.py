"""Landing files into `raw` (contract §2): every format lands each row whole, as one JSON
`raw_payload` with its `source_file` and `line_number`; a file is loaded once per content.
No dbt here: these tests read `raw.*` straight after `load_landing`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import FEED_COLUMNS, jsonl_text, write_csv

from credits_warehouse import ingest
from credits_warehouse.ingest import LandingError, load_landing
from credits_warehouse.warehouse import connect

INGESTED_AT = dt.datetime(2026, 4, 1, 0, 0, 0)

EVENT_A = {
    "event_id": "e-a",
    "customer_id": "cus_1",
    "event_type": "llm_token_usage",
    "timestamp": "2026-03-02T10:00:00Z",
    "properties": {"model": "nova-fast", "tokens": 1000, "user_id": "u1"},
}
EVENT_B = {
    "event_id": "e-b",
    "customer_id": "cus_1",
    "event_type": "llm_token_usage",
    "timestamp": "2026-03-02T11:00:00Z",
    "properties": {"model": "nova-pro", "tokens": 1500},
}
EVENT_C = {
    "idempotency_key": "k-c",
    "customer_id": "ext-1",
    "event_type": "llm_token_usage",
    "timestamp": "2026-03-02T12:00:00+02:00",
    "properties": {"model": "nova-ultra", "tokens": 2000},
}


@pytest.fixture
def con(tmp_path):
    connection = connect(tmp_path / "ingest.duckdb")
    yield connection
    connection.close()


def rows(con, table: str) -> list[tuple[str, int, object]]:
    """(source_file, line_number, parsed payload) of a raw table, in landing order."""
    out = con.execute(
        f"select source_file, line_number, raw_payload from raw.{table} "  # noqa: S608
        "order by source_file, line_number"
    ).fetchall()
    return [(f, n, _parse(p)) for f, n, p in out]


def _parse(payload: str):
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def test_jsonl_blank_lines_skipped_but_counted(con, tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    text = (
        json.dumps(EVENT_A) + "\n"  # line 1
        "\n"  # line 2: blank
        "   \n"  # line 3: whitespace only
        + json.dumps(EVENT_B)
        + "\n"  # line 4
        + "{not json\n"  # line 5: kept as is, quarantined downstream
        + json.dumps(EVENT_C)  # line 6, no trailing newline
    )
    (landing / "events" / "day.jsonl").write_text(text, encoding="utf-8")

    summary = load_landing(con, landing, INGESTED_AT)

    assert summary.files_loaded == 1
    assert summary.rows == {"events": 4}
    assert rows(con, "events") == [
        ("events/day.jsonl", 1, EVENT_A),
        ("events/day.jsonl", 4, EVENT_B),
        ("events/day.jsonl", 5, "{not json"),
        ("events/day.jsonl", 6, EVENT_C),
    ]
    # Every row records its ingested_at and load batch (contract §2).
    meta = con.execute(
        "select distinct ingested_at, load_batch_id, batch_seq from raw.events"
    ).fetchall()
    assert meta == [(INGESTED_AT, summary.load_batch_id, 1)]


def test_jsonl_gz(con, tmp_path):
    landing = tmp_path / "landing"
    (landing / "events" / "2026").mkdir(parents=True)
    payload = jsonl_text([EVENT_A, EVENT_B]).replace("\n", "\n\n", 1)  # a blank line 2
    (landing / "events" / "2026" / "03.jsonl.gz").write_bytes(gzip.compress(payload.encode()))

    load_landing(con, landing, INGESTED_AT)

    assert rows(con, "events") == [
        ("events/2026/03.jsonl.gz", 1, EVENT_A),
        ("events/2026/03.jsonl.gz", 3, EVENT_B),
    ]


def test_rows_keep_file_and_line_order_across_inserts_and_a_refused_file_loses_all(
    con, tmp_path, monkeypatch
):
    """Files are read ahead of the load and go in a whole number of row groups per insert
    (RawAppender): rows from several files share an insert and a file's rows span several.
    Made small here, so 35 rows take several inserts; a gzip that breaks after some of its
    blocks were read and some of its rows inserted lands as its one refused row alone."""
    monkeypatch.setattr(ingest, "READ_BLOCK_BYTES", 300)  # about two events per block
    monkeypatch.setattr(ingest, "ROW_GROUP_ROWS", 4)
    monkeypatch.setattr(ingest, "INSERT_ROW_GROUPS", 2)
    monkeypatch.setattr(ingest, "READ_AHEAD_TABLES", 1)
    events = [{**EVENT_A, "event_id": f"e-{n}"} for n in range(30)]
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.jsonl").write_text(jsonl_text(events[:23]))
    broken = gzip.compress(jsonl_text(events).encode())
    (landing / "events" / "b.jsonl.gz").write_bytes(broken[: len(broken) * 3 // 4])
    (landing / "events" / "c.jsonl").write_text(jsonl_text(events[:12]))

    batch = load_landing(con, landing, INGESTED_AT)

    in_order = con.execute(
        "select source_file, line_number, raw_payload is null from raw.events order by rowid"
    ).fetchall()
    assert in_order == [
        *[("events/a.jsonl", n, False) for n in range(1, 24)],
        ("events/b.jsonl.gz", 1, True),
        *[("events/c.jsonl", n, False) for n in range(1, 13)],
    ]
    assert [name for name, _ in batch.refused] == ["events/b.jsonl.gz"]
    assert con.execute(
        "select source_file, rows_loaded from raw.loaded_files order by source_file"
    ).fetchall() == [("events/a.jsonl", 23), ("events/b.jsonl.gz", 1), ("events/c.jsonl", 12)]
    assert batch.total_rows == 36


def test_json_envelope_element_i_is_line_i_plus_1(con, tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    envelope = {"events": [EVENT_A, EVENT_B, EVENT_C]}
    (landing / "events" / "batch.json").write_text(json.dumps(envelope, indent=2))

    load_landing(con, landing, INGESTED_AT)

    assert rows(con, "events") == [
        ("events/batch.json", 1, EVENT_A),
        ("events/batch.json", 2, EVENT_B),
        ("events/batch.json", 3, EVENT_C),
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"events": [{"event_id": "x"',  # truncated JSON
        '{"data": []}',  # no "events" key
        '{"events": {"event_id": "x"}}',  # "events" not a list
        "[1, 2, 3]",  # not an object
    ],
)
def test_broken_envelope_is_one_row_kept_whole(con, tmp_path, text):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "bad.json").write_text(text, encoding="utf-8")

    summary = load_landing(con, landing, INGESTED_AT)

    assert summary.rows == {"events": 1}
    got = con.execute("select source_file, line_number, raw_payload from raw.events").fetchall()
    assert got == [("events/bad.json", 1, text)]


def test_parquet_flat_columns_become_properties(con, tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    table = pa.table(
        {
            "event_id": ["p-1", "p-2"],
            "customer_id": ["cus_1", "cus_2"],
            "event_type": ["llm_token_usage", "llm_token_usage"],
            "timestamp": ["2026-03-02T10:00:00Z", "2026-03-03T10:00:00Z"],
            "model": ["nova-fast", "nova-pro"],
            "tokens": pa.array([1000, 1500], type=pa.int64()),
            "user_id": ["u1", None],
        }
    )
    pq.write_table(table, landing / "events" / "flat.parquet")

    load_landing(con, landing, INGESTED_AT)

    got = rows(con, "events")
    assert [(f, n) for f, n, _ in got] == [("events/flat.parquet", 1), ("events/flat.parquet", 2)]
    first, second = got[0][2], got[1][2]
    assert first == {
        "event_id": "p-1",
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-02T10:00:00Z",
        "properties": {"model": "nova-fast", "tokens": 1000, "user_id": "u1"},
    }
    assert second["event_id"] == "p-2"
    assert second["properties"]["model"] == "nova-pro"
    assert second["properties"]["tokens"] == 1500
    # Named fields never leak into properties.
    assert not {"event_id", "customer_id", "event_type", "timestamp"} & set(second["properties"])


def test_parquet_properties_as_json_string(con, tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    table = pa.table(
        {
            "event_id": ["s-1", "s-2"],
            "idempotency_key": ["ik-1", None],
            "customer_id": ["cus_1", "cus_1"],
            "event_type": ["llm_token_usage", "llm_token_usage"],
            "timestamp": ["2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"],
            "properties": [
                json.dumps({"model": "nova-ultra", "tokens": 2000, "cached": True}),
                "not json at all",
            ],
        }
    )
    pq.write_table(table, landing / "events" / "props.parquet")

    load_landing(con, landing, INGESTED_AT)

    got = rows(con, "events")
    assert [(f, n) for f, n, _ in got] == [("events/props.parquet", 1), ("events/props.parquet", 2)]
    assert got[0][2] == {
        "event_id": "s-1",
        "idempotency_key": "ik-1",
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-02T10:00:00Z",
        "properties": {"model": "nova-ultra", "tokens": 2000, "cached": True},
    }
    # A properties string that is not JSON stays loadable (as a JSON string), to be
    # quarantined downstream rather than lost.
    assert got[1][2]["properties"] == "not json at all"


def test_parquet_properties_as_struct(con, tmp_path):
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    table = pa.table(
        {
            "event_id": ["t-1"],
            "customer_id": ["cus_1"],
            "event_type": ["llm_token_usage"],
            "timestamp": ["2026-03-02T10:00:00Z"],
            "properties": pa.array(
                [{"model": "nova-fast", "tokens": 10}],
                type=pa.struct([("model", pa.string()), ("tokens", pa.int64())]),
            ),
        }
    )
    pq.write_table(table, landing / "events" / "struct.parquet")

    load_landing(con, landing, INGESTED_AT)

    ((_, line, payload),) = rows(con, "events")
    assert line == 1
    assert payload["properties"] == {"model": "nova-fast", "tokens": 10}


CUSTOMERS = [
    {
        "customer_id": "cus_1",
        "external_id": "ext-1",
        "name": "Ada, Ltd.",  # a comma inside a quoted CSV cell
        "email": "ada@example.com",
        "address": "1 Road",
        "country": "GB",
        "currency": "GBP",
        "tax_rate": "0.2",
        "created_at": "2026-01-01T00:00:00Z",
    },
    {
        "customer_id": "cus_2",
        "external_id": "",
        "name": "Bob",
        "email": "bob@example.com",
        "address": "",
        "country": "US",
        "currency": "USD",
        "tax_rate": "0",
        "created_at": "2026-01-02T00:00:00Z",
    },
]


def _expected_customer(row: dict, *, csv_form: bool) -> dict:
    # CSV cells are read as text; an empty cell is null.
    if csv_form:
        return {k: (v if v != "" else None) for k, v in row.items()}
    return row


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_reference_feed_formats(con, tmp_path, fmt):
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / f"customers.{fmt}"
    if fmt == "csv":
        write_csv(path, FEED_COLUMNS["customers"], CUSTOMERS)
        first_line = 2  # line 1 is the header
    elif fmt == "jsonl":
        path.write_text(jsonl_text(CUSTOMERS), encoding="utf-8")
        first_line = 1
    else:
        pq.write_table(pa.Table.from_pylist(CUSTOMERS), path)
        first_line = 1

    summary = load_landing(con, landing, INGESTED_AT)

    assert summary.rows == {"customers": 2}
    got = rows(con, "customers")
    assert [(f, n) for f, n, _ in got] == [
        (f"customers.{fmt}", first_line),
        (f"customers.{fmt}", first_line + 1),
    ]
    # raw_payload holds the landed row and nothing else (contract §2.1: rows are kept whole).
    assert [payload for _, _, payload in got] == [
        _expected_customer(row, csv_form=fmt == "csv") for row in CUSTOMERS
    ]


def test_reference_feed_in_its_folder(con, tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "customers" / "2026-03.csv", FEED_COLUMNS["customers"], CUSTOMERS[:1])

    load_landing(con, landing, INGESTED_AT)

    assert [(f, n) for f, n, _ in rows(con, "customers")] == [("customers/2026-03.csv", 2)]


def _landing_with_three_files(root: Path) -> Path:
    landing = root / "landing"
    write_csv(landing / "customers.csv", FEED_COLUMNS["customers"], CUSTOMERS)
    (landing / "events").mkdir(parents=True)
    (landing / "events" / "a.jsonl").write_text(jsonl_text([EVENT_A]))
    (landing / "events" / "b.jsonl").write_text(jsonl_text([EVENT_B]))
    return landing


def test_loading_twice_loads_nothing(con, tmp_path):
    landing = _landing_with_three_files(tmp_path)

    first = load_landing(con, landing, INGESTED_AT)
    second = load_landing(con, landing, INGESTED_AT + dt.timedelta(hours=1))

    assert (first.files_loaded, first.files_skipped, first.total_rows) == (3, 0, 4)
    assert (second.files_loaded, second.files_skipped, second.total_rows) == (0, 3, 0)
    assert con.execute("select count(*) from raw.events").fetchall() == [(2,)]
    assert con.execute("select count(*) from raw.customers").fetchall() == [(2,)]
    # An empty load records no batch.
    assert con.execute("select count(*) from raw.load_batches").fetchall() == [(1,)]


def test_changed_file_loads_again_alone(con, tmp_path):
    landing = _landing_with_three_files(tmp_path)
    load_landing(con, landing, INGESTED_AT)

    (landing / "events" / "b.jsonl").write_text(jsonl_text([EVENT_B, EVENT_C]))
    later = INGESTED_AT + dt.timedelta(days=1)
    summary = load_landing(con, landing, later)

    assert (summary.files_loaded, summary.files_skipped) == (1, 2)
    assert summary.rows == {"events": 2}
    assert summary.batch_seq == 2
    new_rows = con.execute(
        "select source_file, line_number, ingested_at, batch_seq from raw.events "
        "where batch_seq = 2 order by line_number"
    ).fetchall()
    assert new_rows == [("events/b.jsonl", 1, later, 2), ("events/b.jsonl", 2, later, 2)]
    # Both versions of the file are recorded, each with its own hash.
    versions = con.execute(
        "select count(distinct content_sha256) from raw.loaded_files "
        "where source_file = 'events/b.jsonl'"
    ).fetchall()
    assert versions == [(2,)]


def test_an_unchanged_file_is_not_read_again(con, tmp_path, monkeypatch):
    """Path, size and mtime equal to a loaded file's: known without hashing it again. A file
    rewritten with the same size still loads, as any write moves its mtime."""
    import os

    import credits_warehouse.ingest as ingest

    landing = _landing_with_three_files(tmp_path)
    load_landing(con, landing, INGESTED_AT)
    hashed = []
    real_hash = ingest.sha256_file
    monkeypatch.setattr(
        ingest, "sha256_file", lambda path: hashed.append(path.name) or real_hash(path)
    )

    again = load_landing(con, landing, INGESTED_AT + dt.timedelta(hours=1))
    assert (again.files_loaded, again.files_skipped, hashed) == (0, 3, [])

    changed = landing / "events" / "b.jsonl"
    size, mtime = changed.stat().st_size, changed.stat().st_mtime_ns
    text = changed.read_text()
    changed.write_text(text.replace("1500", "2500"))  # same size, new content
    assert changed.stat().st_size == size
    os.utime(changed, ns=(mtime + 1_000_000, mtime + 1_000_000))
    summary = load_landing(con, landing, INGESTED_AT + dt.timedelta(hours=2))
    assert (summary.files_loaded, summary.files_skipped, hashed) == (1, 2, ["b.jsonl"])


def test_unknown_files_are_ignored_and_reported(con, tmp_path):
    landing = tmp_path / "landing"
    write_csv(landing / "customers.csv", FEED_COLUMNS["customers"], CUSTOMERS)
    (landing / "events").mkdir()
    (landing / "events" / "a.jsonl").write_text(jsonl_text([EVENT_A]))
    (landing / "events" / "notes.txt").write_text("not an event file")
    (landing / "events" / "a.csv").write_text("event_id\nx\n")  # csv is not an event format
    (landing / "README.md").write_text("hello")
    (landing / "invoices.csv").write_text("a,b\n1,2\n")  # not a known feed
    (landing / ".hidden.jsonl").write_text("{}\n")  # hidden files are not even reported

    summary = load_landing(con, landing, INGESTED_AT)

    assert summary.files_loaded == 2
    assert sorted(summary.ignored) == [
        "README.md",
        "events/a.csv",
        "events/notes.txt",
        "invoices.csv",
    ]
    assert con.execute("select count(*) from raw.events").fetchall() == [(1,)]


def test_missing_landing_directory(con, tmp_path):
    with pytest.raises(LandingError):
        load_landing(con, tmp_path / "absent", INGESTED_AT)
