"""The least a full run of this stack could cost: the yardstick of the 10× goal, measured.

    .venv/bin/python bench/floor.py                      # generates 10M events, 400 customers
    .venv/bin/python bench/floor.py --landing DIR        # a `credits generate` landing

`credits run` writes the events into the warehouse and rates them; the bare aggregate
(bench/run.py's yardstick) reads the files once and writes nothing. Between the two lies
work no design can skip, and this script times it alone, in fresh processes on the same
files, after `sync`:

- the bare aggregate, as bench/run.py runs it;
- the floor: DuckDB alone, the events read once into a typed table of a DuckDB file (the
  JSON parsed and the timestamp cast once), then one rated table written from it (a join
  to the rates by model). No raw text, no validation, dedup, ledger, marts or checks, no
  Python, Dagster or dbt: a lower bound on the event path of any design, not a design.

A full run on a tiny volume (bench/run.py's "same day with no history") adds what any full
run pays before its volume: start-up, dbt's start and nodes, the checks. The floor plus
that fixed cost, against 10× the bare aggregate, says how much room the goal leaves.

Results are appended to bench/results.md as one table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from run import BARE_AGGREGATE, BIN, RESULTS, timed

FLOOR = """
import sys, time, duckdb
landing, database, figures = sys.argv[1:4]
con = duckdb.connect(database)
con.execute("set threads = 2; set TimeZone = 'UTC'; set enable_progress_bar = false")
started = time.monotonic()
con.execute(
    "create table events as "
    "select event_id, customer_id, event_type, "
    "try_cast(timestamp as timestamptz) at time zone 'UTC' as event_at, "
    "properties ->> 'model' as model, try_cast(properties ->> 'tokens' as bigint) as tokens "
    "from read_json(?, format = 'newline_delimited', ignore_errors = true, columns = {"
    "event_id: 'varchar', customer_id: 'varchar', event_type: 'varchar', "
    "timestamp: 'varchar', properties: 'json'}) "
    "union all "
    "select event_id, customer_id, event_type, "
    "try_cast(timestamp as timestamptz) at time zone 'UTC', model, tokens "
    "from read_parquet(?, union_by_name = true)",
    [landing + "/events/**/*.jsonl*", landing + "/events/**/*.parquet"],
)
con.execute("checkpoint")
loaded = time.monotonic()
con.execute(
    "create table rated as "
    "select events.*, cast(events.tokens * rates.credits_per_unit as decimal(38, 12)) as credits "
    "from events inner join (values ('nova-fast', 0.001), ('nova-pro', 0.004), "
    "('nova-ultra', 0.015)) as rates (model, credits_per_unit) on events.model = rates.model"
)
con.execute("checkpoint")
rated = time.monotonic()
rows = con.execute("select count(*) from events").fetchone()[0]
open(figures, "w").write(f"{rows} {loaded - started:.2f} {rated - loaded:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--landing", type=Path, help="a landing directory (default: generate)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--months", type=int, default=3)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="credits-floor-"))
    landing = args.landing
    if landing is None:
        subprocess.run(
            [str(BIN / "credits"), "generate", "--out", str(root / "gen"),
             "--events", str(args.events), "--customers", str(args.customers),
             "--months", str(args.months), "--start", "2026-01-01"],
            check=True, capture_output=True,
        )  # fmt: skip
        landing = root / "gen" / "landing"
    if not (landing / "events").is_dir():
        sys.exit(f"bench: {landing} has no events/ folder (a `credits generate` landing)")

    bare, bare_rss = timed([sys.executable, "-c", BARE_AGGREGATE, str(landing)])
    figures = root / "floor.txt"
    floor, floor_rss = timed(
        [sys.executable, "-c", FLOOR, str(landing), str(root / "floor.duckdb"), str(figures)]
    )
    rows, load, rate = figures.read_text().split()
    shutil.rmtree(root)

    header = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — the floor of a full run, "
        f"{int(rows):,} events\n\n"
        f"{platform.machine()}, {platform.python_version()}. `bench/floor.py`; each row one "
        "fresh process under `/usr/bin/time -v`, after `sync`.\n\n"
        "| command | wall s | peak MiB | ÷ bare aggregate |\n|---|---:|---:|---:|\n"
    )
    table = (
        f"| bare DuckDB aggregate of the files | {bare:.1f} | {bare_rss:,.0f} | 1.0× |\n"
        f"| the floor: typed load ({float(load):.1f} s), then one rated table ({float(rate):.1f} s) "
        f"| {floor:.1f} | {floor_rss:,.0f} | {floor / bare:.1f}× |\n"
    )
    print(header + table)
    with RESULTS.open("a") as fh:
        fh.write(header + table)


if __name__ == "__main__":
    main()
