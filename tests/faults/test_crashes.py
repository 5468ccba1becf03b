"""Crash trials: `credits run`, `credits close` and `credits backfill` killed with SIGKILL at
random moments, then run again, must end exactly where an uninterrupted run ends.

Once per module (and once per test session under xdist: the workers share the data through
a lock file), a small landing is generated and the uninterrupted sequences are run as
subprocesses, their stderr timestamped line by line:

- `run` on an empty warehouse (its result is the start of the close trials), then `close`;
- `backfill --from 2026-01 --to 2026-01`, then `backfill --from 2026-01 --to 2026-02`, which
  skips the closed January and replays February.

A trial copies its command's starting state, starts the command in a process group of its
own and, after a seeded random delay, kills the whole group (the CLI, dbt and the PDF
workers) with SIGKILL. The delay falls in one of the command's phases (start-up and the
copy of the warehouse, ingest, dbt's start, dbt, the finance steps, PDF rendering, the
swap), timed from the line that starts the phase and spread over that phase's length as
measured in the uninterrupted run (scaled by the trial's own pace, since other processes
share the cores). A trial aimed at rendering or alerts also leaves what a kill inside an
atomic write would: a temporary file for a PDF not written yet and for the outbox. Then
the same command runs to completion, and:

- every table of the warehouse (raw, staging, intermediate, marts, reporting; load columns
  left out) equals the uninterrupted run's (`table_checksums`);
- the files under the reports directory are the same set, byte for byte (PDFs and the alert
  outbox), and the warehouse's directory holds the same names (no `.work`, no `*.tmp*`, no
  dbt build folder);
- invoice numbers are 1..n per series and year, and the outbox has each alert once.

A run trial's comparison covers the whole warehouse and outbox a close starts from, so the
rest of its sequence is what a close trial starts from and checks.

Three more take a rerun that differs: a close killed between its PDFs and its swap is run
again on more data (the documents must show the new figures), then on less (a document of a
number no longer given must go); a first run killed after writing the outbox is run again
at another clock (no alert written twice, the old lines unchanged); and an export killed
mid-write is run again (no temporary file, the same CSV).

The clock is fixed (`--as-of`), and the PDFs carry the data's dates, not the wall clock's
(checked on the uninterrupted run's documents), so a rerun minutes later writes the same
bytes. Set CREDITS_CRASH_LOG to a file to get one JSON line per trial (where the kill
landed, what it left behind).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader

from credits_warehouse.warehouse import table_checksums

pytestmark = pytest.mark.faults

REPO_ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-03-01T00:00:00"
SEED = 20260301
# ~20 s per command on this data (most of it start-up and dbt's fixed cost).
DATA = {"customers": 6, "events": 3000, "months": 2, "seed": 5}
SCHEMAS = ("raw", "staging", "intermediate", "marts", "reporting")
COMMAND_TIMEOUT = 600

COMMANDS = {
    "run": ["run"],
    "close": ["close", "2026-02"],
    "backfill": ["backfill", "--from", "2026-01", "--to", "2026-02"],
}
# The state each command's trials start from and the state they must end in.
START_STATE = {"run": None, "close": "after_run", "backfill": "backfilled_2026_01"}
END_STATE = {"run": "after_run", "close": "after_close", "backfill": "after_backfill"}


@dataclass(frozen=True)
class Phase:
    """A stretch of a command: from the stderr line matching `trigger` (None: the start)
    to the line matching `until`. `rendering` starts `N s` before the `documents: ...
    written in N s` line that ends it."""

    name: str
    trigger: str | None
    until: str


DBT_DONE = r"dbt: (\d+)/\1\b"
DOCUMENTS_DONE = r"documents: \d+ written in ([\d.]+)s"
PHASES = {
    "run": (
        Phase("start (imports, lock, copy)", None, r"ingest: file 1/"),
        Phase("ingest", r"ingest: file 1/", r"ingest: \d+ new files"),
        Phase("dbt start", r"ingest: \d+ new files", r"dbt: 1/"),
        Phase("dbt", r"dbt: 1/", DBT_DONE),
        Phase("checks and alerts", DBT_DONE, r"alerts: "),
        Phase("swap", r"alerts: ", r"run finished"),
    ),
    # close and backfill: no new files, so ingest is one line at the end of the start.
    **{
        command: (
            Phase("start (imports, lock, copy)", None, r"ingest: "),
            Phase("dbt start", r"ingest: ", r"dbt: 1/"),
            Phase("dbt", r"dbt: 1/", DBT_DONE),
            Phase("finance", DBT_DONE, r"invoices: "),
            Phase("rendering", r"invoices: ", DOCUMENTS_DONE),
            Phase("swap", DOCUMENTS_DONE, finished),
        )
        for command, finished in (("close", r"closed through"), ("backfill", r"backfilled "))
    },
}
TRIALS_PER_COMMAND = {"run": 7, "close": 7, "backfill": 6}
# Interleaved, so that xdist's first two tests build the two references at once.
TRIALS = [
    (command, index)
    for index in range(max(TRIALS_PER_COMMAND.values()))
    for command in ("backfill", "close", "run")
    if index < TRIALS_PER_COMMAND[command]
]


# --- processes ----------------------------------------------------------------------------


@dataclass
class Outcome:
    returncode: int
    lines: list[tuple[float, str]]  # (seconds since start, stderr line)
    seconds: float
    killed_at: float | None = None

    def text(self) -> str:
        return "\n".join(f"{t:7.2f} {line}" for t, line in self.lines)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITS_")}
    if limit := os.environ.get("CREDITS_DUCKDB_MEMORY_LIMIT"):
        env["CREDITS_DUCKDB_MEMORY_LIMIT"] = limit
    # This checkout's code, whatever the venv has installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group is still running (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


@dataclass(frozen=True)
class Kill:
    """SIGKILL to the whole process group `delay` seconds (as measured in the uninterrupted
    run) after the first stderr line matching `trigger` (None: the start). The delay is
    scaled by how much slower or faster this run reached the trigger than that run did
    (`trigger_at`), since other processes share the cores."""

    trigger: str | None
    delay: float
    trigger_at: float = 0.0

    def scaled(self, reached: float) -> float:
        if self.trigger is None or self.trigger_at < 1.0:
            return self.delay
        return self.delay * min(3.0, max(0.5, reached / self.trigger_at))


def cli(args: list[str], kill: Kill | None = None) -> Outcome:
    """Run `credits ARGS` in a process group of its own, to the end or to the `kill`, and
    wait until every process of the group (the CLI, dbt, the PDF workers) has gone."""
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
        [sys.executable, "-m", "dagster_project.cli", *args],
        cwd=REPO_ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )
    lines: list[tuple[float, str]] = []
    trigger = re.compile(kill.trigger) if kill and kill.trigger else None
    triggered = threading.Event()
    reached = [0.0]
    if kill and trigger is None:
        triggered.set()

    def read() -> None:
        for line in proc.stderr:
            lines.append((time.monotonic() - started, line.rstrip("\n")))
            if trigger is not None and not triggered.is_set() and trigger.search(line):
                reached[0] = lines[-1][0]
                triggered.set()
        triggered.set()  # the process has ended

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    killed_at = None
    try:
        if kill:
            triggered.wait(COMMAND_TIMEOUT)
            time.sleep(kill.scaled(reached[0]))
            if proc.poll() is None:
                killed_at = time.monotonic() - started
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(COMMAND_TIMEOUT)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 30
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        reader.join(10)
    return Outcome(proc.returncode, lines, time.monotonic() - started, killed_at)


def completed(args: list[str]) -> Outcome:
    outcome = cli(args)
    assert outcome.returncode == 0, f"credits {' '.join(args)} failed:\n{outcome.text()}"
    return outcome


# --- states -------------------------------------------------------------------------------


def flags(data: Path, state: Path) -> list[str]:
    return [
        "--landing", str(data / "landing"),
        "--catalog", str(data / "catalog.yml"),
        "--warehouse", str(state / "wh" / "warehouse.duckdb"),
        "--reports", str(state / "reports"),
        "--as-of", AS_OF,
    ]  # fmt: skip


def copy_state(source: Path | None, target: Path) -> None:
    if source is None:
        (target / "wh").mkdir(parents=True)
    else:
        shutil.copytree(source, target)


def files_under(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def snapshot(state: Path) -> dict:
    """What a trial is held to: every table's checksum, the reports' files by hash, and the
    names beside the warehouse."""
    return {
        "tables": {
            k: list(v)
            for k, v in table_checksums(state / "wh" / "warehouse.duckdb", SCHEMAS).items()
        },
        "reports": files_under(state / "reports"),
        "beside": sorted(p.name for p in (state / "wh").iterdir()),
    }


def _shared_root(tmp_path_factory) -> Path:
    """One directory for the whole session, shared by xdist's workers."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "crash_refs"
    root.mkdir(exist_ok=True)
    return root


@contextlib.contextmanager
def _once(root: Path, name: str):
    """Yield True to the first process that gets here (it builds `name`), False to the rest,
    which wait until it is built."""
    with open(root / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"{name}.done"
        yield not done.exists()
        done.touch()


def _landing(root: Path) -> Path:
    data = root / "data"
    with _once(root, "data") as build:
        if build:
            shutil.rmtree(data, ignore_errors=True)
            completed(["generate", "--out", str(data), *(f"--{k}={v}" for k, v in DATA.items())])
    return data


@dataclass(frozen=True)
class References:
    data: Path
    root: Path

    def state(self, name: str | None) -> Path | None:
        return None if name is None else self.root / name

    def expected(self, name: str) -> dict:
        return json.loads((self.root / f"{name}.json").read_text())

    def timeline(self, command: str) -> list[tuple[float, str]]:
        return [tuple(x) for x in json.loads((self.root / f"{command}.timeline").read_text())]


def _build(root: Path, data: Path, steps: list[tuple[str | None, str, list[str], str | None]]):
    """Each step: (from state, to state, command, name its timeline is kept under)."""
    for source, target, args, timed in steps:
        shutil.rmtree(root / target, ignore_errors=True)
        copy_state(None if source is None else root / source, root / target)
        outcome = completed([*args, *flags(data, root / target)])
        if timed:
            (root / f"{timed}.timeline").write_text(json.dumps(outcome.lines))
        (root / f"{target}.json").write_text(json.dumps(snapshot(root / target)))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return _landing(_shared_root(tmp_path_factory))


@pytest.fixture(scope="module")
def run_and_close(tmp_path_factory, landing) -> References:
    """The uninterrupted `run` on an empty warehouse, then `close 2026-02`."""
    root = _shared_root(tmp_path_factory)
    with _once(root, "run_and_close") as build:
        if build:
            _build(
                root,
                landing,
                [
                    (None, "after_run", COMMANDS["run"], "run"),
                    ("after_run", "after_close", COMMANDS["close"], "close"),
                ],
            )
    return References(landing, root)


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, landing) -> References:
    """The uninterrupted backfill of January, then of January..February (January skipped)."""
    root = _shared_root(tmp_path_factory)
    with _once(root, "backfill") as build:
        if build:
            _build(
                root,
                landing,
                [
                    (None, "backfilled_2026_01", ["backfill", "--from", "2026-01", "--to", "2026-01"], None),
                    ("backfilled_2026_01", "after_backfill", COMMANDS["backfill"], "backfill"),
                ],
            )  # fmt: skip
    return References(landing, root)


# --- the kill's timing ----------------------------------------------------------------------


def _first(timeline: list[tuple[float, str]], pattern: str, after: float = 0.0):
    for t, line in timeline:
        if t >= after and (match := re.search(pattern, line)):
            return t, match
    raise AssertionError(f"no line matching {pattern!r} in the uninterrupted run")


def phase_window(phase: Phase, timeline: list[tuple[float, str]]) -> tuple[float, float]:
    """Seconds after the phase's trigger line when the phase begins and ends, as measured
    in the uninterrupted run."""
    start = 0.0 if phase.trigger is None else _first(timeline, phase.trigger)[0]
    end, match = _first(timeline, phase.until, after=start)
    length = end - start
    if phase.until == DOCUMENTS_DONE:  # rendering is the last N seconds before that line
        return max(0.0, length - float(match.group(1))), length
    return 0.0, length


def plan(command: str, index: int, timeline: list[tuple[float, str]]) -> tuple[Phase, Kill]:
    """Trial `index` of `command` aims at its phases in turn, at a seeded random moment."""
    phases = PHASES[command]
    phase = phases[index % len(phases)]
    low, high = phase_window(phase, timeline)
    delay = random.Random(f"{SEED}:{command}:{index}").uniform(low, high)
    trigger_at = 0.0 if phase.trigger is None else _first(timeline, phase.trigger)[0]
    return phase, Kill(phase.trigger, delay, trigger_at)


def landed_in(command: str, outcome: Outcome) -> str:
    """The phase the kill landed in, by the last stderr line the killed process wrote."""
    seen = [line for _, line in outcome.lines]
    landed = PHASES[command][0].name
    for phase in PHASES[command]:
        if phase.trigger is not None and any(re.search(phase.trigger, s) for s in seen):
            landed = phase.name
    if any(re.search(PHASES[command][-1].until, s) for s in seen):
        landed = "after the swap"
    return landed


# --- checks ----------------------------------------------------------------------------------


def invoice_number_gaps(warehouse: Path) -> list[str]:
    """Per series and year, the numbers must be 1..n: what is missing or repeated."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        numbers = [
            n
            for (n,) in con.execute(
                "select invoice_number from marts.fct_invoices where invoice_number is not null"
            ).fetchall()
        ]
    finally:
        con.close()
    by_series: dict[tuple[str, str], list[int]] = {}
    for number in numbers:
        series, year, seq = number.rsplit("-", 2)
        by_series.setdefault((series, year), []).append(int(seq))
    problems = []
    for key, seqs in sorted(by_series.items()):
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            repeated = sorted(s for s, n in Counter(seqs).items() if n > 1)
            missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
            problems.append(f"{key}: repeated {repeated}, missing {missing}")
    return problems


def repeated_alerts(reports: Path) -> list[str]:
    outbox = reports / "alerts" / "outbox.jsonl"
    ids = [json.loads(line)["alert_id"] for line in outbox.read_text().splitlines()]
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def leftovers(state: Path) -> list[str]:
    """Temporary files, the working copy and dbt's build folder."""
    return sorted(
        str(p.relative_to(state))
        for p in state.rglob("*")
        if ".tmp" in p.name or p.name.endswith((".work", ".work.wal", ".dbt-target"))
    )


# Where a trial also cuts an atomic write short (below).
CUT_SHORT_IN = {"checks and alerts", "rendering"}


def cut_short_writes(state: Path, expected: dict) -> list[str]:
    """Leave what a kill inside an atomic write leaves: part of a file under its temporary
    name, for a PDF not written yet and for the alert outbox. A random kill seldom lands in
    that millisecond, so the trials aimed at rendering or alerts add it after their kill,
    if that kill came while the command was working on its copy (which is when it writes)."""
    reports = state / "reports"
    missing = [
        f for f in sorted(expected["reports"]) if f.endswith(".pdf") and not (reports / f).exists()
    ]
    planted = []
    for name, part in [*((f, b"%PDF-1.7\n%cut short") for f in missing[:1]),
                       ("alerts/outbox.jsonl", b'{"alert_id": "cut short')]:  # fmt: skip
        temp = reports / f"{name}.tmp-4194304-1"  # no live process has that pid
        temp.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(part)
        planted.append(str(temp.relative_to(state)))
    return planted


def _log(record: dict) -> None:
    if path := os.environ.get("CREDITS_CRASH_LOG"):
        with open(path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(json.dumps(record) + "\n")


# --- the trials --------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "index"), TRIALS, ids=[f"{c}-{i}" for c, i in TRIALS])
def test_killed_command_reruns_to_the_uninterrupted_result(
    command, index, request, tmp_path, record_property
):
    refs: References = request.getfixturevalue(
        "backfilled" if command == "backfill" else "run_and_close"
    )
    phase, kill = plan(command, index, refs.timeline(command))
    state = tmp_path / "state"
    args = [*COMMANDS[command], *flags(refs.data, state)]
    warehouse = state / "wh" / "warehouse.duckdb"
    expected = refs.expected(END_STATE[command])
    attempts = 0
    while attempts < 2:
        attempts += 1
        shutil.rmtree(state, ignore_errors=True)
        copy_state(refs.state(START_STATE[command]), state)
        killed = cli(args, kill=kill)
        if killed.returncode != 0:
            break
        # The command ended before the kill (the cores got faster than the pace it was
        # timed at): once more from the start, at half the delay, unscaled.
        kill = Kill(kill.trigger, kill.delay / 2)
    record = {
        "command": command,
        "trial": index,
        "attempts": attempts,
        "aimed_at": phase.name,
        "delay_after_trigger": round(kill.delay, 3),
        "killed_at": killed.killed_at and round(killed.killed_at, 2),
        "landed_in": landed_in(command, killed),
        "last_line": killed.lines[-1][1].strip() if killed.lines else "",
        "left_after_kill": leftovers(state),
        "pdfs_after_kill": len(list((state / "reports").rglob("*.pdf"))),
        "cut_short": [],
    }
    assert killed.returncode == -signal.SIGKILL, (
        f"the kill came too late (exit {killed.returncode}):\n{killed.text()}"
    )
    if phase.name in CUT_SHORT_IN and warehouse.with_name("warehouse.duckdb.work").exists():
        record["cut_short"] = cut_short_writes(state, expected)

    rerun = completed(args)
    record["rerun_seconds"] = round(rerun.seconds, 1)
    got = snapshot(state)
    record["converged"] = got == expected
    _log(record)
    record_property("trial", json.dumps(record))

    assert leftovers(state) == []
    assert got["beside"] == expected["beside"]
    assert sorted(got["reports"]) == sorted(expected["reports"]), "the set of files differs"
    assert [f for f in expected["reports"] if got["reports"][f] != expected["reports"][f]] == []
    assert [t for t in expected["tables"] if got["tables"].get(t) != expected["tables"][t]] == []
    assert set(got["tables"]) == set(expected["tables"])
    assert invoice_number_gaps(warehouse) == []
    assert repeated_alerts(state / "reports") == []


def test_the_uninterrupted_runs_are_sound(run_and_close, backfilled):
    """The references themselves: numbers 1..n, each alert once, documents written, and
    every PDF dated from the data (its period end or issue date), never the wall clock."""
    as_of = dt.datetime.fromisoformat(AS_OF).replace(tzinfo=dt.UTC)
    for refs, name in ((run_and_close, "after_close"), (backfilled, "after_backfill")):
        state = refs.state(name)
        assert invoice_number_gaps(state / "wh" / "warehouse.duckdb") == []
        assert repeated_alerts(state / "reports") == []
        pdfs = sorted((state / "reports").rglob("*.pdf"))
        assert {p.parent.name for p in pdfs} == {"statements", "invoices"}
        for pdf in pdfs:
            meta = PdfReader(pdf).metadata
            assert meta.creation_date == meta.modification_date, pdf
            assert meta.creation_date <= as_of, (pdf, meta.creation_date)


LATE_PURCHASE = (
    "purchase_id,customer_id,bundle_id,quantity,purchased_at,amount_paid,currency,status\n"
    "pur_900001,cus_00002,pack_10k,1,2026-02-02T00:00:00Z,10000,USD,succeeded\n"
)


def test_a_close_killed_before_its_swap_leaves_exactly_its_reruns_documents(
    run_and_close, tmp_path
):
    """Not the same rerun: a close killed after writing its PDFs and before its swap left
    them from figures never committed, and the data changes before the close runs again.

    More data: a purchase dated in the period lands, which takes invoice number 9 ahead of
    the two subscription invoices (now 10 and 11). The rerun must write every document of
    the periods it closes from the new figures: each invoice PDF shows its own customer,
    and the statement lists the purchase's invoice.

    Less data: that close's documents are what a close killed before its swap left, and
    the purchase has gone from the landing by the rerun, so INV-2026-000011 is a number
    the rerun no longer gives. The rerun's reports must be the uninterrupted close's, the
    same set byte for byte: the orphan is removed."""
    more = tmp_path / "more"
    copy_state(run_and_close.state("after_run"), more)
    # What a kill between the last PDF and the swap leaves: every document of the close
    # beside the warehouse as it was (the outbox is the same before and after the close).
    _copy_documents(run_and_close.state("after_close") / "reports", more / "reports")
    landing = tmp_path / "landing"
    shutil.copytree(run_and_close.data / "landing", landing)
    (landing / "purchases").mkdir()
    (landing / "purchases" / "late.csv").write_text(LATE_PURCHASE)
    args = [*COMMANDS["close"], *flags(run_and_close.data, more)]
    args[args.index("--landing") + 1] = str(landing)
    completed(args)

    con = duckdb.connect(str(more / "wh" / "warehouse.duckdb"), read_only=True)
    try:
        numbered = con.execute(
            "select invoice_number, customer_id, period from marts.fct_invoices"
            " where invoice_number is not null order by invoice_number"
        ).fetchall()
    finally:
        con.close()
    assert ("INV-2026-000009", "cus_00002", "2026-02") in numbered
    reports = more / "reports"
    shown = {
        number: customer in PdfReader(reports / period / "invoices" / f"{number}.pdf").pages[0].extract_text()
        for number, customer, period in numbered
    }  # fmt: skip
    assert [number for number, ok in shown.items() if not ok] == []
    statement = PdfReader(reports / "2026-02" / "statements" / "cus_00002.pdf")
    assert "INV-2026-000009" in "".join(page.extract_text() for page in statement.pages)

    less = tmp_path / "less"
    copy_state(run_and_close.state("after_run"), less)
    _copy_documents(reports, less / "reports")
    orphan = "2026-02/invoices/INV-2026-000011.pdf"
    expected = run_and_close.expected("after_close")["reports"]
    # 2025-12: 1 invoice; 2026-01: 8 invoices (a credit note among them) and 6 statements;
    # 2026-02: 2 invoices (3 with the purchase) and 6 statements; and the outbox.
    assert len(expected) == 1 + 14 + 8 + 1
    assert len(files_under(less / "reports")) == len(expected) + 1
    assert (less / "reports" / orphan).exists() and orphan not in expected
    completed([*COMMANDS["close"], *flags(run_and_close.data, less)])
    assert files_under(less / "reports") == expected


def _copy_documents(reports: Path, target: Path) -> None:
    """The period folders of a reports directory (not the alert outbox)."""
    for folder in reports.iterdir():
        if folder.name != "alerts":
            shutil.copytree(folder, target / folder.name)


LATER = "2026-03-20T00:00:00"


def test_a_run_killed_after_its_outbox_sends_nothing_twice_at_another_clock(
    run_and_close, tmp_path
):
    """A first run killed between writing the outbox and its swap: the outbox holds its
    alerts, the warehouse none of them. Run again at a later clock, the outbox keeps every
    line as it was (its old bytes come first), gains only alerts it did not hold, each
    once, and `raw.alerts_sent` records exactly the alerts of the outbox."""
    state = tmp_path / "state"
    copy_state(None, state)
    shutil.copytree(
        run_and_close.state("after_run") / "reports" / "alerts", state / "reports" / "alerts"
    )
    outbox = state / "reports" / "alerts" / "outbox.jsonl"
    before = outbox.read_bytes()
    args = [*COMMANDS["run"], *flags(run_and_close.data, state)]
    args[args.index("--as-of") + 1] = LATER
    completed(args)

    after = outbox.read_bytes()
    assert after.startswith(before)
    lines = [json.loads(line) for line in after.decode().splitlines()]
    ids = [line["alert_id"] for line in lines]
    # New by the later clock, and only these: the 30-day warnings of the grants that expire
    # on 2026-04-01, due on 2026-03-02 (after 2026-03-01, by 2026-03-20), for 5 customers.
    # The first run's one forecast_depletion (cus_00003, before its 2026-04-01 allowance) is
    # not sent again at the later clock: its id names the next grant, not the clock.
    assert len(before.splitlines()) == 57 and len(lines) == 57 + 5
    assert {
        (line["alert_type"], line["triggered_at"], line["details"]["days_before"], line["details"]["expires_at"])
        for line in lines[57:]
    } == {("credits_expiring", "2026-03-02T00:00:00", 30, "2026-04-01 00:00:00")}  # fmt: skip
    assert len({line["customer_id"] for line in lines[57:]}) == 5
    assert [
        (line["customer_id"], line["details"]["next_grant_at"])
        for line in lines
        if line["alert_type"] == "forecast_depletion"
    ] == [("cus_00003", "2026-04-01 00:00:00")]
    assert repeated_alerts(state / "reports") == []
    con = duckdb.connect(str(state / "wh" / "warehouse.duckdb"), read_only=True)
    try:
        recorded = [a for (a,) in con.execute("select alert_id from raw.alerts_sent").fetchall()]
    finally:
        con.close()
    assert sorted(recorded) == sorted(ids)


# Run in the export's own process: the temporary file gets half the CSV, then the process
# stops itself, so that the test kills it inside the write, every time.
STOPPED_MID_WRITE = """
import os, pathlib, signal, sys
write_bytes = pathlib.Path.write_bytes
def half_then_stop(path, data):
    if ".tmp-" in path.name:
        write_bytes(path, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGSTOP)
    return write_bytes(path, data)
pathlib.Path.write_bytes = half_then_stop
from dagster_project.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_an_export_killed_mid_write_leaves_the_csv_and_the_next_export_cleans_up(
    run_and_close, tmp_path
):
    """`credits export journals` killed (SIGKILL to its process group) with half the CSV in
    its temporary file: the CSV an earlier export wrote is intact, and the next export
    removes the temporary file and writes the same bytes."""
    csv_path = tmp_path / "journals.csv"
    args = ["export", "journals", "2026-02", "--out", str(csv_path)]
    args += flags(run_and_close.data, run_and_close.state("after_close"))
    completed(args)
    first = csv_path.read_bytes()
    assert first.count(b"\n") > 10

    proc = subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
        [sys.executable, "-c", STOPPED_MID_WRITE, *args],
        cwd=REPO_ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while _state(proc.pid) != "T" and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(proc.pid) == "T", "the export did not stop inside its write"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    temps = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert len(temps) == 1 and temps[0].startswith(f"journals.csv.tmp-{proc.pid}-"), temps
    assert 0 < (tmp_path / temps[0]).stat().st_size < len(first)
    assert csv_path.read_bytes() == first

    completed(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journals.csv"]
    assert csv_path.read_bytes() == first


def _state(pid: int) -> str:
    """A process's state letter from /proc (T: stopped), or "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""
