"""The ingest stage: the catalog and the landing files into DuckDB `raw`."""

import sys

from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, multi_asset

from credits_warehouse.catalog import load_catalog
from credits_warehouse.incremental import tables_checked_by_a_build
from credits_warehouse.ingest import LANDING_TABLES, load_landing
from credits_warehouse.warehouse import CATALOG_DDL, write_catalog
from dagster_project.resources import CreditsSettings

CATALOG_TABLES = (*CATALOG_DDL, "iso_currencies")

# The metadata key of a landing table's materialization saying that its latest load batch
# was read by a published build, whose run judged it.
CHECKED_BEFORE = "latest_batch_checked_before"


def progress_line(message: str) -> None:
    """One line of progress on stderr for the person at the terminal."""
    print(message, file=sys.stderr, flush=True)


def progress_bar(label: str, done: int, total: int, width: int = 30) -> None:
    """A bar redrawn in place on a terminal; on a log (not a TTY), a line now and then."""
    if sys.stderr.isatty():
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if done >= total else ""
        print(f"\r  {label} [{bar}] {done}/{total}", end=end, file=sys.stderr, flush=True)
    elif done in (1, total) or done % 25 == 0:
        progress_line(f"  {label}: {done}/{total}")


@multi_asset(
    specs=[
        AssetSpec(["raw", t], group_name="raw", description="The validated catalog as data.")
        for t in CATALOG_TABLES
    ],
    can_subset=False,
)
def catalog_tables(context: AssetExecutionContext, settings: CreditsSettings):
    """The price list, validated and written as `raw.catalog_*` rows for dbt to join on."""
    resolved = settings.resolve()
    catalog = load_catalog(resolved.catalog)
    with settings.connection() as con:
        counts = write_catalog(con, catalog)
    for table in CATALOG_TABLES:
        yield MaterializeResult(asset_key=["raw", table], metadata={"rows": counts.get(table, 0)})


@multi_asset(
    specs=[
        AssetSpec(
            ["raw", t],
            group_name="raw",
            description=f"Landing rows of the {t} feed, each kept whole.",
        )
        for t in LANDING_TABLES
    ],
    can_subset=False,
)
def landing_files(context: AssetExecutionContext, settings: CreditsSettings):
    """New landing files loaded once each into `raw`, as one load batch (contract §2)."""
    resolved = settings.resolve()

    def progress(i: int, n: int, name: str) -> None:
        if i == 1 or i == n or i % 20 == 0:
            progress_line(f"  ingest: file {i}/{n} {name}")

    with settings.connection() as con:
        batch = load_landing(con, resolved.landing, resolved.as_of, progress)
        checked = tables_checked_by_a_build(con, LANDING_TABLES)
    progress_line(
        f"  ingest: {batch.files_loaded} new files, {batch.files_skipped} already loaded, "
        f"{batch.total_rows:,} rows"
    )
    for source_file, why in batch.refused:
        # One line per refused file, naming it; its row is quarantined as unreadable_file.
        progress_line(f"  ingest: refused {source_file}: {why}")
        context.log.warning(f"refused landing file {source_file}: {why}")
    for table in LANDING_TABLES:
        yield MaterializeResult(
            asset_key=["raw", table],
            metadata={
                "load_batch_id": batch.load_batch_id if batch.files_loaded else "",
                "rows_loaded": batch.rows.get(table, 0),
                "files_skipped": batch.files_skipped,
                # Its latest load batch was judged by the run that loaded it: the table's
                # pandera check need not judge it again (dagster_project/checks).
                CHECKED_BEFORE: table in checked,
            },
        )
