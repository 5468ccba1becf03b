"""Hostile landing files: each row is quarantined with a reason, or the file is refused as a
whole (one `unreadable_file` row, a one-line reason in `raw.loaded_files`), and nothing
crashes. Every case is a file of its own in one landing directory, loaded and built once;
each test then reads its file's verdicts.

For every file: rows landed = rows accepted + rows quarantined (conservation), and the
verdicts are the ones worked out below. The gzip-bomb and long-line cases run with small
limits (CREDITS_MAX_INFLATED_BYTES, CREDITS_MAX_LINE_BYTES) so that they stay small.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import CATALOG_PATH, build_warehouse, query, write_landing

from credits_warehouse.catalog import CatalogError, load_catalog

pytestmark = pytest.mark.faults

AS_OF = "2026-04-01T00:00:00"
INFLATE_LIMIT = 1 << 20  # 1 MiB for the test: the bomb inflates to 8 MiB
LINE_LIMIT = 3 << 20  # 3 MiB: the 1 MiB string passes, the 4 MiB line does not


def event(event_id: str, **changes) -> dict:
    """A valid usage event of cus_1 in March (1,000 nova-fast tokens = 1 credit)."""
    base = {
        "event_id": event_id,
        "customer_id": "cus_1",
        "event_type": "llm_token_usage",
        "timestamp": "2026-03-05T10:00:00Z",
        "properties": {"model": "nova-fast", "tokens": 1000, "user_id": "u1"},
    }
    properties = changes.pop("properties", {})
    return {**base, **changes, "properties": {**base["properties"], **properties}}


def line(value: dict | str) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def lines(*values: dict | str, newline: str = "\n") -> bytes:
    return (newline.join(line(v) for v in values) + newline).encode("utf-8")


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


# name -> (file under the landing directory, its bytes, accepted rows, {reason: rows})
CASES: dict[str, tuple[str, bytes, int, dict[str, int]]] = {
    "malformed JSON": ("events/malformed.jsonl", lines("{not json"), 0, {"malformed": 1}),
    "a truncated object": (
        "events/truncated_object.jsonl", lines('{"event_id": "t1", "customer_id": '), 0,
        {"malformed": 1},
    ),
    "a JSON array": ("events/array.jsonl", lines("[1, 2, 3]"), 0, {"malformed": 1}),
    "a JSON string": ("events/string.jsonl", lines('"hello"'), 0, {"malformed": 1}),
    "properties not an object": (
        "events/properties_text.jsonl", lines({**event("p1"), "properties": "x"}), 0,
        {"malformed": 1},
    ),
    "no customer": (
        "events/no_customer.jsonl", lines({k: v for k, v in event("c0").items() if k != "customer_id"}),
        0, {"missing_field": 1},
    ),
    "an unknown customer": (
        "events/unknown_customer.jsonl", lines(event("c1", customer_id="cus_nobody")), 0,
        {"unknown_customer": 1},
    ),
    "a timestamp that is a number": (
        "events/timestamp_number.jsonl", lines(event("ts1", timestamp=12345)), 0,
        {"bad_timestamp": 1},
    ),
    "a timestamp in words": (
        "events/timestamp_words.jsonl", lines(event("ts2", timestamp="yesterday")), 0,
        {"bad_timestamp": 1},
    ),
    "tokens as text": (
        "events/tokens_text.jsonl", lines(event("q1", properties={"tokens": "abc"})), 0,
        {"non_numeric_quantity": 1},
    ),
    "tokens as an object": (
        "events/tokens_object.jsonl", lines(event("q2", properties={"tokens": {"n": 1}})), 0,
        {"non_numeric_quantity": 1},
    ),
    "negative tokens": (
        "events/tokens_negative.jsonl", lines(event("q3", properties={"tokens": -5})), 0,
        {"negative_quantity": 1},
    ),
    "NaN and Infinity": (
        "events/nan.jsonl",
        lines(
            line(event("n1")).replace('"tokens": 1000', '"tokens": NaN'),
            line(event("n2")).replace('"tokens": 1000', '"tokens": Infinity'),
            line(event("n3")).replace('"tokens": 1000', '"tokens": -Infinity'),
        ),
        0, {"non_numeric_quantity": 3},
    ),
    "numbers past 10^30": (
        "events/huge.jsonl",
        lines(
            line(event("h1")).replace('"tokens": 1000', '"tokens": 1e31'),
            line(event("h2")).replace('"tokens": 1000', '"tokens": 1e400'),
            line(event("h3")).replace('"tokens": 1000', '"tokens": 10000000000000000'),
        ),
        0, {"quantity_out_of_range": 2, "non_numeric_quantity": 1},
    ),
    "an event from the future": (
        "events/future.jsonl", lines(event("f1", timestamp="2031-01-01T00:00:00Z")), 0,
        {"future_timestamp": 1},
    ),
    "duplicates and a conflicting one": (
        "events/duplicates.jsonl",
        lines(event("d1"), event("d1"), event("d2"), event("d2", properties={"tokens": 7})),
        2, {"duplicate": 1, "conflicting_duplicate": 1},
    ),
    "a 1 MB string": (
        "events/long_string.jsonl", lines(event("l1", properties={"user_id": "x" * (1 << 20)})),
        1, {},
    ),
    "Unicode everywhere": (
        "events/unicode.jsonl",
        lines(event("ü-用户-😀", properties={"user_id": "用户😀", "note": "ĉu"})), 1, {},
    ),
    "a byte-order mark": ("events/bom.jsonl", b"\xef\xbb\xbf" + lines(event("b1")), 1, {}),
    "CRLF line endings": (
        "events/crlf.jsonl", lines(event("r1"), event("r2"), newline="\r\n"), 2, {},
    ),
    "an empty file": ("events/empty.jsonl", b"", 0, {}),
    "blank lines only": ("events/blank.jsonl", b"\n\n  \n\r\n", 0, {}),
    "invalid UTF-8": (
        "events/bad_utf8.jsonl",
        lines(event("u1")).replace(b'"u1"', b'"u1\xff\xfe"', 1).replace(b'"user_id": "u1"', b'"user_id": "\xc3"'),
        1, {},
    ),
    "a NUL byte and control characters": (
        "events/control.jsonl",
        lines(line(event("z1")).replace('"u1"', '"u\x00\x01"'), event("z2", properties={"user_id": "a\u0000b"})),
        1, {"malformed": 1},
    ),
    "10,000 levels of nesting": (
        "events/deep.jsonl",
        lines(line(event("deep1")).replace('"user_id": "u1"', '"deep": ' + "[" * 10_000 + "]" * 10_000)),
        1, {},
    ),
    "HTML and path traversal in ids": (
        "events/hostile_ids.jsonl",
        lines(event("<script>alert(1)</script>"), event("../../etc/passwd"), event("'; drop table raw.events; --")),
        3, {},
    ),
    "a truncated gzip": (
        "events/truncated.jsonl.gz", gz(lines(*(event(f"g{i}") for i in range(200))))[:-40], 0,
        {"unreadable_file": 1},
    ),
    "a gzip bomb": (
        "events/bomb.jsonl.gz", gz(b" " * (8 << 20)), 0, {"unreadable_file": 1},
    ),
    "not gzip at all": (
        "events/fake.jsonl.gz", lines(event("fake1")), 0, {"unreadable_file": 1},
    ),
    "a line past the limit": (
        "events/long_line.jsonl",
        lines(event("ok-before")) + lines(event("ll1", properties={"user_id": "y" * (4 << 20)})),
        0, {"unreadable_file": 1},
    ),
    "Parquet with the wrong schema": (
        "events/wrong_schema.parquet", parquet(pa.table({"a": [1, 2], "b": ["x", "y"]})), 0,
        {"missing_field": 2},
    ),
    "Parquet with wrong types": (
        "events/wrong_types.parquet",
        parquet(pa.table({
            "event_id": ["pt1", "pt2"], "customer_id": [1, 2], "event_type": ["llm_token_usage"] * 2,
            "timestamp": [1.5, 2.5], "model": ["nova-fast"] * 2, "tokens": ["many", "few"],
        })),
        0, {"bad_timestamp": 2},
    ),
    "not Parquet at all": (
        "events/garbage.parquet", b"PAR1 this is not a parquet file", 0, {"unreadable_file": 1},
    ),
    "an envelope whose events are not a list": (
        # The file's whole text is the one row: an object without an event's fields.
        "events/envelope_bad.json", b'{"events": 5}', 0, {"missing_field": 1},
    ),
    "an envelope with broken elements": (
        "events/envelope_mixed.json",
        json.dumps({"events": [event("e1"), 5, "x", None]}).encode(), 1, {"malformed": 3},
    ),
}  # fmt: skip

# Reference feeds: the customers file carries formulas, HTML and a traversal id as data.
CUSTOMERS = [
    {"customer_id": "cus_1", "name": "Acme", "currency": "USD", "country": "US",
     "created_at": "2026-01-01T00:00:00Z"},
    {"customer_id": "cus_formula", "name": '=HYPERLINK("http://evil.example","x")',
     "email": "+cmd|' /C calc'!A0", "currency": "USD", "created_at": "2026-01-01T00:00:00Z"},
    {"customer_id": "cus_html", "name": "<b>bold</b><img src=x onerror=alert(1)>",
     "currency": "USD", "created_at": "2026-01-01T00:00:00Z"},
    {"customer_id": "../../etc/passwd", "name": "Traversal", "currency": "USD",
     "created_at": "2026-01-01T00:00:00Z"},
]  # fmt: skip
REFERENCE_CASES: dict[str, tuple[str, bytes, str, int, dict[str, int]]] = {
    # name -> (file, bytes, feed, accepted, {reason: rows})
    "a binary file as CSV": (
        "grants/garbage.csv", bytes(range(256)) * 64, "grants", 0, None,
    ),
    "a CSV with the wrong header": (
        "purchases/wrong_header.csv", b"a,b,c\n1,2,3\n4,5,6\n", "purchases", 0,
        {"missing_field": 2},
    ),
    "Parquet that is not Parquet": (
        "subscriptions/garbage.parquet", b"not parquet", "subscriptions", 0,
        {"unreadable_file": 1},
    ),
}  # fmt: skip

HOSTILE_CATALOG_ID = "hostile_sql"
HOSTILE_EVENT_TYPE = "x'; drop table raw.events; --"
VALIDATED = {
    "grants": "int_grants_feed_validated",
    "purchases": "int_purchases_validated",
    "subscriptions": "int_subscriptions_validated",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    files = {path: data for path, data, _, _ in CASES.values()}
    files |= {path: data for path, data, _, _, _ in REFERENCE_CASES.values()}
    landing = write_landing(root / "landing", customers=CUSTOMERS, files=files)
    # SQL in catalog values: an aggregator id and a filter value that would break a spliced
    # query. The catalog reaches dbt as rows, so they are only data.
    catalog = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    catalog["aggregators"].append(
        {"id": HOSTILE_CATALOG_ID, "event_type": HOSTILE_EVENT_TYPE, "operation": "count",
         "filters": {"model": "'; delete from raw.customers; --"}}
    )  # fmt: skip
    catalog_path = root / "catalog.yml"
    catalog_path.write_text(yaml.safe_dump(catalog), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CREDITS_MAX_INFLATED_BYTES", str(INFLATE_LIMIT))
        mp.setenv("CREDITS_MAX_LINE_BYTES", str(LINE_LIMIT))
        return build_warehouse(root / "build", landing, catalog_path, as_of=AS_OF)


def _verdicts(warehouse: Path, feed: str, source_file: str) -> tuple[int, int, dict[str, int]]:
    """(rows landed, rows accepted, {reason: rows quarantined}) of one landing file."""
    table = f"raw.{feed}"
    landed = query(warehouse, f"select count(*) from {table} where source_file = ?", [source_file])[  # noqa: S608 - the test's own names
        0
    ][0]
    reasons = dict(
        query(
            warehouse,
            "select reason, count(*) from marts.fct_event_quarantine"
            " where feed = ? and source_file = ? group by reason",
            [feed, source_file],
        )
    )
    model = VALIDATED.get(feed, "int_events_validated")
    accepted = query(
        warehouse,
        f"select count(*) from intermediate.{model}"  # noqa: S608 - the test's own names
        " where source_file = ? and quarantine_reason is null",
        [source_file],
    )[0][0]
    return landed, accepted, reasons


@pytest.mark.parametrize("name", list(CASES))
def test_each_hostile_event_file_is_quarantined_or_refused(built, name):
    path, _, accepted, reasons = CASES[name]
    landed, got_accepted, got_reasons = _verdicts(built, "events", path)
    assert landed == got_accepted + sum(got_reasons.values()), "rows in = accepted + quarantined"
    assert (got_accepted, got_reasons) == (accepted, reasons)


@pytest.mark.parametrize("name", list(REFERENCE_CASES))
def test_each_hostile_reference_file_is_quarantined_or_refused(built, name):
    path, _, feed, accepted, reasons = REFERENCE_CASES[name]
    landed, got_accepted, got_reasons = _verdicts(built, feed, path)
    assert landed == got_accepted + sum(got_reasons.values())
    assert landed >= 1
    if reasons is not None:
        assert (got_accepted, got_reasons) == (accepted, reasons)


def test_refused_files_say_why_in_one_line(built):
    refused = dict(
        query(
            built,
            "select source_file, refused_reason from raw.loaded_files"
            " where refused_reason is not null",
        )
    )
    expected = {
        path for path, _, _, reasons in CASES.values() if reasons.get("unreadable_file")
    } | {
        path for path, _, _, _, reasons in REFERENCE_CASES.values()
        if reasons and reasons.get("unreadable_file")
    }  # fmt: skip
    assert expected <= set(refused)
    assert all(why and "\n" not in why for why in refused.values())
    assert "inflates past 1,048,576 bytes" in refused["events/bomb.jsonl.gz"]
    assert "not a gzip file" in refused["events/fake.jsonl.gz"]
    assert "broken gzip" in refused["events/truncated.jsonl.gz"]
    assert "longer than" in refused["events/long_line.jsonl"]


def test_hostile_values_stay_data(built):
    # The catalog's SQL-looking values are rows, the raw tables are intact, and the
    # customers' formulas, HTML and traversal ids are kept as given.
    assert query(
        built, "select event_type from staging.stg_catalog__aggregators where aggregator_id = ?",
        [HOSTILE_CATALOG_ID],
    ) == [(HOSTILE_EVENT_TYPE,)]  # fmt: skip
    assert query(built, "select count(*) from raw.customers")[0][0] == len(CUSTOMERS)
    names = dict(query(built, "select customer_id, customer_name from marts.dim_customers"))
    assert names["cus_formula"].startswith("=HYPERLINK(")
    assert names["cus_html"].startswith("<b>bold</b>")
    assert "../../etc/passwd" in names
    ids = {r[0] for r in query(built, "select event_id from marts.fct_rated_events")}
    assert {"<script>alert(1)</script>", "../../etc/passwd", "'; drop table raw.events; --"} <= ids


def test_every_row_is_accounted_for(built):
    # Across all feeds and files: nothing lost, nothing counted twice.
    [(landed,)] = query(built, "select count(*) from raw.events")
    [(accepted,)] = query(
        built, "select count(*) from intermediate.int_events_validated where quarantine_reason is null"
    )  # fmt: skip
    [(quarantined,)] = query(
        built, "select count(*) from marts.fct_event_quarantine where feed = 'events'"
    )
    assert landed == accepted + quarantined
    assert landed == sum(_verdicts(built, "events", path)[0] for path, _, _, _ in CASES.values())
    assert len(CASES) + len(REFERENCE_CASES) + 2 >= 30  # + SQL in the catalog, customers


def test_an_id_that_could_break_sql_is_refused_by_the_catalog(tmp_path):
    catalog = yaml.safe_load(CATALOG_PATH.read_text(encoding="utf-8"))
    catalog["aggregators"][0]["id"] = "x'); drop table raw.events; --"
    path = tmp_path / "catalog.yml"
    path.write_text(yaml.safe_dump(catalog), encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        load_catalog(path)
    message = str(refused.value)
    assert "\n" not in message and "aggregators" in message
