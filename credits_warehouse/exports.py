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
import os
from decimal import Decimal
from pathlib import Path

import duckdb
from babel.numbers import get_currency_precision

from credits_warehouse.documents import safe_filename

COLUMNS = (
    "Date", "JournalNumber", "Reference", "Description", "AccountCode",
    "Debit", "Credit", "Currency", "Customer",
)  # fmt: skip
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def major_units(amount_minor: int, currency: str) -> str:
    digits = get_currency_precision(currency)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


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
    """Write the period's journals as CSV (atomically); returns the path and row count."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = journal_rows(con, period)
    finally:
        con.close()
    path = out or reports / safe_filename(period) / f"journals-{safe_filename(period)}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, path)
    return path, len(rows)
