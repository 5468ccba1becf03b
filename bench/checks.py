"""What the pandera asset checks cost inside one `credits run`, check by check.

    .venv/bin/python bench/checks.py                          # 1M events, 100 customers, 3 months
    .venv/bin/python bench/checks.py --data /tmp/pandera_1m   # reuse a `credits generate --out` dir
    .venv/bin/python bench/checks.py --data DIR --events 10000000 --as-of 2027-01-01T00:00:00

First `credits run` as a process under `/usr/bin/time -v`: the wall time a user sees. Then
the same job in process on another fresh warehouse, to read what a process run does not
print: each check's own `seconds` (its metadata) and its Dagster step time, and the job's
time from run start to end. Appends a section to bench/results.md.
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

from run import BIN, RESULTS, timed

AS_OF = "2026-04-01T00:00:00"  # the end of the generated 3 months


def in_process(
    data: Path, warehouse: Path, as_of: str
) -> tuple[float, list[tuple[str, int, float, float]]]:
    """The job's seconds, and per pandera check: (name, rows, own seconds, step seconds)."""
    from dagster import DagsterEventType, DagsterInstance

    from dagster_project.definitions import build_definitions
    from dagster_project.resources import CreditsSettings

    settings = CreditsSettings(
        landing=str(data / "landing"),
        catalog=str(data / "catalog.yml"),
        warehouse=str(warehouse),
        reports=str(warehouse.parent / "reports"),
        as_of=as_of,
    )
    instance = DagsterInstance.ephemeral()
    result = (
        build_definitions(settings)
        .resolve_job_def("credits_job")
        .execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    )
    if not result.success:
        sys.exit("bench: the in-process run failed")
    started, ended, checks = {}, {}, {}
    run_start = run_end = None
    for record in instance.all_logs(result.run_id):
        event = record.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == DagsterEventType.RUN_START:
            run_start = record.timestamp
        elif kind == DagsterEventType.RUN_SUCCESS:
            run_end = record.timestamp
        elif kind == DagsterEventType.STEP_START:
            started[event.step_key] = record.timestamp
        elif kind == DagsterEventType.STEP_SUCCESS:
            ended[event.step_key] = record.timestamp
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            data_ = event.event_specific_data
            if data_.check_name.startswith("pandera_"):
                meta = {k: v.value for k, v in data_.metadata.items()}
                checks[event.step_key] = (data_.check_name, meta["rows"], meta["seconds"])
    rows = [(name, n, own, ended[step] - started[step]) for step, (name, n, own) in checks.items()]
    return run_end - run_start, sorted(rows, key=lambda r: -r[2])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, help="a `credits generate --out` directory")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--as-of", default=AS_OF, help="the clock: the end of the data's months")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="credits-bench-checks-"))
    data = args.data or root
    if args.data is None:
        gen = [str(BIN / "credits"), "generate", "--out", str(root), "--events", str(args.events),
               "--customers", "100", "--months", "3"]  # fmt: skip
        subprocess.run(gen, check=True, capture_output=True)
    command = [
        str(BIN / "credits"), "run", "--landing", str(data / "landing"),
        "--catalog", str(data / "catalog.yml"), "--warehouse", str(root / "process.duckdb"),
        "--reports", str(root / "reports"), "--as-of", args.as_of,
    ]  # fmt: skip
    wall, rss = timed(command)
    job, checks = in_process(data, root / "in_process.duckdb", args.as_of)
    shutil.rmtree(root)

    own = sum(c[2] for c in checks)
    steps = sum(c[3] for c in checks)
    slowest = "".join(
        f"| {name} | {rows:,} | {sec:.2f} | {step:.2f} |\n" for name, rows, sec, step in checks[:3]
    )
    section = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — pandera checks in one run, "
        f"{args.events:,} events\n\n"
        f"{platform.machine()}, {platform.python_version()}. `bench/checks.py`; the process run:\n\n"
        f"    /usr/bin/time -v credits run --landing DATA/landing --catalog DATA/catalog.yml "
        f"--warehouse W --reports R --as-of {args.as_of}\n\n"
        f"| figure | seconds |\n|---|---:|\n"
        f"| `credits run`, wall (process, peak {rss:,.0f} MiB) | {wall:.1f} |\n"
        f"| the same job in process, run start to end | {job:.1f} |\n"
        f"| {len(checks)} pandera checks, their own `seconds` summed | {own:.2f} "
        f"({own / job:.1%} of the job) |\n"
        f"| the same checks' Dagster steps summed | {steps:.2f} ({steps / job:.1%}) |\n\n"
        "Slowest checks:\n\n| check | rows | own s | step s |\n|---|---:|---:|---:|\n"
        f"{slowest}"
    )
    print(section)
    with RESULTS.open("a") as fh:
        fh.write(section)


if __name__ == "__main__":
    main()
