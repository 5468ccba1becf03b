"""Writers and readers at the same time as a `credits run` (README "Readers and runs").

One scene, one module fixture: a warehouse is built from January's events (the before
state); February's land, and a `credits run` that loads them runs in a subprocess. While it
runs:
- second writers try: `credits run`, `close` and `backfill` in this process, and `credits
  run` as a process of its own. Each must fail at once, with one line naming the warehouse
  and the pid holding it, while the first run goes on and completes.
- a loop reads the warehouse read-only (duckdb read_only=True), computing table_checksums of
  every mart and report, and retries if the file is locked. A command writes a copy and
  swaps it in with one rename, so every read must equal the before state or the after
  state, in that order, and no read is ever refused.
Then an analyst keeps a read-only connection open while `credits close` runs: the close
succeeds, the analyst's connection keeps seeing the file as it was, a new one sees the
close.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from helpers import REPO_ROOT

from credits_warehouse.sample_data.generate import generate
from credits_warehouse.warehouse import table_checksums
from dagster_project.cli import main

pytestmark = pytest.mark.faults

AS_OF = "2026-03-01T00:00:00"
READ_PAUSE = 0.2  # seconds between reads: the run shares two cores with the readers
WRITERS = {
    "run": ["run"],
    "close": ["close", "2026-02"],
    "backfill": ["backfill", "--from", "2026-01", "--to", "2026-02"],
}


def _cli(args: list[str], **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
        [sys.executable, "-m", "dagster_project.cli", *args], env=env, text=True, **popen
    )


def _in_process(args: list[str]) -> tuple[int, str, float]:
    """(exit status, stderr, seconds) of `credits ARGS` run in this process; an exception
    that escapes main() (a traceback, not one line) is its status."""
    err = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except Exception as escaped:  # noqa: BLE001 - reported by the test that reads it
            code = repr(escaped)
    return code, err.getvalue(), time.monotonic() - started


def _read(warehouse: Path) -> tuple[str, object]:
    """One reader's look: ("ok", checksums) or ("locked", message)."""
    try:
        return "ok", table_checksums(warehouse)
    except duckdb.IOException as err:
        if "lock" not in str(err).lower():
            raise
        return "locked", str(err).splitlines()[0]


def _ended(process: tuple[subprocess.Popen, float], run_going_on: bool) -> tuple:
    popen, started = process
    return popen.returncode, popen.stderr.read(), time.monotonic() - started, run_going_on


def _during_run(warehouse: Path, flags: list[str], log: Path) -> dict:
    """Start the changing run; read, and try second writers, until it ends."""
    work = warehouse.with_name(warehouse.name + ".work")  # transactional_copy's copy
    reads, writers, process = [], {}, None
    with log.open("w") as run_stderr:
        run = _cli(["run", *flags], stdout=subprocess.DEVNULL, stderr=run_stderr)
        while run.poll() is None:
            mid_run = work.exists()  # the copy exists only under the run's writer lock
            if mid_run and not writers:
                for name, args in WRITERS.items():
                    writers[name] = (*_in_process([*args, *flags]), work.exists())
                popen = _cli(["run", *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                process = (popen, time.monotonic())
            if process and "process" not in writers and process[0].poll() is not None:
                # The process writer has ended: was the first run still under way?
                writers["process"] = _ended(process, run.poll() is None and work.exists())
            outcome, seen = _read(warehouse)  # a refused read is tried again next time
            reads.append((outcome, seen, mid_run, run.poll() is None))
            time.sleep(READ_PAUSE)
    if process and "process" not in writers:
        process[0].wait()
        writers["process"] = _ended(process, False)
    return {"run": run, "pid": run.pid, "reads": reads, "writers": writers, "log": log}


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
through = "select coalesce(max(period), 'none') from raw.period_closes"
print(con.execute(through).fetchall()[0][0], flush=True)
sys.stdin.readline()
print(con.execute(through).fetchall()[0][0], flush=True)
"""


def _close_while_reading(warehouse: Path, flags: list[str]) -> dict:
    """An analyst's connection open across `credits close`: what each side saw."""
    reader = subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
        [sys.executable, "-c", READER, str(warehouse)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        before = reader.stdout.readline().strip()  # the analyst's connection is open
        code, err, _ = _in_process(["close", "2026-02", *flags])
        reader.stdin.write("\n")
        reader.stdin.flush()
        still = reader.stdout.readline().strip()
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        after = con.execute("select max(period) from raw.period_closes").fetchall()[0][0]
    finally:
        con.close()
    return {"code": code, "err": err, "before": before, "still": still, "after": after}


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("concurrency")
    generated = generate(
        root / "generated", customers=4, events=2_000, start=dt.date(2026, 1, 1), months=2,
        seed=5,
    )  # fmt: skip
    warehouse = root / "warehouse.duckdb"
    flags = [
        "--landing", str(generated.landing),
        "--catalog", str(generated.catalog),
        "--warehouse", str(warehouse),
        "--reports", str(root / "reports"),
        "--as-of", AS_OF,
    ]  # fmt: skip
    february = generated.landing / "events" / "2026" / "02"
    shutil.move(february, root / "february")
    code, err, _ = _in_process(["run", *flags])
    assert code == 0, err
    before = table_checksums(warehouse)
    shutil.move(root / "february", february)

    scene = _during_run(warehouse, flags, root / "run.log")
    scene |= {"warehouse": warehouse, "before": before, "after": table_checksums(warehouse)}
    scene["close"] = _close_while_reading(warehouse, flags)
    return scene


def test_a_second_writer_fails_at_once_naming_the_warehouse_and_the_holder(scene):
    writers = scene["writers"]
    assert set(writers) == {*WRITERS, "process"}, "the run was seen under way"
    expected = (
        f"warehouse {scene['warehouse']} is being written by pid {scene['pid']};"
        " wait for it to finish"
    )
    for name, (code, err, seconds, still_running) in writers.items():
        command = "run" if name == "process" else name
        assert code == 1, (name, err)
        assert err.strip() == f"credits {command}: {expected}", name
        assert still_running, f"{name}: the first run was still under way when it failed"
        assert seconds < (10 if name == "process" else 2), (name, seconds)


def test_the_first_run_completes(scene):
    assert scene["run"].returncode == 0, scene["log"].read_text()[-2000:]
    assert "run finished" in scene["log"].read_text()
    before, after = scene["before"], scene["after"]
    assert after["marts.fct_rated_events"][0] > before["marts.fct_rated_events"][0]
    assert not scene["warehouse"].with_name("warehouse.duckdb.work").exists()


def test_readers_see_the_before_or_the_after_state_never_between(scene):
    reads = scene["reads"]
    before, after = scene["before"], scene["after"]
    assert before != after
    # No read was ever refused: nothing writes the file in place.
    assert [seen for outcome, seen, _, _ in reads if outcome != "ok"] == []
    states = [
        ("before" if seen == before else "after" if seen == after else "other", mid, running)
        for _, seen, mid, running in reads
    ]
    assert "other" not in {state for state, _, _ in states}
    # Once the new file is swapped in, nobody sees the old one again.
    order = [state for state, _, _ in states]
    assert order == sorted(order, key=lambda state: state == "after")
    mid_run = [state for state, mid, running in states if mid and running]
    assert len(mid_run) >= 10 and set(mid_run) == {"before"}, "reads while the copy was built"


def test_a_close_runs_while_an_analyst_reads(scene):
    close = scene["close"]
    assert close["code"] == 0, close["err"]
    assert "closed through 2026-02" in close["err"]
    # The open connection keeps the file it opened; a new one sees the close.
    assert (close["before"], close["still"], close["after"]) == ("none", "none", "2026-02")
