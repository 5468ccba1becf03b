"""How the full run's time grows with the events: one shape of history at several sizes.

    .venv/bin/python bench/scale.py                                   # 1M and 10M
    .venv/bin/python bench/scale.py --events 1000000 10000000 100000000

Every size is generated with the same customers and months (10,000 and 12 by default), so
only the number of events changes. For each: `credits generate`, the bare DuckDB aggregate
of the same files (bench/run.py's yardstick), then one `credits run` over the whole history
as a fresh process under `/usr/bin/time -v`, after `sync`. The exponent is the slope of
log(wall seconds) against log(events), fitted by least squares over the sizes measured: 1.0
is linear, the goal is at most 1.1. Each size's files are deleted before the next is
generated (100M events take about 11 GB of landing files and 60 GB while they run).

Results are appended to bench/results.md as one table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from run import BARE_AGGREGATE, BIN, RESULTS, timed


def fitted_exponent(points: list[tuple[int, float]]) -> float:
    """The least-squares slope of log(seconds) against log(events)."""
    xs = [math.log(events) for events, _ in points]
    ys = [math.log(seconds) for _, seconds in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--dir", type=Path, default=None, help="where to generate (a temp folder)")
    args = parser.parse_args()
    if len(args.events) < 2:
        parser.error("--events needs at least two sizes to fit an exponent")

    credits = str(BIN / "credits")
    start = dt.date(2026, 1, 1)
    end = dt.date(2026 + args.months // 12, 1 + args.months % 12, 1)
    clock = dt.datetime.combine(end, dt.time()).isoformat(timespec="seconds")
    rows: list[tuple[int, float, float, float, float]] = []  # events, gen, bare, run, rss
    for events in sorted(args.events):
        root = Path(tempfile.mkdtemp(prefix="credits-scale-", dir=args.dir))
        try:
            generate = [credits, "generate", "--out", str(root / "gen"), "--events", str(events),
                        "--customers", str(args.customers), "--months", str(args.months),
                        "--start", start.isoformat()]  # fmt: skip
            gen, _ = timed(generate)
            landing = root / "gen" / "landing"
            bare, _ = timed([sys.executable, "-c", BARE_AGGREGATE, str(landing)])
            command = [credits, "run", "--landing", str(landing),
                       "--catalog", str(root / "gen" / "catalog.yml"),
                       "--warehouse", str(root / "warehouse.duckdb"),
                       "--reports", str(root / "reports"), "--as-of", clock]  # fmt: skip
            run, rss = timed(command)
        except SystemExit:
            # A failed run: dbt's log outlives the generated files, for the post-mortem.
            log = root / "warehouse.duckdb.dbt.log"
            if log.exists():
                kept = RESULTS.with_name(f"scale-failed-{events}.dbt.log")
                shutil.copyfile(log, kept)
                print(f"bench: dbt's log kept in {kept}", file=sys.stderr)
            raise
        finally:
            shutil.rmtree(root, ignore_errors=True)
        rows.append((events, gen, bare, run, rss))
        print(f"  {events:,} events: run {run:.1f} s ({run / bare:.1f}× bare), {rss:,.0f} MiB",
              flush=True)  # fmt: skip

    exponent = fitted_exponent([(events, run) for events, _, _, run, _ in rows])
    bare_exponent = fitted_exponent([(events, bare) for events, _, bare, _, _ in rows])
    header = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — the full run at "
        f"{len(rows)} sizes, {args.customers:,} customers, {args.months} months\n\n"
        f"{platform.machine()}, {platform.python_version()}. `bench/scale.py`; each figure one "
        "fresh process under `/usr/bin/time -v`, after `sync`.\n\n"
        "| events | generate s | bare aggregate s | credits run s | run ÷ bare | peak MiB |\n"
        "|---:|---:|---:|---:|---:|---:|\n"
    )
    table = "".join(
        f"| {events:,} | {gen:.1f} | {bare:.1f} | {run:.1f} | {run / bare:.1f}× | {rss:,.0f} |\n"
        for events, gen, bare, run, rss in rows
    )
    summary = (
        f"\nExponent of the full run's time against events (least squares, log-log): "
        f"**{exponent:.2f}** (the bare aggregate's: {bare_exponent:.2f}).\n"
    )
    print(header + table + summary)
    with RESULTS.open("a") as fh:
        fh.write(header + table + summary)


if __name__ == "__main__":
    main()
