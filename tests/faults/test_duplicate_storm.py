"""A duplicate storm: the same data, with exact copies of 30% of its rows, shuffled across
many files (some gzipped) and three load batches, builds the same marts and reports as the
data loaded once, and every copy is quarantined.

A small generated landing directory (every format, its own ~1% duplicates, conflicting
duplicates and dirty rows) is built clean. The storm takes every event row the clean build
landed (its raw payload, whatever file format it came in), adds an exact copy of a seeded
random 30% of them, shuffles the lot and writes it as JSON lines over 30 files, every third
one gzipped, loaded in three batches at increasing `ingested_at` before the clock. The
reference feeds land in the first batch as generated, and the rows of a random half of each
feed's keys are repeated, in their order, in a second file of the last batch.

What the design promises (README "Landing layout", the int_*_validated models):
- Dedup runs over the rows that pass every other check, in the order rows are seen, and the
  first seen wins. So the shuffle keeps, for each dedup key, a row of the clean build's
  winner first (one swap where it did not): a conflicting version seen first would win, as
  designed, and change the marts. Every other row goes where the shuffle put it.
- An event copy is quarantined as `duplicate` when its original was accepted or an exact
  duplicate; a copy of a conflicting duplicate is `conflicting_duplicate` again; a copy of a
  row that failed a check (malformed, bad_timestamp, ...) fails the same check, since checks
  come before dedup.
- customers, subscriptions, purchases, grants and auto_topups keep the latest version of each
  key, so repeated rows change nothing and are not quarantined (a repeated row that failed a
  check fails it again); voids and refunds quarantine a repeat as `duplicate`.
"""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import random
import shutil
from pathlib import Path

import pytest
from helpers import build_warehouse, query

from credits_warehouse.sample_data.generate import generate
from credits_warehouse.warehouse import table_checksums

pytestmark = pytest.mark.faults

AS_OF = "2026-03-01T00:00:00"
SEED = 20260301
COPY_SHARE = 0.30
FILES = 30
BATCH_AT = ("2026-02-28T01:00:00", "2026-02-28T02:00:00", "2026-02-28T03:00:00")
DEDUP_REASONS = ("duplicate", "conflicting_duplicate")
QUARANTINE = "marts.fct_event_quarantine"
# The amendments' audit trail lists every landed row, copies included (verdict `duplicate`),
# with the file and line it came from: compared below on what the rows say.
AMENDMENTS = "marts.fct_grant_amendments"

# Each reference feed's validation model, the columns that name one of its rows, and
# whether a repeat is a new version of the row (False: quarantined as a duplicate).
REFERENCE = {
    "customers": ("int_customers_validated", "customer_id", True),
    "subscriptions": ("int_subscriptions_validated", "customer_id, plan_id, started_at", True),
    "purchases": ("int_purchases_validated", "purchase_id", True),
    "grants": ("int_grants_feed_validated", "grant_id", True),
    "auto_topups": ("int_auto_topups_validated", "customer_id, enabled_from", True),
    "voids": ("int_voids_validated", "event_id", False),
    "refunds": ("int_refunds_validated", "purchase_id", False),
    "grant_amendments": ("int_grant_amendments_validated", "amendment_id", False),
}


def _event_rows(warehouse: Path) -> list[tuple[str, str | None, str]]:
    """(raw payload, clean verdict, dedup key) of every landed event row, in seen order."""
    return query(
        warehouse,
        "select raw.raw_payload, v.quarantine_reason, v.dedup_key"
        " from raw.events as raw join intermediate.int_events_validated as v"
        " on raw.source_file = v.source_file and raw.line_number = v.line_number"
        " order by v.batch_seq, v.source_file, v.line_number",
    )


def _storm_order(rows: list[tuple], rng: random.Random) -> tuple[list[int], list[int]]:
    """Indexes into `rows`: the copied ones, and the shuffled storm (each row once, each
    copied row twice), with each dedup key's first participant one of the clean winner's."""
    copied = sorted(rng.sample(range(len(rows)), round(COPY_SHARE * len(rows))))
    order = list(range(len(rows))) + copied
    rng.shuffle(order)
    winners = {key: i for i, (_, reason, key) in enumerate(rows) if reason is None}
    first_seen: dict[str, int] = {}
    for position, i in enumerate(order):
        _, reason, key = rows[i]
        if (reason is None or reason in DEDUP_REASONS) and key not in first_seen:
            first_seen[key] = position
    for key, position in first_seen.items():
        if rows[order[position]][1] == "conflicting_duplicate":
            other = order.index(winners[key])  # later: the first participant was not it
            order[position], order[other] = order[other], order[position]
    return copied, order


def _write_storm_events(landings: list[Path], payloads: list[str], rng: random.Random) -> None:
    """The payloads in order as FILES JSON-lines files of random sizes, every third gzipped,
    a third of the files in each landing directory; names sort in the order written."""
    cuts = sorted(rng.sample(range(1, len(payloads)), FILES - 1))
    bounds = list(zip([0, *cuts], [*cuts, len(payloads)], strict=True))
    for k, (lo, hi) in enumerate(bounds):
        data = ("\n".join(payloads[lo:hi]) + "\n").encode("utf-8")
        name = f"events/storm/part-{k:03d}.jsonl"
        if k % 3 == 2:
            name, data = name + ".gz", gzip.compress(data, mtime=0)
        path = landings[k * len(landings) // FILES] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _repeated_reference_rows(clean: Path, rng: random.Random) -> dict[str, list[tuple]]:
    """Per feed: (raw payload, clean verdict) of every row of a random half of its keys (at
    least one), in the order the clean build saw them."""
    repeated = {}
    for feed, (model, key, _) in REFERENCE.items():
        rows = query(
            clean,
            f"select raw_payload, quarantine_reason, cast(row({key}) as varchar)"  # noqa: S608 - the test's own names
            f" from intermediate.{model} order by batch_seq, source_file, line_number",
        )
        keys = sorted({k for _, _, k in rows})
        chosen = set(rng.sample(keys, max(1, len(keys) // 2)))
        repeated[feed] = [(payload, reason) for payload, reason, k in rows if k in chosen]
    return repeated


@pytest.fixture(scope="module")
def storm(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("storm")
    generated = generate(
        root / "generated", customers=8, events=4_000, start=dt.date(2026, 1, 1), months=2,
        seed=11,
    )  # fmt: skip
    clean = build_warehouse(root / "clean", generated.landing, generated.catalog, as_of=AS_OF)

    rng = random.Random(SEED)
    rows = _event_rows(clean)
    assert all(p and p.strip() and "\n" not in p and "\r" not in p for p, _, _ in rows), (
        "every payload fits on a JSON line as it is"
    )
    copied, order = _storm_order(rows, rng)
    landings = [root / f"landing-{b}" for b in range(len(BATCH_AT))]
    landings[0].mkdir()
    for path in generated.landing.iterdir():  # the reference feeds, as generated
        if path.is_file():
            shutil.copy2(path, landings[0] / path.name)
    _write_storm_events(landings, [rows[i][0] for i in order], rng)
    repeated = _repeated_reference_rows(clean, rng)
    for feed, feed_rows in repeated.items():
        path = landings[-1] / feed / "repeated.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(p + "\n" for p, _ in feed_rows), encoding="utf-8")

    stormed = build_warehouse(
        root / "storm", landings[0], generated.catalog, as_of=AS_OF, ingested_at=BATCH_AT[0],
        later_loads=list(zip(landings[1:], BATCH_AT[1:], strict=True)),
    )  # fmt: skip
    return {
        "clean": clean,
        "storm": stormed,
        "rows": rows,
        "copied": copied,
        "order": order,
        "repeated": repeated,
    }


def _quarantine(warehouse: Path) -> collections.Counter:
    return collections.Counter(
        query(warehouse, f"select feed, raw_payload, reason from {QUARANTINE}")  # noqa: S608
    )


def _amendments_but_copies(warehouse: Path) -> collections.Counter:
    """The audit trail's rows but the copies, without where each row was read from."""
    return collections.Counter(
        query(
            warehouse,
            f"select * exclude (source_file, line_number, ingested_at, load_batch_id) "  # noqa: S608
            f"from {AMENDMENTS} where verdict <> 'duplicate'",
        )
    )


def _copy_reason(reason: str | None) -> str:
    """The verdict on an exact copy of an event row that the clean build judged `reason`."""
    if reason is None or reason == "duplicate":
        return "duplicate"
    return reason  # conflicting_duplicate again, or the check it failed


def test_the_storm_is_a_storm(storm):
    rows, copied, order = storm["rows"], storm["copied"], storm["order"]
    assert len(rows) == query(storm["clean"], "select count(*) from raw.events")[0][0] > 4_000
    assert len(copied) == round(0.3 * len(rows))
    assert sorted(order) == sorted([*range(len(rows)), *copied])
    batches = query(storm["storm"], "select count(*) from raw.load_batches")[0][0]
    files = query(
        storm["storm"],
        "select count(*), count(*) filter (where source_file like '%.gz')"
        " from raw.loaded_files where feed = 'events'",
    )[0]
    assert batches == 3 and files == (FILES, FILES // 3)
    # The copies are scattered, not next to their originals: most land in another file.
    position = {}
    for at, i in enumerate(order):
        position.setdefault(i, []).append(at * FILES // len(order))
    apart = sum(1 for i in copied if position[i][0] != position[i][1])
    assert apart > 0.8 * len(copied)
    assert query(storm["storm"], "select count(*) from raw.events")[0][0] == len(order)


def test_every_mart_and_report_equals_the_clean_build(storm):
    clean = table_checksums(storm["clean"])
    stormed = table_checksums(storm["storm"])
    assert set(stormed) == set(clean)
    differing = sorted(
        t for t in clean if clean[t] != stormed[t] and t not in (QUARANTINE, AMENDMENTS)
    )
    assert differing == []
    assert _amendments_but_copies(storm["storm"]) == _amendments_but_copies(storm["clean"])
    assert query(storm["storm"], "select count(*) from marts.fct_rated_events")[0][0] > 3_000


def test_the_quarantine_holds_exactly_the_added_copies(storm):
    added = collections.Counter(
        ("events", storm["rows"][i][0], _copy_reason(storm["rows"][i][1])) for i in storm["copied"]
    )
    for feed, feed_rows in storm["repeated"].items():
        versioned = REFERENCE[feed][2]
        for payload, reason in feed_rows:
            if reason is not None and reason != "duplicate":
                added[(feed, payload, reason)] += 1  # fails the same check again
            elif not versioned:
                added[(feed, payload, "duplicate")] += 1
    clean, stormed = _quarantine(storm["clean"]), _quarantine(storm["storm"])
    assert stormed - clean == added and clean - stormed == collections.Counter()

    # The counts, by reason: nearly all the copies are plain duplicates.
    by_reason = collections.Counter()
    for (feed, _, reason), n in added.items():
        by_reason[(feed, reason)] += n
    duplicates = sum(1 for i in storm["copied"] if storm["rows"][i][1] in (None, "duplicate"))
    assert by_reason[("events", "duplicate")] == duplicates > 1_000
    assert sum(by_reason.values()) == sum(stormed.values()) - sum(clean.values())
    assert by_reason[("voids", "duplicate")] >= 1


def test_every_storm_row_is_accounted_for(storm):
    warehouse = storm["storm"]
    [(landed, accepted)] = query(
        warehouse,
        "select count(*), count(*) filter (where quarantine_reason is null)"
        " from intermediate.int_events_validated",
    )
    quarantined = query(
        warehouse, "select count(*) from marts.fct_event_quarantine where feed = 'events'"
    )
    assert landed == len(storm["order"]) == accepted + quarantined[0][0]
    clean_accepted = sum(1 for _, reason, _ in storm["rows"] if reason is None)
    assert accepted == clean_accepted
