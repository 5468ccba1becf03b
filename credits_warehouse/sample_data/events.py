"""The usage events of the synthetic landing, written a month at a time.

Valid events are drawn with numpy and formatted with polars (no Python loop per event);
exact and conflicting duplicates and rows that break a rule are planted among them; a share
arrives late, in the next month's folder. The files are JSONL, gzipped JSONL, flat Parquet,
Parquet with JSON-string properties and a Hyperline-style JSON batch. The voids feed is
drawn here too, since a void names a written event.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from credits_warehouse.catalog import Catalog
from credits_warehouse.quarantine import EVENT_REASONS
from credits_warehouse.sample_data.common import (
    DAY,
    EVENT_TYPE,
    NON_BILLABLE_SHARE,
    TOKENS_MEDIAN,
    TOKENS_SIGMA,
    World,
    add_months,
    epoch,
    iso,
    model_mix,
)

OTHER_EVENT_TYPE = "api_request"  # matches no aggregator: accepted, not billable

# Shares of valid events (NON_BILLABLE_SHARE is in common.py).
EXTERNAL_ID_SHARE = 0.10
IDEMPOTENCY_SHARE = 0.20
OFFSET_TS_SHARE = 0.08  # written as +02:00
NAIVE_TS_SHARE = 0.02  # written without an offset (UTC)
LATE_SHARE = 0.005
FLAT_PARQUET_SHARE = 0.15
JSON_PARQUET_SHARE = 0.05
DUPLICATE_SHARE = 0.01
DIRTY_RATE = 2e-5  # per dirty kind per month, at least one of each
JSONL_PART_ROWS = 250_000
API_BATCH_ROWS = 300
GZIP_LEVEL = 3  # 6 is ~15% smaller and twice as slow

WEEKEND_FACTOR = 0.4
HOUR_WEIGHTS = np.array(
    [1.0, 0.8, 0.6, 0.5, 0.5, 0.6, 0.9, 1.5, 2.4, 3.3, 3.8, 4.0]
    + [3.6, 3.8, 4.0, 3.9, 3.5, 3.0, 2.5, 2.2, 2.0, 1.8, 1.5, 1.2]
)
HOUR_P = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()

ENDPOINTS = ("/v1/chat", "/v1/embeddings", "/v1/models", "/v1/files")


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: a bijection on uint64, so distinct inputs give distinct ids."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex16(values: np.ndarray) -> pl.Series:
    """uint64 values as 16 lower-case hex digits, vectorised."""
    values = values.astype(np.uint64)
    nibbles = np.empty((len(values), 16), dtype=np.uint8)
    for i in range(16):
        nibbles[:, i] = (values >> np.uint64(60 - 4 * i)) & np.uint64(15)
    return pl.Series(_HEX[nibbles].view("S16").ravel()).cast(pl.String)


def _prefixed(prefix: str, hexes: pl.Series) -> pl.Series:
    return hexes.to_frame("h").select(pl.concat_str([pl.lit(prefix), pl.col("h")]).alias("h"))["h"]


def _write_lines(path: Path, lines: pl.Series) -> None:
    frame = lines.to_frame("line")
    if path.name.endswith(".gz"):
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, quote_style="never", line_terminator="\n")
        path.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=GZIP_LEVEL, mtime=0))
    else:
        frame.write_csv(path, include_header=False, quote_style="never", line_terminator="\n")


def _write_parquet(path: Path, frame: pl.DataFrame) -> None:
    table = frame.to_arrow()
    schema = pa.schema(
        [
            pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type)
            for f in table.schema
        ]
    )
    pq.write_table(table.cast(schema), path, compression="snappy")


def _format_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `props` (JSON text) and `line` (the JSONL line) to a frame of event columns."""
    llm_props = pl.concat_str(
        [
            pl.lit('{"model": "'),
            pl.col("model"),
            pl.lit('", "tokens": '),
            pl.col("tokens").cast(pl.String),
            pl.lit(', "user_id": "'),
            pl.col("user_id"),
            pl.lit('"}'),
        ]
    )
    other_props = pl.concat_str(
        [
            pl.lit('{"endpoint": "'),
            pl.col("endpoint"),
            pl.lit('", "status_code": 200, "cached": '),
            pl.when(pl.col("tokens") % 3 == 0).then(pl.lit("true")).otherwise(pl.lit("false")),
            pl.lit(', "user_id": "'),
            pl.col("user_id"),
            pl.lit('"}'),
        ]
    )
    props = pl.when(pl.col("event_type") == EVENT_TYPE).then(llm_props).otherwise(other_props)
    idem = (
        pl.when(pl.col("idempotency_key").is_not_null())
        .then(
            pl.concat_str(
                [pl.lit(', "idempotency_key": "'), pl.col("idempotency_key"), pl.lit('"')]
            )
        )
        .otherwise(pl.lit(""))
    )
    frame = frame.with_columns(props.alias("props"))
    return frame.with_columns(
        pl.concat_str(
            [
                pl.lit('{"event_id": "'),
                pl.col("event_id"),
                pl.lit('"'),
                idem,
                pl.lit(', "customer_id": "'),
                pl.col("customer_id"),
                pl.lit('", "event_type": "'),
                pl.col("event_type"),
                pl.lit('", "timestamp": "'),
                pl.col("timestamp"),
                pl.lit('", "properties": '),
                pl.col("props"),
                pl.lit("}"),
            ]
        ).alias("line")
    )


@dataclass
class _Month:
    first: dt.date  # first day of the calendar month
    lo: int  # epoch seconds, inclusive
    hi: int  # exclusive
    day_lo: int  # day indices into the range
    day_hi: int

    @property
    def tag(self) -> str:
        return f"{self.first:%Y-%m}"

    @property
    def folder(self) -> str:
        return f"{self.first:%Y/%m}"


def _months(start: dt.date, end: dt.date) -> list[_Month]:
    out = []
    first = start.replace(day=1)
    while first < end:
        nxt = add_months(first, 1)
        lo, hi = max(first, start), min(nxt, end)
        out.append(_Month(first, epoch(lo), epoch(hi), (lo - start).days, (hi - start).days))
        first = nxt
    return out


def _day_counts(rng: np.random.Generator, start: dt.date, days: int, events: int) -> np.ndarray:
    weekday = (np.arange(days) + start.weekday()) % 7
    weights = np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)
    weights = weights * (1 + 0.02 * np.arange(days) / 30.44)  # slow growth
    weights = weights * rng.gamma(50.0, 1 / 50.0, days)  # day-to-day noise
    return rng.multinomial(events, weights / weights.sum())


# Where a valid event goes (the `dest` column).
_TO_JSONL, _TO_LATE, _TO_FLAT_PARQUET, _TO_JSON_PARQUET, _TO_API = range(5)


@dataclass
class _MonthPlan:
    """One month's drawn rows and where each goes, before anything is written."""

    valid: pl.DataFrame | None  # valid events with dest, part and seq; None without events
    extra: pl.DataFrame  # copies and dirty rows: line, part, pos, seq
    parts: int  # JSONL parts
    late: int  # valid events routed to the next month's folder
    non_billable: int
    duplicates: int
    conflicting_duplicates: int
    dirty: list[str]  # the reason of each dirty row

    @property
    def n(self) -> int:
        return 0 if self.valid is None else self.valid.height


def _copy_lines(
    frame: pl.DataFrame,
    dup_src: np.ndarray,
    conf_src: np.ndarray,
    copies: list[tuple[np.ndarray, np.ndarray]],
) -> list[pl.DataFrame]:
    """Lines of the exact copies and of the conflicting ones (other tokens), each with the
    part it goes into and its position (the original's time plus a delay)."""
    (dup_part, dup_delay), (conf_part, conf_delay) = copies
    conf_frame = _format_events(
        frame[conf_src].with_columns((pl.col("tokens") * 2 + 1).alias("tokens"))
    )
    return [
        pl.DataFrame(
            {
                "line": frame["line"].gather(dup_src),
                "part": dup_part,
                "pos": frame["ts"].gather(dup_src).to_numpy() + dup_delay,
            }
        ),
        pl.DataFrame(
            {
                "line": conf_frame["line"],
                "part": conf_part,
                "pos": conf_frame["ts"].to_numpy() + conf_delay,
            }
        ),
    ]


def _numbered(extra: list[pl.DataFrame], n: int) -> pl.DataFrame:
    """The extra lines in one frame, their `seq` numbered on after the n valid events."""
    frame = pl.concat(
        [e.with_columns(pl.col("part").cast(pl.Int64), pl.col("pos").cast(pl.Int64)) for e in extra]
    )
    return frame.with_columns((pl.int_range(pl.len()) + n).alias("seq"))


def _write_jsonl_parts(
    folder: Path, month: _Month, parts: int, valid: pl.DataFrame | None, extra: pl.DataFrame
) -> list[Path]:
    """Write the month's JSONL parts, gzipped and plain in turn, lines in (pos, seq) order."""
    written = []
    for j in range(parts):
        suffix = "jsonl.gz" if j % 2 == 0 else "jsonl"
        path = folder / f"events-{month.tag}-part-{j + 1:03d}.{suffix}"
        pieces = [extra.filter(pl.col("part") == j).select("line", "pos", "seq")]
        if valid is not None:
            pieces.insert(
                0,
                valid.filter((pl.col("dest") == _TO_JSONL) & (pl.col("part") == j)).select(
                    "line", pl.col("ts").alias("pos"), "seq"
                ),
            )
        lines = pl.concat(pieces).sort("pos", "seq")["line"]
        _write_lines(path, lines)
        written.append(path)
    return written


def _write_flat_parquet(folder: Path, month: _Month, parts: int, valid: pl.DataFrame) -> Path:
    """Write the events routed to flat Parquet, a column per property, after the JSONL parts."""
    path = folder / f"events-{month.tag}-part-{parts + 1:03d}.parquet"
    _write_parquet(
        path,
        valid.filter(pl.col("dest") == _TO_FLAT_PARQUET).select(
            "event_id",
            "idempotency_key",
            "customer_id",
            "event_type",
            "timestamp",
            "model",
            "tokens",
            "user_id",
        ),
    )
    return path


def _write_json_parquet(folder: Path, month: _Month, parts: int, valid: pl.DataFrame) -> Path:
    """Write the events routed to Parquet with `properties` as JSON text."""
    path = folder / f"events-{month.tag}-part-{parts + 2:03d}.parquet"
    _write_parquet(
        path,
        valid.filter(pl.col("dest") == _TO_JSON_PARQUET).select(
            "event_id",
            "idempotency_key",
            "customer_id",
            "event_type",
            "timestamp",
            pl.col("props").alias("properties"),
        ),
    )
    return path


def _write_api_batch(api_dir: Path, valid: pl.DataFrame) -> Path:
    """Write the events routed to the API batch as a Hyperline-style {"events": [...]}."""
    api = valid.filter(pl.col("dest") == _TO_API)["line"].to_list()
    api_dir.mkdir(parents=True, exist_ok=True)
    path = api_dir / "batch-0001.json"
    body = ",\n".join("    " + line for line in api)
    path.write_text('{"events": [\n' + body + "\n]}\n", encoding="utf-8")
    return path


def _write_late(next_folder: Path, month: _Month, valid: pl.DataFrame) -> Path:
    """Write the month's late events into the next month's folder."""
    next_folder.mkdir(parents=True, exist_ok=True)
    path = next_folder / f"late-from-{month.tag}.jsonl"
    _write_lines(path, valid.filter(pl.col("dest") == _TO_LATE)["line"])
    return path


class EventWriter:
    def __init__(
        self,
        rng: np.random.Generator,
        world: World,
        catalog: Catalog,
        landing: Path,
        events: int,
        progress: Callable[[str], None] | None,
    ):
        self.rng = rng
        self.world = world
        self.landing = landing
        self.events_total = events
        self.progress = progress
        self.models, self.model_p = model_mix(catalog)
        keys = rng.integers(0, 2**63, 2, dtype=np.int64).astype(np.uint64)
        self.event_key, self.idem_key = keys[0], keys[1]
        self.counter = 0
        self.cids = pl.Series(world.customer_ids, dtype=pl.String)
        self.exts = pl.Series(world.external_ids, dtype=pl.String)
        existing_w = world.weight[world.existing]
        self.existing_p = existing_w / existing_w.sum()
        self.files: list[Path] = []
        # Every event reason is planted at least once (credits_warehouse/quarantine.py).
        self.quarantine = dict.fromkeys(EVENT_REASONS, 0)
        self.valid = 0
        self.non_billable = 0
        self.late = 0
        self.void_candidates: list[tuple[str, int]] = []
        self.variant: dict[str, int] = {}

    # -- valid events -----------------------------------------------------------------------

    def _valid(self, month: _Month, counts: np.ndarray) -> pl.DataFrame:
        rng, world = self.rng, self.world
        n = int(counts.sum())
        day_starts = world.start + np.arange(month.day_lo, month.day_hi, dtype=np.int64) * DAY
        ts = np.repeat(day_starts, counts)
        ts += rng.choice(24, n, p=HOUR_P).astype(np.int64) * 3600
        ts += rng.integers(0, 3600, n)
        ts = np.clip(ts, month.lo, month.hi - 1)
        ts.sort()
        cust = rng.choice(len(world.customer_ids), n, p=world.weight)
        inactive = np.flatnonzero(ts < world.active_from[cust])
        if len(inactive):
            cust[inactive] = world.existing[
                rng.choice(len(world.existing), len(inactive), p=self.existing_p)
            ]
        other = rng.random(n) < NON_BILLABLE_SHARE
        model = rng.choice(len(self.models), n, p=self.model_p)
        tokens = rng.lognormal(math.log(TOKENS_MEDIAN), TOKENS_SIGMA, n)
        tokens = np.maximum(1, np.rint(tokens)).astype(np.int64)
        user = (rng.random(n) ** 2 * world.users[cust]).astype(np.int64) + 1
        external = rng.random(n) < EXTERNAL_ID_SHARE
        form = rng.choice(
            3, n, p=[1 - OFFSET_TS_SHARE - NAIVE_TS_SHARE, OFFSET_TS_SHARE, NAIVE_TS_SHARE]
        )
        has_idem = rng.random(n) < IDEMPOTENCY_SHARE
        endpoint = rng.integers(0, len(ENDPOINTS), n)
        counters = np.arange(self.counter, self.counter + n, dtype=np.uint64)
        self.counter += n

        shifted = ts + np.where(form == 1, 7200, 0)
        base = pl.from_epoch(pl.Series(shifted), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
        suffix = pl.Series(["Z", "+02:00", ""]).gather(form)
        event_ids = _prefixed("evt_", _hex16(_mix64(counters ^ self.event_key)))
        idem = _prefixed("req_", _hex16(_mix64(counters ^ self.idem_key)))
        frame = pl.DataFrame(
            {
                "ts": ts,
                "cust": cust,
                "event_id": event_ids,
                "idempotency_key": idem,
                "has_idem": has_idem,
                "external": external,
                "event_type": pl.Series([EVENT_TYPE, OTHER_EVENT_TYPE]).gather(other.view(np.int8)),
                "base": base,
                "suffix": suffix,
                "model": pl.Series(self.models, dtype=pl.String).gather(model),
                "tokens": tokens,
                "user_id": user,
                "endpoint": pl.Series(ENDPOINTS).gather(endpoint),
            }
        )
        frame = frame.with_columns(
            pl.when(pl.col("has_idem")).then(pl.col("idempotency_key")).alias("idempotency_key"),
            pl.when(pl.col("external"))
            .then(self.exts.gather(cust))
            .otherwise(self.cids.gather(cust))
            .alias("customer_id"),
            pl.concat_str([pl.col("base"), pl.col("suffix")]).alias("timestamp"),
            pl.concat_str([pl.lit("u_"), pl.col("user_id").cast(pl.String)]).alias("user_id"),
            pl.when(pl.col("event_type") == EVENT_TYPE).then(pl.col("model")).alias("model"),
        ).drop("base", "suffix", "has_idem", "external")
        return _format_events(frame)

    # -- dirty rows -------------------------------------------------------------------------

    def _dirty(self, month: _Month, n: int, last: bool) -> list[tuple[str, str]]:
        """(reason, line) for rows that break a rule; fresh event ids throughout."""
        rng, world = self.rng, self.world
        k = max(1, round(n * DIRTY_RATE))
        kinds = [
            "malformed",
            "missing_field",
            "unknown_customer",
            "bad_timestamp",
            "negative_quantity",
            "non_numeric_quantity",
        ]
        plan = [(kind, j) for kind in kinds for j in range(k)]
        if last:
            plan += [("future_timestamp", 0), ("future_timestamp", 1)]
        counters = np.arange(self.counter, self.counter + len(plan), dtype=np.uint64)
        self.counter += len(plan)
        event_ids = _prefixed("evt_", _hex16(_mix64(counters ^ self.event_key))).to_list()
        rows = []
        for (kind, _), event_id in zip(plan, event_ids, strict=True):
            j = self.variant[kind] = self.variant.get(kind, -1) + 1  # alternate the variants
            c = int(rng.integers(len(world.customer_ids)))
            if world.active_from[c] >= month.hi:
                c = int(world.existing[rng.integers(len(world.existing))])
            at = int(rng.integers(max(month.lo, int(world.active_from[c])), month.hi))
            event = {
                "event_id": event_id,
                "customer_id": world.customer_ids[c],
                "event_type": EVENT_TYPE,
                "timestamp": iso(at),
                "properties": {
                    "model": self.models[int(rng.integers(len(self.models)))],
                    "tokens": int(rng.integers(100, 5000)),
                    "user_id": f"u_{int(rng.integers(1, world.users[c] + 1))}",
                },
            }
            if kind == "malformed":
                text = json.dumps(event)
                line = text[: len(text) // 2] if j % 2 == 0 else "not json"
            else:
                if kind == "missing_field":
                    del event["customer_id" if j % 2 == 0 else "timestamp"]
                elif kind == "unknown_customer":
                    event["customer_id"] = world.unknown_customer
                elif kind == "bad_timestamp":
                    event["timestamp"] = "2026-13-45T99:00:00Z"
                elif kind == "negative_quantity":
                    event["properties"]["tokens"] = -event["properties"]["tokens"]
                elif kind == "non_numeric_quantity":
                    event["properties"]["tokens"] = "lots"
                elif kind == "future_timestamp":
                    event["timestamp"] = iso(world.end + 365 * DAY + int(rng.integers(0, DAY)))
                line = json.dumps(event)
            rows.append((kind, line))
        return rows

    # -- one month ----------------------------------------------------------------------------

    def month(self, index: int, months: list[_Month], counts: np.ndarray, n_voids: int) -> None:
        """Write one month's event files (its late events go into the next month's folder)."""
        month = months[index]
        last = index == len(months) - 1
        events_dir = self.landing / "events"
        folder = events_dir / month.folder
        folder.mkdir(parents=True, exist_ok=True)
        plan = self._draw_month(month, counts, n_voids, first=index == 0, last=last)
        written = _write_jsonl_parts(folder, month, plan.parts, plan.valid, plan.extra)
        if plan.valid is not None:
            written.append(_write_flat_parquet(folder, month, plan.parts, plan.valid))
            if index == 0:
                written.append(_write_json_parquet(folder, month, plan.parts, plan.valid))
                written.append(_write_api_batch(events_dir / "api", plan.valid))
            if not last:
                written.append(
                    _write_late(events_dir / months[index + 1].folder, month, plan.valid)
                )
        self._tally(month, plan, written)

    def _draw_month(
        self, month: _Month, counts: np.ndarray, n_voids: int, first: bool, last: bool
    ) -> _MonthPlan:
        """Draw the month's valid events, where each goes, the copies and dirty rows, and a
        few events for the voids feed to name."""
        # One generator makes every draw: calling these in another order changes the output.
        rng = self.rng
        n = int(counts.sum())
        frame = self._valid(month, counts) if n else None
        is_llm = (frame["event_type"] == EVENT_TYPE).to_numpy() if n else np.zeros(0, bool)
        dest = self._destinations(n, is_llm, first, last)
        jsonl = np.flatnonzero(dest == _TO_JSONL)
        parts = max(2, math.ceil(len(jsonl) / JSONL_PART_ROWS))
        part = rng.integers(0, parts, n)
        dup_src, conf_src = self._copy_sources(n, jsonl, dest, is_llm)
        copies = [self._copy_placement(src, part, parts) for src in (dup_src, conf_src)]
        dirty = self._dirty(month, n, last)
        extra = [self._placed_dirty(dirty, month, parts)]
        if frame is not None:
            picked = np.concatenate([dup_src, conf_src])
            self._keep_void_candidates(frame, month, dest, picked, n_voids)
            frame = frame.with_columns(
                pl.Series("dest", dest), pl.Series("part", part), pl.int_range(n).alias("seq")
            )
            extra = _copy_lines(frame, dup_src, conf_src, copies) + extra
        return _MonthPlan(
            valid=frame,
            extra=_numbered(extra, n),
            parts=parts,
            late=int(np.count_nonzero(dest == _TO_LATE)),
            non_billable=int((~is_llm).sum()),
            duplicates=len(dup_src),
            conflicting_duplicates=len(conf_src),
            dirty=[reason for reason, _ in dirty],
        )

    def _destinations(self, n: int, is_llm: np.ndarray, first: bool, last: bool) -> np.ndarray:
        """Where each valid event goes (_TO_*): late ones not in the last month, Parquet with
        JSON properties and the API batch only in the first."""
        rng = self.rng
        dest = np.zeros(n, dtype=np.int8)
        draw = rng.random(n)
        if not last:
            dest[draw < LATE_SHARE] = _TO_LATE
        flat_hi = LATE_SHARE + FLAT_PARQUET_SHARE
        dest[(draw >= LATE_SHARE) & (draw < flat_hi) & is_llm] = _TO_FLAT_PARQUET
        if first:
            dest[(draw >= flat_hi) & (draw < flat_hi + JSON_PARQUET_SHARE)] = _TO_JSON_PARQUET
            jsonl = np.flatnonzero(dest == _TO_JSONL)
            k_api = min(API_BATCH_ROWS, len(jsonl) // 20)
            if k_api:
                dest[np.sort(rng.choice(jsonl, k_api, replace=False))] = _TO_API
        return dest

    def _copy_sources(
        self, n: int, jsonl: np.ndarray, dest: np.ndarray, is_llm: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The JSONL lines that get an exact duplicate, and those that get a conflicting one."""
        rng = self.rng
        k_dup = min(len(jsonl), round(DUPLICATE_SHARE * n))
        dup_src = np.sort(rng.choice(jsonl, k_dup, replace=False)).astype(np.int64)
        # Conflicting copies change `tokens`, so their sources are token-usage events.
        candidate = (dest == _TO_JSONL) & is_llm
        candidate[dup_src] = False
        rest = np.flatnonzero(candidate)
        k_conf = min(len(rest), max(1, round(n * DIRTY_RATE)))
        conf_src = np.sort(rng.choice(rest, k_conf, replace=False)).astype(np.int64)
        return dup_src, conf_src

    def _copy_placement(
        self, src: np.ndarray, part: np.ndarray, parts: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(part, delay in seconds) of each copy: always after the original, 70% in its part."""
        rng = self.rng
        same = rng.random(len(src)) < 0.7
        later = part[src] + (rng.random(len(src)) * (parts - part[src])).astype(np.int64)
        return (
            np.where(same, part[src], np.minimum(later, parts - 1)),
            rng.integers(1, 7200, len(src)),
        )

    def _placed_dirty(
        self, dirty: list[tuple[str, str]], month: _Month, parts: int
    ) -> pl.DataFrame:
        """The dirty lines, each in a random part at a random time of the month."""
        rng = self.rng
        return pl.DataFrame(
            {
                "line": [line for _, line in dirty],
                "part": rng.integers(0, parts, len(dirty)),
                "pos": rng.integers(month.lo, month.hi, len(dirty)),
            },
            schema={"line": pl.String, "part": pl.Int64, "pos": pl.Int64},
        )

    def _keep_void_candidates(
        self, frame: pl.DataFrame, month: _Month, dest: np.ndarray, picked: np.ndarray, n_voids: int
    ) -> None:
        """Keep a few events the voids feed may name: valid, not late, not the source of a
        copy, and not on the month's last day if that leaves any."""
        ok = dest != _TO_LATE
        ok[picked] = False
        pool = np.flatnonzero(ok & (frame["ts"].to_numpy() < month.hi - DAY))
        if len(pool) == 0:
            pool = np.flatnonzero(ok)
        n = len(dest)
        take = min(len(pool), math.ceil(n_voids * n / max(1, self.events_total)) + 2)
        chosen = np.sort(self.rng.choice(pool, take, replace=False)).astype(np.int64)
        sub = frame[chosen]
        self.void_candidates += list(zip(sub["event_id"], sub["ts"], strict=True))

    def _tally(self, month: _Month, plan: _MonthPlan, written: list[Path]) -> None:
        """Add the month to the totals and report it."""
        self.valid += plan.n
        self.late += plan.late
        self.non_billable += plan.non_billable
        self.quarantine["duplicate"] += plan.duplicates
        self.quarantine["conflicting_duplicate"] += plan.conflicting_duplicates
        for reason in plan.dirty:
            self.quarantine[reason] += 1
        self.files += written
        if self.progress:
            self.progress(
                f"events {month.tag}: {plan.n:,} valid, {plan.duplicates:,} duplicates, "
                f"{len(plan.dirty) + plan.conflicting_duplicates:,} dirty, {len(written)} files"
            )

    def voids(self, n_voids: int) -> list[list[object]]:
        rng, end = self.rng, self.world.end
        if not self.void_candidates or n_voids <= 0:
            return []
        chosen = rng.choice(
            len(self.void_candidates), min(n_voids, len(self.void_candidates)), replace=False
        )
        rows = []
        reasons = ("customer dispute", "test traffic", "duplicate submission", "billing error")
        for k in np.sort(chosen):
            event_id, at = self.void_candidates[int(k)]
            room = max(2, min(10 * DAY, end - 1 - at))
            voided = min(end - 1, at + int(rng.integers(1, room)))
            if voided <= at:
                voided = at + 1
            rows.append([event_id, iso(voided), reasons[int(rng.integers(len(reasons)))]])
        rows.sort(key=lambda r: (r[1], r[0]))
        return rows


def write_events(
    rng: np.random.Generator,
    world: World,
    catalog: Catalog,
    landing: Path,
    start: dt.date,
    end: dt.date,
    events: int,
    progress: Callable[[str], None] | None,
) -> tuple[EventWriter, list[list[object]]]:
    """Write the event files month by month; return the writer, which holds what it wrote
    and counted, and the rows of the voids feed (voids name written events)."""
    periods = _months(start, end)
    counts = _day_counts(rng, start, (end - start).days, events)
    writer = EventWriter(rng, world, catalog, landing, events, progress)
    n_voids = min(60, max(10, events // 1000), events // 20)
    for index, month in enumerate(periods):
        writer.month(index, periods, counts[month.day_lo : month.day_hi], n_voids)
    return writer, writer.voids(n_voids)
