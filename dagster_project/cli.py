"""The `credits` command (contract §7): thin over the Dagster definitions the schedules use.

Every write goes through one path: take the warehouse's writer lock, work on a copy, run
the Dagster job in process, and swap the copy in only if everything succeeded. Errors end
with one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import io
import os
import re
import shutil
import sys
import time
import warnings
from pathlib import Path

EXIT_FAILURE = 1


class CommandError(RuntimeError):
    """A failure to report as one line."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "where and when (flag, then CREDITS_* variable, then default)"
    )
    group.add_argument("--landing", help="landing directory (CREDITS_LANDING; data/landing)")
    group.add_argument("--catalog", help="catalog YAML (CREDITS_CATALOG; data/catalog.yml)")
    group.add_argument("--warehouse", help="DuckDB file (CREDITS_WAREHOUSE; data/warehouse.duckdb)")
    group.add_argument("--reports", help="PDF output directory (CREDITS_REPORTS; reports/out)")
    group.add_argument(
        "--as-of", dest="as_of", help="the run's clock, ISO 8601 UTC (CREDITS_AS_OF; now)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credits", description="The credit-billing warehouse.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _warehouse_commands(sub)
    _finance_commands(sub)

    demo = sub.add_parser(
        "demo", help="generate sample data into a fresh directory, run and close it"
    )
    demo.add_argument(
        "--out", type=Path, default=Path("data/demo"), help="demo directory (data/demo)"
    )
    demo.add_argument("--customers", type=int, default=30)
    demo.add_argument("--events", type=int, default=100_000)
    demo.add_argument("--months", type=int, default=3)
    demo.add_argument("--seed", type=int, default=7)
    _common(demo)
    return parser


def _warehouse_commands(sub) -> None:
    """generate, run, close, backfill: what fills and closes the warehouse."""
    gen = sub.add_parser("generate", help="write a realistic synthetic landing directory")
    gen.add_argument(
        "--out", required=True, type=Path, help="writes OUT/landing/ and OUT/catalog.yml"
    )
    gen.add_argument("--customers", type=int, default=50)
    gen.add_argument("--events", type=int, default=50_000)
    gen.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1))
    gen.add_argument("--months", type=int, default=3)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument(
        "--scoped-promos",
        dest="scoped_promos",
        action="store_true",
        help="give a quarter of the customers a promotion for one aggregator only",
    )
    _common(gen)

    run = sub.add_parser(
        "run", help="load new landing files and rebuild open periods as of the clock"
    )
    run.add_argument(
        "--full-refresh",
        dest="full_refresh",
        action="store_true",
        help="rebuild every model from raw instead of only what the new rows change",
    )
    _common(run)

    close = sub.add_parser(
        "close", help="close PERIOD and every earlier open period; write their PDFs"
    )
    close.add_argument("period", help="YYYY-MM")
    _common(close)

    backfill = sub.add_parser(
        "backfill", help="replay periods in turn: run at each period's end, then close"
    )
    backfill.add_argument("--from", dest="period_from", required=True, help="YYYY-MM")
    backfill.add_argument("--to", dest="period_to", required=True, help="YYYY-MM")
    _common(backfill)


def _finance_commands(sub) -> None:
    """export, simulate, deliver: what finance takes out of a built warehouse."""
    export = sub.add_parser("export", help="write finance exports")
    export.add_argument(
        "what", choices=["journals"], help="journals: a period's journal entries as CSV"
    )
    export.add_argument("period", help="YYYY-MM")
    export.add_argument(
        "--out", type=Path, help="CSV path (default <reports>/<period>/journals-<period>.csv)"
    )
    _common(export)

    simulate = sub.add_parser(
        "simulate",
        help="re-rate the history under another catalog (--catalog NEW.yml) in a scratch "
        "copy of the warehouse; write what changes per customer as CSV and PDF",
    )
    simulate.add_argument("--from", dest="period_from", required=True, help="YYYY-MM")
    simulate.add_argument("--to", dest="period_to", required=True, help="YYYY-MM")
    _common(simulate)

    deliver = sub.add_parser(
        "deliver",
        help="email a closed period's statements, invoices and credit notes, each once",
        description="Email each customer their documents of a closed PERIOD over SMTP, one "
        "email per customer with the PDFs attached; a document already sent is never sent "
        "again. The server comes from the environment: CREDITS_SMTP_HOST, CREDITS_SMTP_FROM "
        "(required), CREDITS_SMTP_PORT (587), CREDITS_SMTP_STARTTLS (true), CREDITS_SMTP_USER "
        "and CREDITS_SMTP_PASSWORD, CREDITS_SMTP_TIMEOUT (60 s).",
    )
    deliver.add_argument("period", help="YYYY-MM, a closed period")
    _common(deliver)

    _add_report_parser(sub)


def _add_report_parser(sub) -> None:
    report = sub.add_parser("report", help="write finance reports of closed periods")
    report.add_argument(
        "kind",
        choices=["restatements"],
        help="restatements: a closed period's usage and money as frozen at its close beside "
        "the same figures as the data now says, late events in the period they happened in "
        "(CSVs and PDF)",
    )
    report.add_argument("period", help="a closed period, YYYY-MM")
    report.add_argument(
        "--out",
        type=Path,
        help="usage CSV path (default <reports>/<period>/restatements-<period>.csv); the PDF "
        "goes beside it, as .pdf, and the money CSV too, as restatements-money-<period>.csv",
    )
    report.add_argument(
        "--usage-only",
        dest="usage_only",
        action="store_true",
        help="restate events and usage credits only, not money: skips the rebuild of a "
        "scratch copy of the warehouse with no period closed, a full refresh of every model "
        "(as long as `credits run --full-refresh`)",
    )
    _common(report)


# --- the one write path -------------------------------------------------------------------


def _execute(
    settings,
    job_name: str = "credits_job",
    partition_key: str | None = None,
    full_refresh: bool = False,
) -> None:
    """Run a Dagster job on a copy of the warehouse; swap it in only on success. The clock
    and paths are the resource's; a partitioned job also takes its billing period."""
    from credits_warehouse.spark_warehouse import engine
    from credits_warehouse.warehouse import (
        exclusive_lock,
        transactional_copy_in_background,
        working_copy_path,
    )
    from dagster_project.dbt_ahead import started_ahead

    _preflight(settings)
    with (
        exclusive_lock(settings.warehouse),
        # dbt's process imports dbt on the other core meanwhile (dagster_project/dbt_ahead.py);
        # started once the lock is held, so that a refused writer does not start one.
        started_ahead() if engine() == "duckdb" else contextlib.nullcontext(),
        transactional_copy_in_background(settings.warehouse) as copying,
        DbtOutput(dbt_log_path(settings.warehouse)) as dbt_output,
        contextlib.redirect_stdout(dbt_output),
    ):
        # Dagster's import and the job's definition (3-4 s) take place while the warehouse
        # is copied (5 s for 3 GB), not before it.
        from dagster import DagsterEventType, DagsterInstance

        from dagster_project.definitions import build_definitions
        from dagster_project.partitions import partitions_at
        from dagster_project.resources import CreditsSettings

        resource = CreditsSettings(
            landing=str(settings.landing),
            catalog=str(settings.catalog),
            warehouse=str(working_copy_path(settings.warehouse)),
            reports=str(settings.reports),
            as_of=settings.as_of_iso,
            hold_writer_lock=False,
            full_refresh=full_refresh,
        )
        job = build_definitions(resource).resolve_job_def(job_name)
        instance = DagsterInstance.ephemeral()
        copying.result()  # the copy is whole before any step writes it
        with partitions_at(settings.as_of):  # the partition's period ended by the run's clock
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                partition_key=partition_key,
                # Given run config replaces a partitioned job's own (the replay clock), so the
                # CLI sets the clock on the resource itself, from the same replay_clock.
                run_config=QUIET_RUN,
            )
        if not result.success:
            raise CommandError(
                f"{_first_failure(result, DagsterEventType)} (dbt's log: {dbt_output.path})"
            )


# Dagster's own log lines stay off the terminal: progress is ours, dbt's output its log's.
QUIET_RUN = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def dbt_log_path(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.name}.dbt.log")


class DbtOutput(io.TextIOBase):
    """Where dbt's own output goes during a command: appended to a log beside the
    warehouse, and shown on stderr as a progress bar of the nodes dbt has finished. A
    Spark build runs several dbt steps (before the walk, after it, the tests), each
    numbering its nodes from 1 of its own total: the bar starts again with each."""

    FINISHED = re.compile(r"\b\d+ of (\d+) (?:OK|PASS|ERROR|FAIL|WARN|SKIP)\b")
    ANSI = re.compile(r"\x1b\[[0-9;]*m")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = 0
        self.total = 0

    def __enter__(self) -> DbtOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.path.open("a", encoding="utf-8")
        self._log.write(
            f"--- credits {' '.join(sys.argv[1:])} at {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}\n"
        )
        return self

    def __exit__(self, *exc) -> None:
        self._log.close()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        from dagster_project.assets.ingest import progress_bar

        self._log.write(text)
        for match in self.FINISHED.finditer(self.ANSI.sub("", text)):
            total = int(match.group(1))
            if total != self.total or self.done >= self.total:  # the next dbt step
                self.total, self.done = total, 0
            self.done += 1
            progress_bar("dbt", self.done, total)
        return len(text)

    def flush(self) -> None:
        self._log.flush()


def _preflight(settings):
    """Refuse bad input before anything is written: the catalog, then the landing directory.
    Returns the validated catalog."""
    from credits_warehouse.catalog import load_catalog

    catalog = load_catalog(settings.catalog)
    if not settings.landing.is_dir():
        raise CommandError(f"landing directory {settings.landing} does not exist")
    _refuse_missing_engine()
    _refuse_breakage_policy_change(settings, catalog)
    return catalog


def _refuse_missing_engine() -> None:
    """CREDITS_ENGINE: one line when it names no engine, or Spark without its extra."""
    import importlib.util

    from credits_warehouse.spark_warehouse import ENGINE_VARIABLE, engine

    try:
        chosen = engine()
    except ValueError as err:
        raise CommandError(str(err)) from None
    if chosen == "spark" and not all(
        importlib.util.find_spec(module) for module in ("pyspark", "dbt.adapters.spark")
    ):
        raise CommandError(
            f"{ENGINE_VARIABLE}=spark needs the optional extra `spark` (pip install -e "
            '".[spark]": pyspark, dbt-spark) and Java 17'
        )


def _refuse_breakage_policy_change(settings, catalog) -> None:
    """The catalog asset refuses a breakage policy change once a period is closed; say so
    here too, in one line, before the run starts. A warehouse another process holds is left
    to the asset."""
    import duckdb

    from credits_warehouse.warehouse import connect, refuse_breakage_policy_change

    if not settings.warehouse.exists():
        return
    try:
        con = connect(settings.warehouse, read_only=True)
    except duckdb.Error:
        return
    try:
        refuse_breakage_policy_change(con, catalog)
    finally:
        con.close()


def _first_failure(result, event_types) -> str:
    for event in result.all_events:
        if event.event_type == event_types.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            if not data.passed:
                detail = {k: v.value for k, v in (data.metadata or {}).items()}
                hint = (
                    f": {detail['failures']} failing cases, first {detail.get('summary')}"
                    if "failures" in detail
                    else ""
                )
                return f"check {data.check_name} on {data.asset_key.to_user_string()} failed{hint}"
    for event in result.all_events:
        if event.event_type == event_types.STEP_FAILURE:
            error = event.event_specific_data.error
            cause = error
            while cause.cause is not None:
                cause = cause.cause
            lines = [
                ln.strip() for ln in (cause.message or error.message).splitlines() if ln.strip()
            ]
            first = lines[0] if lines else "unknown error"
            # A Failure raised on purpose already says what failed.
            return (
                first.split("Failure: ", 1)[1]
                if "Failure: " in first
                else (f"step {event.step_key} failed: {first}")
            )
    return "the run failed"


def _settings(args):
    from credits_warehouse.settings import resolve_settings

    return resolve_settings(args.landing, args.catalog, args.warehouse, args.reports, args.as_of)


def cmd_generate(args) -> None:
    from credits_warehouse.sample_data.generate import generate

    started = time.monotonic()
    summary = generate(
        args.out,
        customers=args.customers,
        events=args.events,
        start=args.start,
        months=args.months,
        seed=args.seed,
        catalog_path=Path(args.catalog) if args.catalog else None,
        progress=lambda msg: _say(f"  generate: {msg}"),
        overwrite=True,
        scoped_promos=args.scoped_promos,
    )
    _say(f"generated {summary.events:,} events in {time.monotonic() - started:.1f}s")
    print(f"landing: {summary.landing}\ncatalog: {summary.catalog}")


def cmd_run(args, settings=None) -> None:
    settings = settings or _settings(args)
    catalog = _preflight(settings)
    started = time.monotonic()
    full_refresh = getattr(args, "full_refresh", False)
    if not full_refresh and _up_to_date(settings, catalog):
        _say(
            f"run as of {settings.as_of_iso}: nothing new has landed or closed since the last "
            f"build at this clock; {settings.warehouse} is up to date"
        )
        return
    _say(
        f"run as of {settings.as_of_iso}: {settings.landing} -> {settings.warehouse}"
        + (" (full refresh)" if full_refresh else "")
    )
    _execute(settings, full_refresh=full_refresh)
    _say(f"run finished in {time.monotonic() - started:.1f}s")


def _up_to_date(settings, catalog) -> bool:
    """Whether a run would change nothing (credits_warehouse.incremental.up_to_date), read
    under the writer lock so that no run is half way through swapping the file."""
    from credits_warehouse.warehouse import exclusive_lock

    if not settings.warehouse.exists():
        return False
    with exclusive_lock(settings.warehouse):
        # Imported once the lock is held: dagster_project.dbt loads Dagster and dagster-dbt
        # (about 2 s), which a second writer should not sit through before it is refused.
        from credits_warehouse.incremental import up_to_date
        from dagster_project.dbt import MANIFEST_PATH

        return up_to_date(
            settings.warehouse,
            settings.landing,
            catalog,
            settings.as_of,
            MANIFEST_PATH,
        )


def cmd_close(args, settings=None, period: str | None = None) -> None:
    from credits_warehouse.periods import not_ended

    settings = settings or _settings(args)
    period = period or args.period
    if reason := not_ended(period, settings.as_of):
        raise CommandError(reason)
    _preflight(settings)

    _check_partition(period, settings.as_of)
    # A close that is a no-op must not even rebuild: check under the lock, on the real file.
    through = _closed_through(settings)
    if through is not None and through >= period:
        _say(f"period {period} is already closed (closed through {through}); nothing to do")
        return
    started = time.monotonic()
    _say(f"close {period} as of {settings.as_of_iso}")
    _execute(settings, "close_job", partition_key=period)
    _say(
        f"closed through {period} in {time.monotonic() - started:.1f}s; documents under {settings.reports}"
    )


def cmd_backfill(args) -> None:
    """One `backfill_job` run per period, in order: the runs a Dagster partition backfill
    of the same range makes, with the same clock (each period's end)."""
    from dataclasses import replace

    from credits_warehouse.periods import not_ended, periods_between
    from dagster_project.partitions import replay_clock

    base = _settings(args)
    periods = periods_between(args.period_from, args.period_to)
    if reason := not_ended(periods[-1], base.as_of):
        raise CommandError(f"{reason}; backfill replays only periods that are over")
    for period in periods:
        _check_partition(period, base.as_of)
    through = _closed_through(base)
    started = time.monotonic()
    for i, period in enumerate(periods, start=1):
        if through is not None and period <= through:
            _say(f"backfill {period} ({i}/{len(periods)}): already closed, skipped")
            continue
        settings = replace(base, as_of=replay_clock(period))
        _say(
            f"backfill {period} ({i}/{len(periods)}): load, close and build as of {settings.as_of_iso}"
        )
        _execute(settings, "backfill_job", partition_key=period)
    _say(f"backfilled {periods[0]}..{periods[-1]} in {time.monotonic() - started:.1f}s")


def _check_partition(period: str, as_of: dt.datetime) -> None:
    """A billing-period partition at the run's clock (a period it has seen end)."""
    from dagster_project.partitions import BILLING_PERIODS, FIRST_PERIOD, partitions_at

    with partitions_at(as_of):
        if not BILLING_PERIODS.has_partition_key(period):
            last = BILLING_PERIODS.get_last_partition_key()
            raise CommandError(
                f"period {period} is not a billing-period partition ({FIRST_PERIOD} to {last})"
            )


def _closed_through(settings) -> str | None:
    """The last closed period of the warehouse, read under the writer lock. Read-only: a
    read-write connection would fail while an analyst has the file open."""
    from credits_warehouse.warehouse import closed_through, connect, exclusive_lock

    if not settings.warehouse.exists():
        return None
    with exclusive_lock(settings.warehouse):
        con = connect(settings.warehouse, read_only=True)
        try:
            return closed_through(con)
        finally:
            con.close()


def cmd_export(args) -> None:
    from credits_warehouse.exports import export_journals
    from credits_warehouse.periods import period_bounds
    from credits_warehouse.warehouse import require_warehouse

    settings = _settings(args)
    period_bounds(args.period)
    require_warehouse(settings.warehouse)
    path, rows = export_journals(settings.warehouse, args.period, args.out, settings.reports)
    _say(f"exported {rows} journal lines for {args.period}")
    print(path)


def cmd_simulate(args) -> None:
    """Re-rate the history under the catalog given, in a scratch copy of the warehouse, and
    report what changes per customer and period (credits_warehouse/simulation.py). The
    warehouse is only read; nothing is loaded, closed or sent."""
    from credits_warehouse import simulation
    from credits_warehouse.catalog import load_catalog
    from credits_warehouse.periods import periods_between

    if not args.catalog:
        raise CommandError("simulate needs --catalog NEW.yml, the catalog to re-rate with")
    settings = _settings(args)
    periods = periods_between(args.period_from, args.period_to)
    catalog = load_catalog(settings.catalog)
    started = time.monotonic()
    _say(f"simulate {periods[0]}..{periods[-1]} under {settings.catalog}")
    _say(f"  1/4 copy {settings.warehouse} to a scratch file")
    with simulation.scratch_copy(settings.warehouse) as copy:
        baseline = simulation.reprice(copy, settings.warehouse, catalog, periods)
        if args.as_of and settings.as_of != baseline.clock:
            raise CommandError(
                f"--as-of {args.as_of}: a simulation rebuilds at the clock of the warehouse's "
                f"last build ({baseline.clock.isoformat()}); leave --as-of out"
            )
        clock = baseline.clock.isoformat(timespec="seconds")
        _say(f"  2/4 rebuild every model from raw under the new catalog, as of {clock}")
        _rebuild_copy(copy, clock, dbt_log_path(settings.warehouse), "the simulated build")
        _say("  3/4 compare the rebuilt marts with the warehouse's")
        comparison = simulation.Comparison(
            tuple(periods),
            baseline.figures,
            simulation.read_simulated(copy, periods),
            baseline.names,
        )
    changed = comparison.customer_rows()
    customers = len({row.customer_id for row in changed})
    _say(f"  4/4 write the report: {len(changed)} changed figures of {customers} customers")
    paths = simulation.write_report(
        comparison, settings.reports, settings.catalog, catalog, baseline.clock
    )
    _say(f"simulated {periods[0]}..{periods[-1]} in {time.monotonic() - started:.1f}s")
    for path in paths:
        print(path)


def _rebuild_copy(copy: Path, clock: str, log: Path, what: str) -> None:
    """Every dbt model of the scratch copy rebuilt from raw at `clock`: the dbt assets of a
    run, alone (no ingest, close, documents or alerts: nothing outside the copy changes).
    `credits simulate` and `credits report restatements` rebuild with it; `what` names the
    build in the one line a failure ends with."""
    from dagster import DagsterEventType, DagsterInstance, materialize

    from credits_warehouse.spark_warehouse import SPARK_DIR_VARIABLE
    from dagster_project.dbt import credits_dbt_assets, environment
    from dagster_project.resources import CreditsSettings, dbt_resource

    scratch = copy.parent
    resource = CreditsSettings(
        landing=str(scratch / "landing"),  # none: the copy's raw tables are the history
        catalog=str(scratch / "catalog.yml"),  # unread: the copy's catalog tables are set
        warehouse=str(copy),
        reports=str(scratch / "reports"),
        as_of=clock,
        hold_writer_lock=False,
        full_refresh=True,
    )
    with (
        # CREDITS_ENGINE=spark: the copy's Spark side in the scratch folder too (deleted with
        # it), never the warehouse's own, whatever CREDITS_SPARK_DIR says.
        environment({SPARK_DIR_VARIABLE: f"{copy}.spark"}),
        DbtOutput(log) as dbt_output,
        contextlib.redirect_stdout(dbt_output),
    ):
        result = materialize(
            [credits_dbt_assets],
            resources={"settings": resource, "dbt": dbt_resource()},
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
            run_config=QUIET_RUN,
        )
    if not result.success:
        raise CommandError(
            f"{what} failed: {_first_failure(result, DagsterEventType)} (dbt's log: {log})"
        )


def cmd_deliver(args) -> None:
    from credits_warehouse.delivery import DeliveryError, deliver
    from credits_warehouse.periods import period_bounds
    from credits_warehouse.settings import resolve_smtp_settings

    def progress(done: int, total: int) -> None:
        # Imported on the first email sent: it loads Dagster (seconds), which a delivery
        # with nothing to send does without.
        from dagster_project.assets.ingest import progress_bar

        progress_bar("emails sent", done, total)

    settings = _settings(args)
    period_bounds(args.period)
    smtp = resolve_smtp_settings()
    started = time.monotonic()
    _say(f"deliver {args.period} from {settings.reports} through {smtp.host}:{smtp.port}")
    try:
        run = deliver(
            settings.warehouse,
            settings.reports,
            args.period,
            smtp,
            settings.as_of,
            progress=progress,
        )
    except DeliveryError as err:
        raise CommandError(str(err)) from None
    if run.documents == 0:
        _say(f"period {args.period} has no documents; nothing to do")
    elif run.emails == 0 and not run.unaddressed:
        _say(f"all {run.documents} documents of {args.period} were already sent; nothing to do")
    else:
        _say(
            f"sent {run.sent_emails} of {run.emails} emails with {run.sent_documents} documents"
            f" in {time.monotonic() - started:.1f}s; {run.already_sent + run.sent_documents} of"
            f" the {run.documents} documents of {args.period} are now sent"
        )
    if run.resent:
        _say(
            "sent again, as a delivery stopped before the server's reply to them was recorded:"
            f" {len(run.resent)} emails, the first to {run.resent[0]} (under the same"
            " Message-ID, so a copy the customer may already have is recognisable)"
        )
    if problem := run.problem():
        raise CommandError(problem)


def cmd_report(args) -> None:
    """A closed period's restatement report (credits_warehouse/restatements.py). Usage is
    read from the warehouse's views; money, unless --usage-only, from a scratch copy rebuilt
    with no period closed. The warehouse is only read."""
    from credits_warehouse import restatements
    from credits_warehouse.catalog import load_catalog
    from credits_warehouse.documents.contexts import Party
    from credits_warehouse.periods import period_bounds
    from credits_warehouse.warehouse import require_warehouse

    settings = _settings(args)
    period_bounds(args.period)
    require_warehouse(settings.warehouse)
    seller = Party.seller(load_catalog(settings.catalog).seller)
    paths = restatements.report_paths(args.period, args.out, settings.reports)
    if args.usage_only:
        records = restatements.read_restatements(settings.warehouse, args.period)
        money = None
    else:
        records, money = _restate_money(settings, args.period)
    written = restatements.write_restatements(paths, args.period, records, seller, money)
    _say(f"reported restatements of {args.period}: {len(records)} customers with usage")
    for path in written:
        print(path)


def _restate_money(settings, period: str):
    """The period's usage restatement and money restatement, from a scratch copy of the
    warehouse rebuilt with no period closed (a full refresh, as long as `credits run
    --full-refresh`)."""
    from credits_warehouse import restatements, simulation
    from credits_warehouse.warehouse import connect

    with contextlib.closing(connect(settings.warehouse, read_only=True)) as con:
        restatements.check_closed(con, period)  # before the copy and the rebuild
    started = time.monotonic()
    _say(f"restate {period}'s money: the warehouse rebuilt with no period closed")
    _say(f"  1/3 copy {settings.warehouse} to a scratch file")
    with simulation.scratch_copy(settings.warehouse) as copy:
        at_close = restatements.forget_closes(copy, settings.warehouse, period)
        clock = at_close.clock.isoformat(timespec="seconds")
        _say(f"  2/3 rebuild every model from raw with no period closed, as of {clock}")
        _rebuild_copy(copy, clock, dbt_log_path(settings.warehouse), "the restated build")
        now = restatements.read_money_now(copy, period)
    money = restatements.MoneyRestatement(period, at_close.frozen, now, at_close.names)
    moved = money.customer_rows()
    _say(
        f"  3/3 compare with the figures frozen at the close: {len(moved)} moved, of "
        f"{len({row.customer_id for row in moved})} customers ({time.monotonic() - started:.1f}s)"
    )
    return at_close.records, money


def cmd_demo(args) -> None:
    from credits_warehouse.periods import period_bounds
    from credits_warehouse.sample_data.generate import generate
    from credits_warehouse.settings import resolve_settings

    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    started = time.monotonic()
    start = dt.date(2026, 1, 1)
    _say(f"demo: generating {args.events:,} events for {args.customers} customers into {out}")
    summary = generate(
        out,
        customers=args.customers,
        events=args.events,
        start=start,
        months=args.months,
        seed=args.seed,
        catalog_path=Path(args.catalog) if args.catalog else None,
        progress=lambda msg: _say(f"  generate: {msg}"),
    )
    end = dt.datetime.combine(summary.end, dt.time())
    settings = resolve_settings(
        landing=str(summary.landing),
        catalog=str(summary.catalog),
        warehouse=args.warehouse or str(out / "warehouse.duckdb"),
        reports=args.reports or str(out / "reports"),
        as_of=args.as_of or end.isoformat(),
    )
    cmd_run(args, settings)
    last = f"{(end - dt.timedelta(days=1)):%Y-%m}"
    period_bounds(last)
    cmd_close(args, settings, last)
    _say(f"demo finished in {time.monotonic() - started:.1f}s")
    print(f"warehouse: {settings.warehouse}")
    print(f"PDFs: {settings.reports} (<period>/statements, <period>/invoices)")
    duckdb_cli = Path(sys.executable).parent / "duckdb"
    print(f'try: {duckdb_cli} -readonly {settings.warehouse} "from marts.dim_customers limit 5"')


COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "close": cmd_close,
    "backfill": cmd_backfill,
    "export": cmd_export,
    "simulate": cmd_simulate,
    "deliver": cmd_deliver,
    "report": cmd_report,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore")
    from credits_warehouse.catalog import CatalogError
    from credits_warehouse.ingest import LandingError
    from credits_warehouse.settings import SettingsError
    from credits_warehouse.warehouse import WarehouseBusy

    try:
        COMMANDS[args.command](args)
    except (
        CommandError,
        CatalogError,
        LandingError,
        SettingsError,
        WarehouseBusy,
        ValueError,
    ) as err:
        print(f"credits {args.command}: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"credits {args.command}: interrupted; the warehouse is unchanged", file=sys.stderr)
        return 130
    return 0


def console_main() -> None:
    """The `credits` command: `main`, then the exit handlers (logging's flush among them)
    and out, without the interpreter's teardown of every module, which costs a second
    after each command (Dagster, dbt's adapter, DuckDB and WeasyPrint loaded). Every file
    a command writes is closed by then, and every DuckDB connection."""
    code = main()
    atexit._run_exitfuncs()  # what a normal exit runs first: no public spelling of it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
