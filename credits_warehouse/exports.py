"""Finance exports: a period's journal entries as CSV for QuickBooks or Xero.

Columns (one row per posting; each JournalNumber balances):
- `Date`: posting date, YYYY-MM-DD (UTC).
- `JournalNumber`: the journal_id; all rows of one journal share it.
- `Reference`: what the journal books, `<source_type>:<source_id>`.
- `Description`: a readable line: customer and source.
- `AccountCode`: cash, receivable, deferred_revenue, usage_revenue, breakage_revenue,
  overage_revenue, tax_payable or refunds (map them to your chart of accounts).
- `Debit`, `Credit`: amounts in major units with the currency's decimals (`12.34`);
  exactly one of the two is non-zero.
- `Currency`: ISO 4217 code.
- `Customer`: the customer_id.

Cells are text a spreadsheet would evaluate if they began with `=`, `+`, `-`, `@`, a tab
or a carriage return; such cells are prefixed with `'` (OWASP's advice against CSV
injection). Amounts are never negative, so no number is altered.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import duckdb

from credits_warehouse.atomic_files import remove_orphaned_temp_files, write_atomically
from credits_warehouse.documents import safe_filename
from credits_warehouse.money import major_units
from credits_warehouse.warehouse import connect

COLUMNS = (
    "Date", "JournalNumber", "Reference", "Description", "AccountCode",
    "Debit", "Credit", "Currency", "Customer",
)  # fmt: skip
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def plain_number(value: int | Decimal) -> str:
    """An exact figure as a plain number cell: `-3000`, `2412.5`, never an exponent or `-0`
    (the simulation's and the restatements' CSVs)."""
    if isinstance(value, Decimal):
        return "0" if value == 0 else f"{value.normalize():f}"
    return str(int(value))


def journal_rows(con: duckdb.DuckDBPyConnection, period: str) -> list[list[str]]:
    rows = con.execute(
        """
        select posted_at, journal_id, source_type, source_id, account, debit, credit, currency, customer_id
        from marts.fct_journal_entries
        where period = ?
        order by posted_at, journal_id, debit desc, account
        """,
        [period],
    ).fetchall()
    out = []
    for (
        posted_at,
        journal_id,
        source_type,
        source_id,
        account,
        debit,
        credit,
        currency,
        customer_id,
    ) in rows:
        cells = [
            posted_at.date().isoformat(),
            journal_id,
            f"{source_type}:{source_id}",
            f"{customer_id} {source_type.replace('_', ' ')}",
            account,
            major_units(debit, currency),
            major_units(credit, currency),
            currency,
            customer_id,
        ]
        out.append([neutralize(c) for c in cells])
    return out


def export_journals(
    warehouse: Path, period: str, out: Path | None, reports: Path
) -> tuple[Path, int]:
    """Write the period's journals as CSV; returns the path and row count.

    A reader, so it takes no writer lock: it reads the warehouse file as published (a run
    replaces it in one rename), and the CSV appears complete or not at all
    (`write_atomically`). What an export killed mid-write left beside the CSV is removed
    first, if its process has gone (docs/RELIABILITY.md, "Exports")."""
    con = connect(warehouse, read_only=True)
    try:
        rows = journal_rows(con, period)
    finally:
        con.close()
    path = out or reports / safe_filename(period) / f"journals-{safe_filename(period)}.csv"
    write_csv(path, COLUMNS, rows)
    return path, len(rows)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write a header and rows of cells (already text, already `neutralize`d where they
    come from data) as CSV that appears complete or not at all; what an export killed
    mid-write left beside it is removed first, if its process has gone."""
    remove_orphaned_temp_files(path)
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    writer.writerows(rows)
    return write_atomically(text.getvalue().encode("utf-8"), path)
