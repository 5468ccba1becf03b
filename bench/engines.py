"""Both engines on the same events: `credits run` on DuckDB (the default) and with
`CREDITS_ENGINE=spark` (a local Spark session), timed as processes, marts compared.

    make bench-spark                   # 1M events, 100 customers, 3 months
    .venv/bin/python bench/engines.py --events 200000 --customers 20

Needs the optional extra `spark` (make bench-spark installs it) and Java 17. In one bench
run: `credits generate` writes the history; the bare DuckDB aggregate of the same files
(bench/run.py's yardstick); then on each engine, in a warehouse of its own, `credits run`
over the whole history and again with nothing new. Every model's rows must be the same
on both (load columns aside, `warehouse.table_checksums`). Results are appended to
bench/results.md as one table; the README's engine table is copied from it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from run import BARE_AGGREGATE, BIN, RESULTS, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()

    from credits_warehouse.warehouse import MODEL_SCHEMAS, table_checksums

    root = Path(tempfile.mkdtemp(prefix="credits-bench-engines-"))
    credits = str(BIN / "credits")
    start = dt.date(2026, 1, 1)
    end = dt.date(2026 + (args.months // 12), 1 + args.months % 12, 1)
    clock = dt.datetime.combine(end, dt.time()).isoformat(timespec="seconds")
    rows: list[tuple[str, float, float]] = []

    def measure(name: str, cmd: list[str], env: dict[str, str] | None = None) -> float:
        wall, rss = timed(cmd, env=env)
        rows.append((name, wall, rss))
        print(f"  {name}: {wall:.1f} s, {rss:,.0f} MiB", flush=True)
        return wall

    measure(
        "credits generate",
        [credits, "generate", "--out", str(root / "gen"), "--events", str(args.events),
         "--customers", str(args.customers), "--months", str(args.months),
         "--start", start.isoformat()],
    )  # fmt: skip
    bare = measure(
        "bare DuckDB aggregate of the same files",
        [sys.executable, "-c", BARE_AGGREGATE, str(root / "gen" / "landing")],
    )
    figures = {}
    for name in ("duckdb", "spark"):
        flags = [
            "--landing", str(root / "gen" / "landing"),
            "--catalog", str(root / "gen" / "catalog.yml"),
            "--warehouse", str(root / name / "warehouse.duckdb"),
            "--reports", str(root / name / "reports"), "--as-of", clock,
        ]  # fmt: skip
        env = {"CREDITS_ENGINE": name}
        first = measure(f"{name}: credits run, the whole history", [credits, "run", *flags], env)
        again = measure(f"{name}: credits run, nothing new", [credits, "run", *flags], env)
        figures[name] = (first, again)
    # Where the Spark build's time went: its own timings (built.json of the one build).
    built = sorted((root / "spark").glob("warehouse.duckdb.spark/outputs/*/built.json"))
    steps = json.loads(built[-1].read_text(encoding="utf-8"))["timings"] if built else {}
    on_duck = table_checksums(root / "duckdb" / "warehouse.duckdb", schemas=MODEL_SCHEMAS)
    on_spark = table_checksums(root / "spark" / "warehouse.duckdb", schemas=MODEL_SCHEMAS)
    apart = sorted(r for r in set(on_duck) | set(on_spark) if on_duck.get(r) != on_spark.get(r))
    if not args.keep:
        shutil.rmtree(root)

    header = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — both engines, {args.events:,} "
        f"events, {args.customers:,} customers, {args.months} months\n\n"
        f"{platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores. "
        "`bench/engines.py`; each row one fresh process under `/usr/bin/time -v`; Spark is a "
        "local session (`local[2]`).\n\n"
        "| command | wall s | peak MiB |\n|---|---:|---:|\n"
    )
    table = "".join(f"| {name} | {wall:.1f} | {rss:,.0f} |\n" for name, wall, rss in rows)
    (duck_first, duck_again), (spark_first, spark_again) = figures["duckdb"], figures["spark"]
    summary = (
        "\n| figure | DuckDB | Spark |\n|---|---:|---:|\n"
        f"| the whole history, s | {duck_first:.1f} | {spark_first:.1f} |\n"
        f"| ÷ bare aggregate | {duck_first / bare:.1f}× | {spark_first / bare:.1f}× |\n"
        f"| nothing new, s | {duck_again:.1f} | {spark_again:.1f} |\n"
        f"| models with the same rows on both | {len(on_duck) - len(apart)} of {len(on_duck)} | |\n"
    )
    if steps:
        summary += (
            "\nThe Spark build's own steps (built.json), seconds: "
            + ", ".join(f"{step} {seconds:.1f}" for step, seconds in steps.items())
            + ".\n"
        )
    print(header + table + summary)
    with RESULTS.open("a") as fh:
        fh.write(header + table + summary)
    if apart:
        sys.exit(f"bench: the engines differ in {', '.join(apart[:5])}")


if __name__ == "__main__":
    main()
