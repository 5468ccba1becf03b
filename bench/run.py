"""Benchmarks of whole commands, timed as processes (wall time and peak memory).

    make bench                         # 1M events, 100 customers, 3 months
    .venv/bin/python bench/run.py --events 10000000 --customers 10000 --months 12

Each figure is one run of a fresh process measured with GNU time (`/usr/bin/time -v`),
so it includes Python, Dagster and dbt start-up, as a user would see it. Results are
appended to bench/results.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
RESULTS = Path(__file__).with_name("results.md")


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS in MiB of one process run."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:2])} failed:\n{proc.stderr[-2000:]}")
    wall_pattern = r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)"
    wall = re.search(wall_pattern, proc.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return seconds, rss_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="credits-bench-"))
    credits = str(BIN / "credits")
    end = dt.date(2026, 1, 1)
    end = dt.date(2026 + (args.months // 12), 1 + args.months % 12, 1) if args.months else end
    flags = [
        "--landing", str(root / "landing"), "--catalog", str(root / "catalog.yml"),
        "--warehouse", str(root / "warehouse.duckdb"), "--reports", str(root / "reports"),
        "--as-of", f"{end.isoformat()}T00:00:00",
    ]  # fmt: skip
    rows = []
    gen = [credits, "generate", "--out", str(root), "--events", str(args.events),
           "--customers", str(args.customers), "--months", str(args.months)]  # fmt: skip
    rows.append(("credits generate", *timed(gen)))
    rows.append(("credits run (first load)", *timed([credits, "run", *flags])))
    rows.append(("credits run (nothing new)", *timed([credits, "run", *flags])))
    size = (root / "warehouse.duckdb").stat().st_size / 2**20
    if not args.keep:
        shutil.rmtree(root)

    header = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {args.events:,} events, "
        f"{args.customers:,} customers, {args.months} months\n\n"
        f"{platform.machine()}, {platform.python_version()}, warehouse {size:,.0f} MiB\n\n"
        "| command | wall s | peak MiB |\n|---|---:|---:|\n"
    )
    table = "".join(f"| {name} | {wall:.1f} | {rss:,.0f} |\n" for name, wall, rss in rows)
    print(header + table)
    with RESULTS.open("a") as fh:
        fh.write(header + table)


if __name__ == "__main__":
    main()
