"""Synthetic landing data for demos, tests and benchmarks (`credits generate`, contract §2 and §7).

`generate` writes a landing directory shaped like contract §2: reference feeds as CSV at the
landing root and usage events under `events/` in every accepted format (JSONL, gzipped JSONL,
a Hyperline-style JSON envelope, flat Parquet and Parquet with JSON-string properties). The
data is deliberately dirty so that every quarantine reason of contract §2.1 occurs, and a share
of each month's events arrives late, in the next month's folder.

Output is a pure function of the arguments: the same arguments give byte-identical files.
Randomness comes from `numpy.random.default_rng` seeded from `seed`; the wall clock is never
read. Events are generated and formatted a month at a time with numpy and polars (no Python
loop per event), so ten million events fit in bounded memory.

This module checks the arguments, writes the reference feeds and sums up. The drawing is
elsewhere: reference.py (reference feeds and the world the events are drawn from),
events.py (event files and the voids feed), names.py (company names and addresses) and
common.py (what those share).

Layout (relative to `out_dir`):

    catalog.yml                                     copy of the catalog
    landing/customers.csv, subscriptions.csv, purchases.csv, grants.csv,
            auto_topups.csv, voids.csv, refunds.csv, grant_amendments.csv
    landing/customers.jsonl                         later versions of a few customers that set
                                                    the optional `low_balance_threshold`, and
                                                    one invalid (negative) threshold
    landing/events/YYYY/MM/events-YYYY-MM-part-NNN.jsonl.gz   odd parts
    landing/events/YYYY/MM/events-YYYY-MM-part-NNN.jsonl      even parts
    landing/events/YYYY/MM/events-YYYY-MM-part-NNN.parquet    flat form, one per month;
                                                              in the first month one more
                                                              with `properties` as JSON text
    landing/events/YYYY/MM/late-from-YYYY-MM.jsonl            the previous month's late events
    landing/events/api/batch-0001.json                        {"events": [...]}
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from credits_warehouse.catalog import load_catalog
from credits_warehouse.ingest import FEED_COLUMNS
from credits_warehouse.sample_data.common import add_months, epoch
from credits_warehouse.sample_data.events import EventWriter, write_events
from credits_warehouse.sample_data.reference import (
    CUSTOMER_SETTINGS,
    grant_amendment_rows,
    reference_feeds,
)

DEFAULT_CATALOG = Path(__file__).resolve().parents[2] / "data" / "catalog.yml"

FEEDS = (
    "customers", "subscriptions", "purchases", "grants", "auto_topups", "voids", "refunds",
    "grant_amendments",
)  # fmt: skip


@dataclass(frozen=True)
class GenerateSummary:
    """What `generate` wrote. Event counts are what a correct ingest (contract §2.1) will find."""

    landing: Path
    catalog: Path
    start: dt.date
    end: dt.date  # exclusive
    feeds: dict[str, int]  # rows per reference feed, deliberately broken rows included
    events: int  # valid events: accepted on ingest (late and non-billable included)
    non_billable: int  # valid events of a type no aggregator matches
    late: int  # valid events written into the next month's folder
    duplicates: int  # exact copies of a valid line
    conflicting_duplicates: int  # same event_id as a valid line, different tokens
    malformed: int  # rows that break a rule other than the dedup rules
    quarantine: dict[str, int]  # expected event quarantine count per contract §2.1 reason
    reference_quarantine: dict[str, int]  # deliberately broken rows per reference feed
    files: tuple[str, ...] = field(default=())  # written files, relative to the output dir

    @property
    def event_rows(self) -> int:
        """Every event row written, valid or not."""
        return self.events + sum(self.quarantine.values())


def _write_csv(path: Path, header: Sequence[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])


def _check_arguments(customers: int, events: int, months: int) -> None:
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if events < 0:
        raise ValueError("events must not be negative")
    if months < 1:
        raise ValueError("months must be at least 1")


def _prepare_output(out_dir: Path, source: Path, overwrite: bool) -> tuple[Path, Path]:
    """An empty landing directory and a copy of the catalog next to it; a non-empty landing
    directory is refused unless `overwrite` is set, which deletes it first."""
    landing = out_dir / "landing"
    if landing.exists() and any(landing.iterdir()):
        if not overwrite:
            raise FileExistsError(f"landing directory {landing} is not empty")
        shutil.rmtree(landing)
    landing.mkdir(parents=True, exist_ok=True)
    catalog_out = out_dir / "catalog.yml"
    if source.resolve() != catalog_out.resolve():
        shutil.copyfile(source, catalog_out)
    return landing, catalog_out


def _write_reference_feeds(
    landing: Path, feeds: dict[str, tuple[list[str], list[list[object]]]]
) -> list[Path]:
    """Write each reference feed as CSV, and the later customer versions as JSON lines."""
    files = []
    for name in FEEDS:
        header, rows = feeds[name]
        path = landing / f"{name}.csv"
        _write_csv(path, header, rows)
        files.append(path)
    header, rows = feeds[CUSTOMER_SETTINGS]
    path = landing / CUSTOMER_SETTINGS
    path.write_text(
        "".join(
            json.dumps(dict(zip(header, row, strict=True)), ensure_ascii=False) + "\n"
            for row in rows
        ),
        encoding="utf-8",
    )
    files.append(path)
    return files


def _event_counts(writer: EventWriter) -> dict[str, object]:
    """The writer's event counts, as GenerateSummary fields."""
    quarantine = dict(writer.quarantine)
    return {
        "events": writer.valid,
        "non_billable": writer.non_billable,
        "late": writer.late,
        "duplicates": quarantine["duplicate"],
        "conflicting_duplicates": quarantine["conflicting_duplicate"],
        "malformed": sum(
            v for k, v in quarantine.items() if k not in ("duplicate", "conflicting_duplicate")
        ),
        "quarantine": quarantine,
    }


def generate(
    out_dir: Path,
    *,
    customers: int = 50,
    events: int = 50_000,
    start: dt.date = dt.date(2026, 1, 1),
    months: int = 3,
    seed: int = 7,
    catalog_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    overwrite: bool = False,
    scoped_promos: bool = False,
) -> GenerateSummary:
    """Write a realistic, deliberately dirty landing directory to `out_dir/landing/`.

    The catalog is copied to `out_dir/catalog.yml`. Every valid timestamp falls in
    [start, start + months). The same arguments give byte-identical files. A non-empty
    landing directory is refused unless `overwrite` is set, which deletes it first.
    `scoped_promos` gives a quarter of the customers a launch promotion that applies to one
    aggregator only (contract §8.1): the grants feed then has its applies_to column, and
    every other file is what the same arguments write without it.
    """
    _check_arguments(customers, events, months)
    out_dir = Path(out_dir)
    source = Path(catalog_path) if catalog_path is not None else DEFAULT_CATALOG
    catalog = load_catalog(source)  # before the landing directory is touched
    landing, catalog_out = _prepare_output(out_dir, source, overwrite)

    end = add_months(start, months)
    # Later streams came later, so the earlier ones are what they were before them: the
    # amendments' (always drawn), then the scoped promotions' (only with the option).
    ref_seq, event_seq, amendment_seq, scoped_seq = np.random.SeedSequence(seed).spawn(4)
    ref_rng = np.random.default_rng(ref_seq)
    event_rng = np.random.default_rng(event_seq)
    scoped_rng = np.random.default_rng(scoped_seq) if scoped_promos else None

    world, feeds, reference_quarantine = reference_feeds(
        ref_rng, catalog, customers, start, end, events, scoped_rng
    )
    amendments = grant_amendment_rows(
        np.random.default_rng(amendment_seq), catalog, feeds, epoch(end)
    )
    feeds["grant_amendments"] = (FEED_COLUMNS["grant_amendments"], amendments)
    reference_quarantine["grant_amendments"] = 1  # the amendment naming no grant
    if progress:
        progress(f"reference feeds: {customers:,} customers")
    writer, voids = write_events(event_rng, world, catalog, landing, start, end, events, progress)
    feeds["voids"] = (FEED_COLUMNS["voids"], voids)
    files = [catalog_out, *_write_reference_feeds(landing, feeds), *writer.files]

    summary = GenerateSummary(
        landing=landing,
        catalog=catalog_out,
        start=start,
        end=end,
        feeds={name: len(feeds[name][1]) for name in FEEDS},
        reference_quarantine=reference_quarantine,
        files=tuple(sorted(p.relative_to(out_dir).as_posix() for p in files)),
        **_event_counts(writer),
    )
    if progress:
        progress(
            f"wrote {summary.events:,} events ({summary.duplicates:,} duplicates, "
            f"{summary.malformed + summary.conflicting_duplicates:,} dirty, {summary.late:,} late) "
            f"in {len(summary.files)} files"
        )
    return summary
