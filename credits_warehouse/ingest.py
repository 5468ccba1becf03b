"""Landing files into DuckDB `raw`, each file once, every row kept whole (contract §2).

Every input row, whatever its format, lands as one `raw_payload` JSON text with its
`source_file`, `line_number`, `ingested_at` and load batch. Parsing, validation, dedup and
quarantine happen downstream in dbt, so a row that cannot be parsed is still loaded and can
be quarantined with its file and line. Reading is vectorised (DuckDB readers, or one
`str.split` per block of a JSON-lines file); nothing here loops per event in Python except
the small `{"events": [...]}` envelope files.

Hostile files cannot take the load down. JSON lines are read in blocks of READ_BLOCK_BYTES,
so memory stays bounded at any file size; a gzip file may inflate to at most
CREDITS_MAX_INFLATED_BYTES and a line may be at most CREDITS_MAX_LINE_BYTES long. A file
that cannot be read (a truncated or fake gzip, a bomb past the limit, a Parquet file DuckDB
cannot open) is refused: it lands as one row with no payload, which dbt quarantines as
`unreadable_file`, and `raw.loaded_files.refused_reason` says why. Its other rows are not
loaded, so rows in = accepted + quarantined still holds, and a corrected file (new
content) loads on the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EVENTS = "events"
# The reference feeds and their columns, in order (contract §2.2).
FEED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id", "external_id", "name", "email", "address", "country", "currency",
        "tax_rate", "created_at",
    ),
    "subscriptions": ("customer_id", "plan_id", "started_at", "ended_at"),
    "purchases": (
        "purchase_id", "customer_id", "bundle_id", "quantity", "purchased_at", "amount_paid",
        "currency", "status",
    ),
    "grants": (
        "grant_id", "customer_id", "kind", "credits", "effective_at", "expires_at", "priority",
        "cost_basis_per_credit", "reason", "created_by",
    ),
    "auto_topups": (
        "customer_id", "threshold", "bundle_id", "max_per_period", "enabled_from", "enabled_to",
    ),
    "voids": ("event_id", "voided_at", "reason"),
    "refunds": ("refund_id", "purchase_id", "refunded_at", "reason"),
    "grant_amendments": (
        "amendment_id", "grant_id", "action", "effective_at", "new_expires_at", "reason",
        "created_by",
    ),
}  # fmt: skip
# Columns a feed may carry beyond contract §2.2; a file may leave them out. Ingest keeps every
# column of a row in its payload, so these are read downstream (dbt staging) by name.
# customers.low_balance_threshold: credits >= 0, the customer's own low_balance alert
# threshold in place of the plan's warning_limit (blank = the plan's).
# grants.applies_to: aggregator or credit product ids separated by `|`, the aggregators the
# grant may fund (contract §8.1; blank = every aggregator).
OPTIONAL_FEED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("low_balance_threshold",),
    "grants": ("applies_to",),
}
REFERENCE_FEEDS = tuple(FEED_COLUMNS)
LANDING_TABLES = (EVENTS, *REFERENCE_FEEDS)
EVENT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".parquet")
FEED_SUFFIXES = (".csv", ".jsonl", ".parquet")
# The named fields of an event; in a flat Parquet file every other column is a property.
EVENT_FIELDS = ("event_id", "idempotency_key", "customer_id", "event_type", "timestamp")

# The payload is compressed with zstd, not DuckDB's default (dictionary + FSST): less than
# half the size, which every writing command copies (figures: docs/incremental.md "What
# `raw` keeps").
ROW_COLUMNS = """
    load_batch_id varchar not null,
    batch_seq integer not null,
    source_file varchar not null,
    line_number bigint not null,
    raw_payload varchar using compression zstd,
    ingested_at timestamp not null
"""


# What the monthly close decides, kept beside the inputs so that every rebuild reads it back:
# which periods are closed, and the invoice numbers given at finalization (never reused).
PERIOD_CLOSES_DDL = """
create table if not exists raw.period_closes (
    period varchar primary key,
    closed_at timestamp not null
)
"""
INVOICE_NUMBERS_DDL = """
create table if not exists raw.invoice_numbers (
    invoice_id varchar primary key,
    invoice_number varchar not null unique,
    series varchar not null,
    series_year integer not null,
    series_seq integer not null,
    finalized_at timestamp not null
)
"""
FROZEN_FIGURES_DDL = """
create table if not exists raw.frozen_figures (
    period varchar not null,
    customer_id varchar not null,
    figure varchar not null,
    value decimal(38, 12) not null,
    frozen_at timestamp not null,
    primary key (period, customer_id, figure)
)
"""
ALERTS_SENT_DDL = """
create table if not exists raw.alerts_sent (
    alert_id varchar primary key,
    customer_id varchar not null,
    alert_type varchar not null,
    triggered_at timestamp not null,
    details varchar,
    sent_at timestamp not null
)
"""
# Each document `credits deliver` has sent (credits_warehouse/delivery.py), once: a
# statement (`statement:<period>:<customer_id>`) or an invoice or credit note
# (`<kind>:<invoice_id>`), with the email that carried it (one per customer and period).
DELIVERIES_DDL = """
create table if not exists raw.deliveries (
    document_id varchar primary key,
    document_kind varchar not null,
    period varchar not null,
    customer_id varchar not null,
    attachment_name varchar not null,
    message_id varchar not null,
    recipient varchar not null,
    sent_at timestamp not null
)
"""
# Each dbt build, recorded by credits_warehouse/incremental.py: what it read (a fingerprint of
# the catalog and the models), its clock, and where its ledger resumed and checkpointed.
BUILD_STATE_DDL = """
create table if not exists raw.build_state (
    build_seq integer primary key,
    fingerprint varchar not null,
    as_of timestamp not null,
    full_refresh boolean not null,
    resume_from timestamp,
    checkpoint_at timestamp,
    last_batch_seq integer
)
"""
CONTROL_DDL = (
    PERIOD_CLOSES_DDL, INVOICE_NUMBERS_DDL, FROZEN_FIGURES_DDL, ALERTS_SENT_DDL, DELIVERIES_DDL,
    BUILD_STATE_DDL,
)  # fmt: skip


class LandingError(RuntimeError):
    """A landing directory that cannot be read at all (missing, not a directory)."""


class RefusedFile(Exception):
    """A landing file that cannot be read as its kind; the message says why, in one line."""


READ_BLOCK_BYTES = 64 << 20  # JSON lines are split in blocks of this many bytes
READ_AHEAD_TABLES = 6  # tables read ahead of the load (ReadAhead)
ROW_GROUP_ROWS = 122_880  # DuckDB's row group
INSERT_ROW_GROUPS = 2  # row groups per insert (RawAppender)
DEFAULT_MAX_INFLATED_BYTES = 64 << 30  # what a .gz may inflate to: 64 GiB
DEFAULT_MAX_LINE_BYTES = 64 << 20  # one landing row: 64 MiB
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"


def byte_limit(variable: str, default: int) -> int:
    """A size limit from the environment (bytes, a positive integer), else the default."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise LandingError(f"{variable} must be a positive number of bytes, not {text!r}")
    return int(text)


@dataclass
class LoadSummary:
    load_batch_id: str
    batch_seq: int
    ingested_at: dt.datetime
    files_loaded: int = 0
    files_skipped: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (source_file, why)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source_file: str  # posix path relative to the landing directory
    feed: str


def classify(relative: Path) -> str | None:
    """Which raw table a landing file feeds, from its path; None for files we do not read.

    `events/**` holds usage events. A reference feed is `<feed>.<ext>` at the root or any
    file under a folder named after the feed (`customers/2026-01.csv`).
    """
    name = relative.name
    if relative.parts[0] == EVENTS and len(relative.parts) > 1:
        return EVENTS if name.endswith(EVENT_SUFFIXES) else None
    if not name.endswith(FEED_SUFFIXES):
        return None
    feed = relative.parts[0] if len(relative.parts) > 1 else name.split(".", 1)[0]
    return feed if feed in REFERENCE_FEEDS else None


def discover(landing: Path) -> tuple[list[LandingFile], list[str]]:
    """Landing files in load order (path order), and the relative paths that were ignored."""
    if not landing.is_dir():
        raise LandingError(f"landing directory {landing} does not exist")
    found, ignored = [], []
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        relative = path.relative_to(landing)
        if any(part.startswith(".") for part in relative.parts):
            continue
        feed = classify(relative)
        if feed is None:
            ignored.append(relative.as_posix())
        else:
            found.append(LandingFile(path, relative.as_posix(), feed))
    return found, ignored


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute(
        """
        create table if not exists raw.load_batches (
            load_batch_id varchar primary key,
            batch_seq integer not null,
            ingested_at timestamp not null,
            landing_dir varchar not null,
            files_loaded integer not null,
            rows_loaded bigint not null
        )
        """
    )
    con.execute(
        """
        create table if not exists raw.loaded_files (
            source_file varchar not null,
            content_sha256 varchar not null,
            feed varchar not null,
            load_batch_id varchar not null,
            rows_loaded bigint not null,
            primary key (source_file, content_sha256)
        )
        """
    )
    for table in LANDING_TABLES:
        con.execute(f"create table if not exists raw.{table} ({ROW_COLUMNS})")
    for ddl in CONTROL_DDL:
        con.execute(ddl)
    # Warehouses whose builds were recorded before the last load batch was.
    con.execute("alter table raw.build_state add column if not exists last_batch_seq integer")
    # Each loaded file's size and modification time, so a later run knows an unchanged file
    # without reading it again (pending_files); null for files loaded before they were kept.
    con.execute("alter table raw.loaded_files add column if not exists size_bytes bigint")
    con.execute("alter table raw.loaded_files add column if not exists mtime_ns bigint")
    # Why a file was refused (RefusedFile), null for a file that loaded.
    con.execute("alter table raw.loaded_files add column if not exists refused_reason varchar")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lines_table(text: str, first_line: int = 1, max_line: int | None = None) -> pa.Table:
    """One row per non-blank line, numbered from `first_line`, split by Arrow: no Python
    string per line (a block of 234k lines took 0.47 s through `str.split`, 0.06 s so). A
    line ending in CR (CRLF files) keeps it: JSON allows trailing whitespace. A line longer
    than `max_line` bytes refuses the file."""
    lines = pc.split_pattern(pa.array([text], type=pa.large_string()), "\n").values
    if max_line is not None and len(lines):
        longest = pc.max(pc.binary_length(lines)).as_py()
        if longest > max_line:
            raise RefusedFile(f"a line is longer than {max_line:,} bytes")
    numbers = pa.array(np.arange(first_line, first_line + len(lines), dtype=np.int64))
    keep = pc.not_equal(pc.utf8_trim_whitespace(lines), "")
    return pa.table({"line_number": numbers, "raw_payload": lines}).filter(keep)


def _open_bytes(path: Path):
    """The file's bytes as a stream: inflated when it is a .gz, refused when it only says so."""
    if not path.name.endswith(".gz"):
        return path.open("rb")
    with path.open("rb") as head:
        if head.read(2) != GZIP_MAGIC:
            raise RefusedFile("not a gzip file, although its name ends in .gz")
    return gzip.open(path, "rb")


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes in blocks of READ_BLOCK_BYTES, inflated, without a leading BOM; a
    broken or truncated gzip, or one that inflates past the limit, is refused."""
    limit = (
        byte_limit("CREDITS_MAX_INFLATED_BYTES", DEFAULT_MAX_INFLATED_BYTES)
        if path.name.endswith(".gz")
        else None  # a plain file is as big as it is on disk
    )
    inflated = 0
    try:
        with _open_bytes(path) as stream:
            while block := stream.read(READ_BLOCK_BYTES):
                if inflated == 0 and block.startswith(UTF8_BOM):
                    block = block[len(UTF8_BOM) :]
                inflated += len(block)
                if limit is not None and inflated > limit:
                    raise RefusedFile(f"inflates past {limit:,} bytes (CREDITS_MAX_INFLATED_BYTES)")
                yield block
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise RefusedFile(f"broken gzip stream ({err or 'it ends early'})") from None


def _line_tables(path: Path) -> Iterator[pa.Table]:
    """The file's non-blank lines, a table per block, numbered across blocks: memory stays
    at about two blocks whatever the file's size. A line past the limit is refused."""
    max_line = byte_limit("CREDITS_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES)
    carry, next_line = b"", 1
    for block in _blocks(path):
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
        else:
            whole, carry = data[:cut], data[cut + 1 :]
            yield _lines_table(whole.decode("utf-8", errors="replace"), next_line, max_line)
            next_line += whole.count(b"\n") + 1
        if len(carry) > max_line:
            raise RefusedFile(f"line {next_line} is longer than {max_line:,} bytes")
    if carry:
        yield _lines_table(carry.decode("utf-8", errors="replace"), next_line, max_line)


def _read_text(path: Path) -> str:
    return b"".join(_blocks(path)).decode("utf-8", errors="replace")


def _envelope_table(path: Path) -> pa.Table:
    """A `{"events": [...]}` file: element i is line i+1; an unreadable file is one row."""
    text = _read_text(path)
    try:
        events = json.loads(text)["events"]
        if not isinstance(events, list):
            raise TypeError
    except (ValueError, KeyError, TypeError, RecursionError):
        return pa.table({"line_number": [1], "raw_payload": [text]})
    payloads = [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in events]
    return pa.table({"line_number": list(range(1, len(payloads) + 1)), "raw_payload": payloads})


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parquet_event_sql(con: duckdb.DuckDBPyConnection, path: Path) -> str:
    """A select turning a Parquet file of events (flat, or with `properties`) into payloads.

    Column names come from the file, not the catalog; they are quoted, never trusted.
    """
    columns = dict(
        con.execute(
            "select column_name, column_type from (describe select * from read_parquet(?))",
            [str(path)],
        ).fetchall()
    )
    names = list(columns)
    named = [n for n in EVENT_FIELDS if n in names]
    pairs = [f"{_quote_literal(n)}, {_quote_ident(n)}" for n in named]
    if "properties" in names:
        kind = columns["properties"]
        # A properties string that is not JSON keeps the row loadable: it is quarantined later.
        props = (
            "case when json_valid(properties) then json(properties) else to_json(properties) end"
            if kind.upper() == "VARCHAR"
            else "to_json(properties)"
        )
    else:
        rest = [n for n in names if n not in EVENT_FIELDS]
        props = (
            "json_object("
            + ", ".join(f"{_quote_literal(n)}, {_quote_ident(n)}" for n in rest)
            + ")"
            if rest
            else "json_object()"
        )
    payload = "json_object(" + ", ".join([*pairs, f"'properties', {props}"]) + ")"
    return (
        f"select file_row_number + 1 as line_number, {payload}::varchar as raw_payload "  # noqa: S608
        "from read_parquet(?, file_row_number = true)"
    )


def _feed_rows_sql(path: Path) -> str:
    """A select turning a CSV or Parquet reference feed into one JSON payload per row."""
    if path.name.endswith(".csv"):
        # Line 1 is the header; DuckDB keeps file order for a single-threaded CSV scan.
        return (
            "select (row_number() over () + 1)::bigint as line_number, to_json(t)::varchar as raw_payload "
            "from read_csv(?, all_varchar = true, header = true, parallel = false) as t"
        )
    # The row number DuckDB adds is not part of the row: keep it out of the payload.
    return (
        "select f.file_row_number + 1 as line_number, to_json(t)::varchar as raw_payload "
        "from read_parquet(?, file_row_number = true) as f, "
        "lateral (select f.* exclude (file_row_number)) as t"
    )


# The columns of a landing row as read, before the load adds its batch and clock.
ROWS_SCHEMA = pa.schema(
    [
        ("source_file", pa.dictionary(pa.int32(), pa.string())),
        ("line_number", pa.int64()),
        ("raw_payload", pa.large_string()),
    ]
)


# What a refused file lands as: one row, line 1, no payload.
REFUSED_ROW = pa.table(
    {"line_number": pa.array([1], pa.int64()), "raw_payload": pa.array([None], pa.large_string())}
)


class RawAppender:
    """Landing rows into `raw`, a few whole row groups per insert.

    An insert per block of a file left a partly filled row group behind each insert: at 10M
    events the commit wrote them through the write-ahead log (1.6 GB, 4 s) and the
    checkpoint after it merged them (3 s), 7 s of a 28 s load. So rows wait here, per table, and go
    in INSERT_ROW_GROUPS row groups at a time, a whole number of them, which DuckDB writes
    straight to the file; `flush` inserts what is left. Rows go in as read, in file and line
    order: DuckDB keeps the insertion order of a scan (preserve_insertion_order). The rows
    are an Arrow table DuckDB finds by its variable's name, not `con.register`: a view
    registered inside the load's transaction keeps its table alive until the commit, and
    100M events then held every file's text in memory at once (bench/results.md).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, batch: LoadSummary) -> None:
        self._con = con
        self._batch = batch
        self._waiting: dict[str, list[tuple[str, pa.Table]]] = {}  # feed -> (file, rows)

    def add(self, item: LandingFile, rows: pa.Table) -> None:
        """`rows` (line_number, raw_payload) of `item`, inserted with the next whole groups."""
        files = pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(rows.num_rows, dtype=np.int32)), pa.array([item.source_file])
        )
        columns = [
            files,
            rows["line_number"].cast(pa.int64()),
            rows["raw_payload"].cast(pa.large_string()),
        ]
        table = pa.table(columns, schema=ROWS_SCHEMA)
        waiting = self._waiting.setdefault(item.feed, [])
        waiting.append((item.source_file, table))
        count = sum(t.num_rows for _, t in waiting)
        if count >= INSERT_ROW_GROUPS * ROW_GROUP_ROWS:
            self._insert(item.feed, count - count % ROW_GROUP_ROWS)

    def discard(self, item: LandingFile) -> None:
        """Every row of `item` added so far, waiting or inserted: the file is refused."""
        waiting = self._waiting.get(item.feed, [])
        waiting[:] = [(name, t) for name, t in waiting if name != item.source_file]
        self._con.execute(
            f"delete from raw.{item.feed} where load_batch_id = ? and source_file = ?",  # noqa: S608 - LANDING_TABLES
            [self._batch.load_batch_id, item.source_file],
        ).fetchall()

    def flush(self) -> None:
        """Insert every waiting row."""
        for feed, waiting in self._waiting.items():
            self._insert(feed, sum(t.num_rows for _, t in waiting))

    def _insert(self, feed: str, count: int) -> None:
        """Insert the first `count` waiting rows of `feed`; the rest wait on."""
        waiting = self._waiting[feed]
        taken, kept, left = [], [], count
        for name, table in waiting:
            if left >= table.num_rows:
                taken.append(table)
            elif left > 0:
                taken.append(table.slice(0, left))
                kept.append((name, table.slice(left)))
            else:
                kept.append((name, table))
            left -= table.num_rows
        waiting[:] = kept
        if not taken:
            return
        # A record batch per row group: DuckDB inserts the batches in parallel, each a whole
        # row group.
        rows = pa.concat_tables(taken).combine_chunks()
        landing_rows = pa.Table.from_batches(rows.to_batches(max_chunksize=ROW_GROUP_ROWS))  # noqa: F841
        self._con.execute(
            f"""
            insert into raw.{feed}
            select ?, ?, source_file, line_number, raw_payload, ? from landing_rows
            """,  # noqa: S608 - table names come from LANDING_TABLES, never from input
            [self._batch.load_batch_id, self._batch.batch_seq, self._batch.ingested_at],
        ).fetchall()


def _load_file(
    appender: RawAppender, batch: LoadSummary, item: LandingFile, tables: Iterator[pa.Table]
) -> tuple[int, str | None]:
    """Add one file's rows, read as `tables`: how many, and why the file was refused or None.
    A file that cannot be read lands as one refused row instead, and `batch.refused` says why.
    Only reading refuses a file: an insert that fails fails the load, whose transaction then
    loses nothing."""
    rows = 0
    while True:
        try:
            table = next(tables, None)
        except (RefusedFile, duckdb.Error, OSError) as err:
            why = str(err).splitlines()[0] if str(err) else type(err).__name__
            if not isinstance(err, RefusedFile):
                why = f"unreadable as {item.path.suffix.lstrip('.') or 'its kind'}: {why}"
            # Rows of the file read before the error go: the file is refused as a whole.
            appender.discard(item)
            batch.refused.append((item.source_file, why))
            appender.add(item, REFUSED_ROW)
            return 1, why
        if table is None:
            return rows, None
        appender.add(item, table)
        rows += table.num_rows


def _row_tables(reader: duckdb.DuckDBPyConnection, item: LandingFile) -> Iterator[pa.Table]:
    """A file's rows as tables of (line_number, raw_payload), in line order."""
    name = item.path.name
    if name.endswith((".jsonl", ".jsonl.gz")):
        yield from _line_tables(item.path)
    elif name.endswith(".json"):
        yield _envelope_table(item.path)
    else:
        yield from _read_with_duckdb(reader, item)


def _read_with_duckdb(reader: duckdb.DuckDBPyConnection, item: LandingFile) -> Iterator[pa.Table]:
    """A Parquet or CSV file's rows as payloads, streamed in record batches. Read on a
    cursor of the reader's own, not the load's connection: a file DuckDB cannot read fails
    there, not in the load's transaction, which an error would abort."""
    if item.feed == EVENTS:
        select_sql = _parquet_event_sql(reader, item.path)
    else:
        select_sql = _feed_rows_sql(item.path)
    for record_batch in reader.sql(select_sql, params=[str(item.path)]).to_arrow_reader():
        yield pa.Table.from_batches([record_batch])


class ReadAhead:
    """The files' row tables read on a thread of their own, in load order, at most
    READ_AHEAD_TABLES ahead of the load, which inserts the earlier ones meanwhile.

    Reading (inflating, splitting lines, DuckDB's Parquet and CSV readers) and inserting
    took about 13 and 10 s of a 10M-event load one after the other; both let go of the GIL,
    so on two cores they overlap. `tables()` gives the next file's tables as `_row_tables`
    would, raising that file's read error where it came, so a refused file is refused as
    before; the load takes each file's to their end (or its error) before the next file's.
    Memory grows by at most READ_AHEAD_TABLES tables (a block of READ_BLOCK_BYTES each).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, files: list[LandingFile]) -> None:
        self._files = files
        self._queue: queue.Queue = queue.Queue(maxsize=READ_AHEAD_TABLES)
        self._stop = threading.Event()
        # One cursor, used by the reading thread alone.
        self._reader = con.cursor()
        self._thread = threading.Thread(target=self._read, name="landing-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, message: tuple) -> bool:
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(message, timeout=0.1)
                return True
        return False

    def _read(self) -> None:
        for item in self._files:
            try:
                for table in _row_tables(self._reader, item):
                    if not self._put((table, None)):
                        return
            except Exception as err:  # the file's error, raised to the load in its place
                if not self._put((None, err)):
                    return
            else:
                if not self._put((None, None)):  # the file's end
                    return

    def tables(self) -> Iterator[pa.Table]:
        """The next file's tables, in load order."""
        while True:
            table, err = self._queue.get()
            if err is not None:
                raise err
            if table is None:
                return
            yield table

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._reader.close()


def next_batch(con: duckdb.DuckDBPyConnection, ingested_at: dt.datetime) -> LoadSummary:
    seq = con.execute("select coalesce(max(batch_seq), 0) + 1 from raw.load_batches").fetchall()[0][
        0
    ]
    batch_id = f"{ingested_at:%Y%m%dT%H%M%S}-{seq:06d}"
    return LoadSummary(load_batch_id=batch_id, batch_seq=seq, ingested_at=ingested_at)


def pending_files(
    con: duckdb.DuckDBPyConnection, files: list[LandingFile]
) -> Iterator[tuple[LandingFile, str, os.stat_result]]:
    """Files whose (path, content hash) was never loaded, with their hash and stat.

    A file whose path, size and modification time (to the nanosecond) are those of a loaded
    file is that file: it is not read again, as make and rsync judge files. Without this,
    every command read the whole landing again to hash it (1.1 GB at 10M events, 11 GB at
    100M). Any write to a file moves its mtime, so a changed file is still read and hashed.
    """
    columns = {c[0] for c in con.execute("select * from raw.loaded_files limit 0").description}
    stat_columns = "size_bytes, mtime_ns" if "mtime_ns" in columns else "null, null"
    rows = con.execute(
        f"select source_file, content_sha256, {stat_columns} from raw.loaded_files"  # noqa: S608
    ).fetchall()
    loaded = {(source, digest) for source, digest, _, _ in rows}
    known = {
        (source, size, mtime): digest for source, digest, size, mtime in rows if size is not None
    }

    def digest_and_stat(item: LandingFile) -> tuple[str, os.stat_result]:
        stat = item.path.stat()
        digest = known.get((item.source_file, stat.st_size, stat.st_mtime_ns))
        return digest or sha256_file(item.path), stat

    # A file per core: hashlib lets go of the GIL while it hashes.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for item, (digest, stat) in zip(files, pool.map(digest_and_stat, files), strict=True):
            if (item.source_file, digest) not in loaded:
                yield item, digest, stat


def load_landing(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    ingested_at: dt.datetime,
    progress: Callable[[int, int, str], None] | None = None,
) -> LoadSummary:
    """Load every new landing file into `raw` as one batch, inside one transaction."""
    files, ignored = discover(landing)
    ensure_raw_schema(con)
    # A clock before the last load or close would back-date rows and rebuild closed periods.
    last_seen = con.execute(
        "select max(instant) from (select max(ingested_at) as instant from raw.load_batches"
        " union all select max(closed_at) from raw.period_closes)"
    ).fetchall()[0][0]
    if last_seen is not None and ingested_at < last_seen:
        raise LandingError(
            f"the clock {ingested_at.isoformat()} is before the last load or close at "
            f"{last_seen.isoformat()}; a run cannot go back in time"
        )
    con.execute("begin transaction")
    try:
        batch = next_batch(con, ingested_at)
        batch.ignored = ignored
        new_files = list(pending_files(con, files))
        batch.files_skipped = len(files) - len(new_files)
        appender = RawAppender(con, batch)
        with ReadAhead(con, [item for item, _, _ in new_files]) as ahead:
            for i, (item, digest, stat) in enumerate(new_files, start=1):
                if progress:
                    progress(i, len(new_files), item.source_file)
                rows, refused = _load_file(appender, batch, item, ahead.tables())
                batch.rows[item.feed] = batch.rows.get(item.feed, 0) + rows
                batch.files_loaded += 1
                con.execute(
                    "insert into raw.loaded_files (source_file, content_sha256, feed, load_batch_id,"
                    " rows_loaded, size_bytes, mtime_ns, refused_reason)"
                    " values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [item.source_file, digest, item.feed, batch.load_batch_id, rows,
                     stat.st_size, stat.st_mtime_ns, refused],
                ).fetchall()  # fmt: skip
        appender.flush()
        if batch.files_loaded:
            con.execute(
                "insert into raw.load_batches values (?, ?, ?, ?, ?, ?)",
                [
                    batch.load_batch_id,
                    batch.batch_seq,
                    ingested_at,
                    str(landing),
                    batch.files_loaded,
                    batch.total_rows,
                ],
            ).fetchall()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return batch
