"""Benchmarks of whole commands, timed as processes (wall time and peak memory).

    make bench                         # 1M events, 100 customers, 3 months
    .venv/bin/python bench/run.py --events 10000000 --customers 10000 --months 12
    .venv/bin/python bench/run.py --scoped-promos ...   # a quarter of customers scoped

Each figure is one run of a fresh process measured with GNU time (`/usr/bin/time -v`),
so it includes Python, Dagster and dbt start-up, as a user would see it. In one bench run:

- `credits generate` writes the history, by default the `--months` before this month, so
  that it ends before today, as a user's does;
- the bare aggregate: DuckDB alone, `group by customer, day` over the same event files
  (JSON lines and Parquet), in a fresh process: the yardstick for the full run;
- `credits run` over the whole history (the full run), then again with nothing new;
- `credits close` of the month before the last, which closes every earlier month at once,
  then `credits close` of the last month alone: a month's close for every customer, the
  figure finance sees each month (its PDFs' rendering time is read from its output);
- one day of new events (`--day-events`, on the first day after the history) loaded on
  top of that closed history, and the same day on a warehouse with the same customers and
  no event history; the latter is also a full run of a tiny volume, so its ratio to the
  bare aggregate shows how much of the full run's budget the fixed costs take;
- a `credits run --full-refresh` after the day: the marts must equal the incremental ones
  (load-batch columns aside), checked here too.

Results are appended to bench/results.md as one table.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from credits_warehouse.periods import add_months, month_start

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).with_name("results.md")
MODELS = ("nova-fast", "nova-pro", "nova-ultra")


def timed(
    cmd: list[str], stderr: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one process run (its stderr into `stderr`), with
    `env` added to this process's environment. The disk's dirty pages are written out
    first, so that a command is not charged for the writes of the one before it (a close
    follows a close that wrote 3 GB and 2,470 PDFs)."""
    os.sync()
    time.sleep(2)
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if stderr is not None:
        stderr.append(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:2])} failed:\n{proc.stderr[-2000:]}")
    wall_pattern = r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)"
    wall = re.search(wall_pattern, proc.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return seconds, rss_kb / 1024


BARE_AGGREGATE = """
import sys, duckdb
landing = sys.argv[1]
con = duckdb.connect()
jsonl = con.sql(
    "select customer_id, cast(try_cast(timestamp as timestamptz) as date) as day, "
    "sum(try_cast(json_extract_string(properties, '$.tokens') as bigint)) as tokens "
    "from read_json(?, format='newline_delimited', ignore_errors=true, "
    "columns={customer_id: 'varchar', timestamp: 'varchar', properties: 'json'}) group by all",
    params=[landing + '/events/**/*.jsonl*'],
)
parquet = con.sql(
    "select customer_id, cast(try_cast(timestamp as timestamptz) as date) as day, count(*) as n "
    "from read_parquet(?, union_by_name=true) group by all",
    params=[landing + '/events/**/*.parquet'],
)
print(len(jsonl.fetchall()) + len(parquet.fetchall()))
"""


def day_events(path: Path, day: dt.date, events: int, customers: list[str], seed: int) -> None:
    """One day of plain usage events for the generated customers, as JSON lines."""
    rng = random.Random(seed)
    start = dt.datetime.combine(day, dt.time())
    lines = []
    for i in range(events):
        at = start + dt.timedelta(seconds=rng.randrange(86_400), microseconds=i % 1000)
        lines.append(
            json.dumps(
                {
                    "event_id": f"day-{day:%Y%m%d}-{i:07d}",
                    "customer_id": rng.choice(customers),
                    "event_type": "llm_token_usage",
                    "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "properties": {
                        "model": rng.choice(MODELS),
                        "tokens": rng.randrange(100, 5000),
                        "user_id": f"u{rng.randrange(20)}",
                    },
                },
                separators=(",", ":"),
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def marts_checksums(warehouse: Path) -> dict[str, tuple[int, int]]:
    """A checksum of every mart's and report's rows, load-batch columns left out."""
    from credits_warehouse.warehouse import table_checksums

    return table_checksums(warehouse, skip=frozenset({"load_batch_id"}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--day-events", type=int, default=20_000)
    parser.add_argument(
        "--start",
        type=dt.date.fromisoformat,
        help="the history's first day, a month's first (default: the months before this one, "
        "so that the history ends before today, as a user's does)",
    )
    parser.add_argument(
        "--no-close",
        dest="close",
        action="store_false",
        help="skip the close of the history (it writes a statement per customer and month)",
    )
    parser.add_argument(
        "--scoped-promos",
        dest="scoped_promos",
        action="store_true",
        help="generate with `--scoped-promos`: a quarter of the customers get a promotion for "
        "one aggregator only (contract §8.1), so their segments split by eligibility class",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="credits-bench-"))
    credits = str(BIN / "credits")
    start = args.start or add_months(month_start(dt.datetime.now(dt.UTC)), -args.months).date()
    end = add_months(dt.datetime.combine(start, dt.time()), args.months).date()
    last_period = f"{end - dt.timedelta(days=1):%Y-%m}"

    def flags(where: str, as_of: dt.datetime) -> list[str]:
        base = root / where
        return [
            "--landing", str(base / "landing"), "--catalog", str(root / "gen" / "catalog.yml"),
            "--warehouse", str(base / "warehouse.duckdb"), "--reports", str(base / "reports"),
            "--as-of", as_of.isoformat(timespec="seconds"),
        ]  # fmt: skip

    rows: list[tuple[str, float, float]] = []

    def measure(name: str, cmd: list[str], stderr: list[str] | None = None) -> float:
        wall, rss = timed(cmd, stderr)
        rows.append((name, wall, rss))
        print(f"  {name}: {wall:.1f} s, {rss:,.0f} MiB", flush=True)
        return wall

    gen = [credits, "generate", "--out", str(root / "gen"), "--events", str(args.events),
           "--customers", str(args.customers), "--months", str(args.months),
           "--start", start.isoformat()]  # fmt: skip
    if args.scoped_promos:
        gen.append("--scoped-promos")
    measure("credits generate", gen)
    history = root / "history"
    history.mkdir()
    (history / "landing").symlink_to(root / "gen" / "landing")

    clock = dt.datetime.combine(end, dt.time())
    bare = measure(
        "bare DuckDB aggregate of the same files",
        [sys.executable, "-c", BARE_AGGREGATE, str(root / "gen" / "landing")],
    )
    full = measure("credits run, the whole history", [credits, "run", *flags("history", clock)])
    nothing = measure("credits run, nothing new", [credits, "run", *flags("history", clock)])
    close, statements, documents, rendering = 0.0, 0, 0, 0.0
    if args.close:
        earlier = f"{end - dt.timedelta(days=32):%Y-%m}" if args.months > 1 else None
        if earlier:
            measure(
                f"credits close {earlier} (every earlier month at once)",
                [credits, "close", earlier, *flags("history", clock)],
            )
        reports = root / "history" / "reports"
        before = set(reports.rglob("statements/*.pdf"))
        said: list[str] = []
        close = measure(
            f"credits close {last_period} (one month)",
            [credits, "close", last_period, *flags("history", clock)],
            said,
        )
        statements = len(set(reports.rglob("statements/*.pdf")) - before)
        written = re.search(r"documents: (\d+) written in ([\d.]+)s", said[0])
        documents, rendering = int(written.group(1)), float(written.group(2))

    # One day after the history, on top of it, and on a warehouse with no event history.
    day_clock = clock + dt.timedelta(days=1)
    day_file = root / "day" / f"events-{end:%Y-%m-%d}.jsonl"
    with (root / "gen" / "landing" / "customers.csv").open() as fh:
        customer_ids = sorted({row["customer_id"] for row in csv.DictReader(fh)})
    day_events(day_file, end, args.day_events, customer_ids, seed=1)
    (root / "gen" / "landing" / "events" / "day").mkdir()
    shutil.copy2(day_file, root / "gen" / "landing" / "events" / "day" / day_file.name)
    on_history = measure(
        f"credits run, {args.day_events:,} events of one day on the closed history",
        [credits, "run", *flags("history", day_clock)],
    )
    empty = root / "empty" / "landing"
    (empty / "events").mkdir(parents=True)
    for feed in (root / "gen" / "landing").iterdir():
        if feed.is_file():
            shutil.copy2(feed, empty / feed.name)
    shutil.copy2(day_file, empty / "events" / day_file.name)
    on_empty = measure(
        "credits run, the same day with no event history",
        [credits, "run", *flags("empty", day_clock)],
    )
    incremental = marts_checksums(root / "history" / "warehouse.duckdb")
    shutil.copy2(root / "history" / "warehouse.duckdb", root / "refresh.duckdb")
    refresh_flags = flags("history", day_clock)
    refresh_flags[refresh_flags.index("--warehouse") + 1] = str(root / "refresh.duckdb")
    measure(
        "credits run --full-refresh after the day",
        [credits, "run", "--full-refresh", *refresh_flags],
    )
    same = incremental == marts_checksums(root / "refresh.duckdb")
    size = (root / "history" / "warehouse.duckdb").stat().st_size / 2**20
    if not args.keep:
        shutil.rmtree(root)

    peak = max(rss for _, _, rss in rows)
    header = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {args.events:,} events, "
        f"{args.customers:,} customers, {args.months} months from {start:%Y-%m}"
        f"{', scoped promotions for a quarter of them' if args.scoped_promos else ''}\n\n"
        f"{platform.machine()}, {platform.python_version()}, warehouse {size:,.0f} MiB. "
        "`bench/run.py`; each row one fresh process under `/usr/bin/time -v`, after `sync`.\n\n"
        "| command | wall s | peak MiB |\n|---|---:|---:|\n"
    )
    table = "".join(f"| {name} | {wall:.1f} | {rss:,.0f} |\n" for name, wall, rss in rows)
    summary = (
        "\n| figure | value |\n|---|---:|\n"
        f"| full run ÷ bare aggregate | {full / bare:.1f}× |\n"
        f"| the same day with no history (a full run of {args.day_events:,} events: what any "
        f"full run costs before its volume) ÷ bare aggregate | {on_empty / bare:.1f}× |\n"
        f"| day on the {'closed ' if statements else ''}history ÷ day with no history | {on_history / on_empty:.2f}× |\n"
        f"| nothing new | {nothing:.1f} s |\n"
        + (
            f"| close of one month: statements written (PDFs with invoices and credit notes) | {statements:,} ({documents:,}) |\n"
            f"| close of one month: seconds per statement, all in | {close / statements:.3f} |\n"
            f"| close of one month: rendering the PDFs / everything else | {rendering:.1f} s / {close - rendering:.1f} s |\n"
            if statements
            else "| close | not measured (--no-close): the history stays open |\n"
        )
        + f"| peak RSS of any command | {peak:,.0f} MiB |\n"
        f"| marts after the day: incremental = full refresh (load-batch columns aside) | {'yes' if same else 'NO'} |\n"
    )
    print(header + table + summary)
    with RESULTS.open("a") as fh:
        fh.write(header + table + summary)
    if not same:
        sys.exit("bench: incremental marts differ from a full refresh")


if __name__ == "__main__":
    main()
