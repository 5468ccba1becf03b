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
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from credits_warehouse.documents import safe_filename
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


def restatement_rows(con, period: str) -> list[list[str]]:
    """The period's rows of rpt_restatements as CSV cells; the period must be closed."""
    period_bounds(period)
    through = closed_through(con)
    if through is None or period > through:
        closed = f"closed through {through}" if through else "no period is closed yet"
        raise PeriodNotClosed(
            f"period {period} is not closed ({closed}); restatements are of closed periods"
        )
    rows = con.execute(
        f"select {', '.join(COLUMNS)} from reporting.rpt_restatements"  # noqa: S608 - fixed names
        " where period = ? order by customer_id",
        [period],
    ).fetchall()
    return [[cell(c, v) for c, v in zip(COLUMNS, row, strict=True)] for row in rows]


def export_restatements(
    warehouse: Path, period: str, out: Path | None, reports: Path
) -> tuple[Path, int]:
    """Write the closed period's restatement report as CSV; returns the path and row count.

    A reader, like the journal export: it takes no writer lock and reads the warehouse as
    published; the CSV appears complete or not at all (`exports.write_csv`)."""
    period_bounds(period)
    con = connect(warehouse, read_only=True)
    try:
        rows = restatement_rows(con, period)
    finally:
        con.close()
    path = out or reports / safe_filename(period) / f"restatements-{safe_filename(period)}.csv"
    write_csv(path, COLUMNS, rows)
    return path, len(rows)
