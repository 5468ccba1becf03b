"""The restatement report: for a closed period, each customer's usage as frozen at the
close beside usage as the data now says, with every late event counted in the period it
happened in (`reporting.rpt_restatements`; docs/ledger.md "Restatements").

The CSV has rpt_restatements' columns, in its order, one row per customer with usage in
the period (at its close or now), by customer_id:
- `period`, `customer_id`, `customer_name`;
- `frozen_at`: when the close froze the period's figures, ISO 8601 UTC (empty if none);
- `events_at_close`, `events_now`, `events_delta`: rated events booked in the period, that
  happened in it, and the difference;
- `usage_credits_at_close`, `usage_credits_now`, `usage_credits_delta`: their credits
  (at close: the frozen ledger figures), before voids;
- `late_events_booked_later`, `late_credits_booked_later`: late events that happened in the
  period and were booked after it; `late_events_from_earlier`, `late_credits_from_earlier`:
  late events of earlier periods booked in it. So delta = booked later - from earlier.

Credits are exact decimals written in full, without trailing zeros or an exponent (`1250.5`,
`-50`); counts are integers. Text cells (ids, names) are `neutralize`d against spreadsheet
formulas; numbers are written here from exact values, so a negative delta keeps its sign.

Beside the CSV, a one-page PDF (`restatements-<period>.pdf`, template
reports/templates/restatements.html.j2): the totals over every customer, and the customers
whose usage moved, largest change in credits first, as many as fit on the page
(`PDF_LINES`); the CSV has them all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

from credits_warehouse.atomic_files import remove_orphaned_temp_files
from credits_warehouse.documents import DocumentRenderer, safe_filename
from credits_warehouse.documents.contexts import Party, RestatementContext, RestatementLine
from credits_warehouse.exports import neutralize, write_csv
from credits_warehouse.periods import period_bounds
from credits_warehouse.warehouse import closed_through, connect

COLUMNS = (
    "period", "customer_id", "customer_name", "frozen_at",
    "events_at_close", "events_now", "events_delta",
    "usage_credits_at_close", "usage_credits_now", "usage_credits_delta",
    "late_events_booked_later", "late_credits_booked_later",
    "late_events_from_earlier", "late_credits_from_earlier",
)  # fmt: skip
TEXT_COLUMNS = frozenset({"period", "customer_id", "customer_name"})
LINE_FIELDS = tuple(field.name for field in dataclasses.fields(RestatementLine))
PDF_LINES = 30  # customers listed on the one-page PDF


class PeriodNotClosed(ValueError):
    """A restatement asked of a period that is still open."""


def cell(column: str, value: object) -> str:
    """One CSV cell: text neutralized, instants in ISO 8601, exact numbers in full."""
    if value is None:
        return ""
    if column in TEXT_COLUMNS:
        return neutralize(str(value))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text == "-0" else text
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"{column}: unexpected {type(value).__name__}")


def restatement_records(con, period: str) -> list[dict]:
    """The period's rows of rpt_restatements, by customer_id; the period must be closed."""
    period_bounds(period)
    through = closed_through(con)
    if through is None or period > through:
        closed = f"closed through {through}" if through else "no period is closed yet"
        raise PeriodNotClosed(
            f"period {period} is not closed ({closed}); restatements are of closed periods"
        )
    cursor = con.execute(
        f"select {', '.join(COLUMNS)} from reporting.rpt_restatements"  # noqa: S608 - fixed names
        " where period = ? order by customer_id",
        [period],
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def csv_rows(records: list[dict]) -> list[list[str]]:
    return [[cell(c, record[c]) for c in COLUMNS] for record in records]


def restatement_context(seller: Party, period: str, records: list[dict]) -> RestatementContext:
    """The PDF's context. Dated when the period's figures were frozen (its end, if they
    never were): a function of the data, so a rerun on the same data is byte-identical."""
    frozen_at = next((r["frozen_at"] for r in records if r["frozen_at"] is not None), None)
    totals = RestatementLine(
        "", "", *(sum((r[f] for r in records), start=0) for f in LINE_FIELDS[2:])
    )
    moved = sorted(
        (r for r in records if r["events_delta"] or r["usage_credits_delta"]),
        key=lambda r: (-abs(r["usage_credits_delta"]), -abs(r["events_delta"]), r["customer_id"]),
    )
    return RestatementContext(
        document_date=(frozen_at or period_bounds(period)[1]).isoformat(),
        seller=seller,
        period=period,
        frozen_at=frozen_at,
        customers=len(records),
        totals=totals,
        lines=tuple(RestatementLine(*(r[f] for f in LINE_FIELDS)) for r in moved[:PDF_LINES]),
        omitted=max(len(moved) - PDF_LINES, 0),
    )


def export_restatements(
    warehouse: Path, period: str, out: Path | None, reports: Path, seller: Party
) -> tuple[Path, Path, int]:
    """Write the closed period's restatement report as CSV and as a one-page PDF beside it
    (the CSV's name with .pdf); returns both paths and the CSV's row count.

    A reader, like the journal export: it takes no writer lock and reads the warehouse as
    published; each file appears complete or not at all (`exports.write_csv`,
    `DocumentRenderer.write_pdf`)."""
    con = connect(warehouse, read_only=True)
    try:
        records = restatement_records(con, period)
    finally:
        con.close()
    path = out or reports / safe_filename(period) / f"restatements-{safe_filename(period)}.csv"
    pdf = path.with_suffix(".pdf")
    if pdf == path:
        raise ValueError(f"--out {path}: the PDF goes beside the CSV as .pdf; name the CSV")
    write_csv(path, COLUMNS, csv_rows(records))
    remove_orphaned_temp_files(pdf)
    context = restatement_context(seller, period, records)
    DocumentRenderer().render_document("restatements", context.template_context(), pdf)
    return path, pdf, len(records)
