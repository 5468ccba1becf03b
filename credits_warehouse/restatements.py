"""The restatement report: for a closed period, each customer's usage and money as frozen
at the close beside the same figures as the data now says, with every late event counted in
the period it happened in (usage: `reporting.rpt_restatements`; money: the warehouse rebuilt
in a scratch copy with no period closed; docs/ledger.md "Restatements").

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

Beside it, the money CSV (`restatements-money-<period>.csv`, MONEY_COLUMNS; not with
`--usage-only`): the figures a close freezes (int_period_figures: `ledger:<entry_type>` in
credits, `invoices:<invoice_type>:<currency>` and `deferred_revenue:<currency>` in integer
minor units) as frozen in `raw.frozen_figures` (`at_close`) and as the rebuild without
closes makes them (`now`), and `delta` = now - at_close: first a `total` row per figure,
summed over the customers (zero deltas included), then a `customer` row per customer and
figure that moved, by customer_id and figure. `unit` is `credits` or `minor_units`.

Beside the CSV, a PDF (`restatements-<period>.pdf`, template
reports/templates/restatements.html.j2): on its first page the totals over every customer,
and the customers whose usage moved, largest change in credits first, as many as fit on
the page (`PDF_LINES`); on a second page, unless `--usage-only`, "Money as known now": the
totals that moved and the customers' figures that moved, largest money change first
(`MONEY_PDF_LINES`); the CSVs have them all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

from credits_warehouse.atomic_files import remove_orphaned_temp_files
from credits_warehouse.documents import DocumentRenderer, safe_filename
from credits_warehouse.documents.contexts import (
    Party,
    RestatedFigure,
    RestatementContext,
    RestatementLine,
)
from credits_warehouse.exports import neutralize, plain_number, write_csv
from credits_warehouse.periods import period_bounds
from credits_warehouse.simulation import customer_names, last_build_clock
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
    if isinstance(value, Decimal | int):
        return plain_number(value)
    raise TypeError(f"{column}: unexpected {type(value).__name__}")


def check_closed(con, period: str) -> None:
    """Refuse, in one line, a malformed period or one that is still open."""
    period_bounds(period)
    through = closed_through(con)
    if through is None or period > through:
        closed = f"closed through {through}" if through else "no period is closed yet"
        raise PeriodNotClosed(
            f"period {period} is not closed ({closed}); restatements are of closed periods"
        )


def restatement_records(con, period: str) -> list[dict]:
    """The period's rows of rpt_restatements, by customer_id; the period must be closed."""
    check_closed(con, period)
    cursor = con.execute(
        f"select {', '.join(COLUMNS)} from reporting.rpt_restatements"  # noqa: S608 - fixed names
        " where period = ? order by customer_id",
        [period],
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def csv_rows(records: list[dict]) -> list[list[str]]:
    return [[cell(c, record[c]) for c in COLUMNS] for record in records]


def restatement_context(
    seller: Party, period: str, records: list[dict], money: MoneyRestatement | None = None
) -> RestatementContext:
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
    money_pages = {}
    if money is not None:
        lines = money.pdf_rows()
        money_pages = {
            "money_restated": True,
            "money_totals": tuple(row.figure_line() for row in money.total_rows() if row.delta),
            "money_lines": tuple(row.figure_line() for row in lines[:MONEY_PDF_LINES]),
            "money_omitted": max(len(lines) - MONEY_PDF_LINES, 0),
        }
    return RestatementContext(
        document_date=(frozen_at or period_bounds(period)[1]).isoformat(),
        seller=seller,
        period=period,
        frozen_at=frozen_at,
        customers=len(records),
        totals=totals,
        lines=tuple(RestatementLine(*(r[f] for f in LINE_FIELDS)) for r in moved[:PDF_LINES]),
        omitted=max(len(moved) - PDF_LINES, 0),
        **money_pages,
    )


# --------------------------------------------------------------------------- money as known now
#
# The money a close freezes (int_period_figures: ledger totals by entry type, the final
# invoices' totals, deferred revenue at the period's end) depends on where each late event
# would have drawn in its own period, which only the ledger walked again can say. So the
# warehouse is copied (simulation.scratch_copy), the copy forgets every close, and every
# model of it is rebuilt from raw at the clock of the warehouse's last build: with no period
# closed, no event is late and each is booked in the period it happened in. The rebuild
# itself is the CLI's (it runs the dbt assets); this module prepares the copy and compares.

# What a close writes into the warehouse and the models read back (dagster_project/assets/
# finance.py): which periods are closed (what makes an event or a grant amendment late),
# the figures it froze, the numbers it gave. Alerts, deliveries and build records are written
# by runs and `credits deliver`, not by closes, and no model's figures depend on them.
CLOSE_TABLES = ("period_closes", "frozen_figures", "invoice_numbers")

MONEY_COLUMNS = (
    "scope", "period", "customer_id", "customer_name", "figure", "unit", "at_close", "now", "delta",
)  # fmt: skip
MONEY_PDF_LINES = 15  # customer figures listed on the money page; the CSV has them all

# (customer_id, figure); figures are int_period_figures' names.
FigureKey = tuple[str, str]

FROZEN_SQL = "select customer_id, figure, value from raw.frozen_figures where period = ?"
# int_period_figures takes final invoices only; in the rebuild nothing is closed, so nothing
# is final: there the period's invoices count whatever their status (all of them are final
# in the warehouse, where the period is closed).
NOW_SQL = """
select customer_id, figure, value
from intermediate.int_period_figures
where period = $period and not starts_with(figure, 'invoices:')
union all
select customer_id, 'invoices:' || invoice_type || ':' || currency, sum(total)
from intermediate.int_invoices_numbered
where period = $period
group by customer_id, invoice_type, currency
"""


def is_credits(figure: str) -> bool:
    """`ledger:<entry_type>` figures are credits; the others money in minor units."""
    return figure.startswith("ledger:")


def _exact(figure: str, value) -> int | Decimal:
    """A stored figure (decimal(38, 12)) as what it is: credits exact, money whole minor units."""
    value = Decimal(value)
    if is_credits(figure):
        return value
    if value != value.to_integral_value():
        raise ValueError(f"figure {figure} is {value}, not whole minor units")
    return int(value)


def _figures(rows) -> dict[FigureKey, int | Decimal]:
    return {(customer_id, figure): _exact(figure, value) for customer_id, figure, value in rows}


def _zero(figure: str) -> int | Decimal:
    return Decimal(0) if is_credits(figure) else 0


def figure_order(figure: str) -> tuple:
    """Ledger first, then invoices, then deferred revenue; by name within each."""
    kind = figure.split(":", 1)[0]
    return ({"ledger": 0, "invoices": 1, "deferred_revenue": 2}.get(kind, 3), figure)


def figure_label(figure: str) -> tuple[str, str]:
    """A figure's words and currency for the PDF: `invoices:subscription:USD` is
    ("Invoices: subscription", "USD"), `ledger:usage` ("Ledger: usage", "")."""
    kind, _, rest = figure.partition(":")
    if kind == "ledger":
        return f"Ledger: {rest.replace('_', ' ')}", ""
    if kind == "invoices":
        invoice_type, _, currency = rest.rpartition(":")
        return f"Invoices: {invoice_type.replace('_', ' ')}", currency
    if kind == "deferred_revenue":
        return "Deferred revenue at period end", rest
    return figure, ""


@dataclasses.dataclass(frozen=True)
class MoneyRow:
    """A figure of the period at its close and now, for a customer or (scope "total") all."""

    scope: str
    customer_id: str
    customer_name: str
    figure: str
    at_close: int | Decimal
    now: int | Decimal

    @property
    def delta(self) -> int | Decimal:
        return self.now - self.at_close

    @property
    def unit(self) -> str:
        return "credits" if is_credits(self.figure) else "minor_units"

    def figure_line(self) -> RestatedFigure:
        label, currency = figure_label(self.figure)
        return RestatedFigure(
            self.customer_id, self.customer_name, label, currency,
            self.at_close, self.now, self.delta,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class AtClose:
    """What the copy held before it forgot its closes: the clock to rebuild it at, the
    period's usage restatement, its frozen figures and the customers' names."""

    clock: dt.datetime
    records: list[dict]
    frozen: dict[FigureKey, int | Decimal]
    names: dict[str, str]


def forget_closes(copy: Path, warehouse: Path, period: str) -> AtClose:
    """Read the period as the warehouse has it from the copy (one consistent state), then
    empty the copy's close tables (CLOSE_TABLES): the copy is then ready for a full refresh
    at the returned clock in which no period is closed."""
    con = connect(copy)
    try:
        clock = last_build_clock(con, warehouse)
        records = restatement_records(con, period)
        frozen = _figures(con.execute(FROZEN_SQL, [period]).fetchall())
        names = customer_names(con)
        for table in CLOSE_TABLES:
            con.execute(f"delete from raw.{table}")  # noqa: S608 - fixed names
    finally:
        con.close()
    return AtClose(clock, records, frozen, names)


def read_money_now(copy: Path, period: str) -> dict[FigureKey, int | Decimal]:
    """The period's figures in the rebuilt copy, per customer (see NOW_SQL)."""
    con = connect(copy, read_only=True)
    try:
        return _figures(con.execute(NOW_SQL, {"period": period}).fetchall())
    finally:
        con.close()


@dataclasses.dataclass(frozen=True)
class MoneyRestatement:
    """A closed period's money figures as frozen at its close and as known now."""

    period: str
    at_close: dict[FigureKey, int | Decimal]
    now: dict[FigureKey, int | Decimal]
    names: dict[str, str]

    def _row(self, key: FigureKey) -> MoneyRow:
        customer_id, figure = key
        zero = _zero(figure)
        return MoneyRow(
            "customer", customer_id, self.names.get(customer_id, customer_id), figure,
            self.at_close.get(key, zero), self.now.get(key, zero),
        )  # fmt: skip

    def customer_rows(self) -> list[MoneyRow]:
        """Each customer's figure that moved, by customer_id and figure; none else."""
        keys = sorted(set(self.at_close) | set(self.now), key=lambda k: (k[0], figure_order(k[1])))
        return [row for row in map(self._row, keys) if row.delta != 0]

    def total_rows(self) -> list[MoneyRow]:
        """Every figure summed over the customers, zero deltas included."""
        figures = sorted({f for _, f in (*self.at_close, *self.now)}, key=figure_order)

        def total(side, figure):
            return sum((v for (_, f), v in side.items() if f == figure), _zero(figure))

        return [
            MoneyRow("total", "", "", f, total(self.at_close, f), total(self.now, f))
            for f in figures
        ]

    def pdf_rows(self) -> list[MoneyRow]:
        """The customer rows for the PDF: customers whose money moved most first (the
        largest change in any money figure, then in credits), each with its figures."""
        rows = self.customer_rows()
        by_customer: dict[str, list[MoneyRow]] = {}
        for row in rows:
            by_customer.setdefault(row.customer_id, []).append(row)

        def weight(customer_id):
            moved = by_customer[customer_id]
            money = max((abs(r.delta) for r in moved if not is_credits(r.figure)), default=0)
            credits = max((abs(r.delta) for r in moved if is_credits(r.figure)), default=0)
            return (-money, -credits, customer_id)

        return [row for c in sorted(by_customer, key=weight) for row in by_customer[c]]

    def csv_rows(self) -> list[list[str]]:
        """The totals, then each customer figure that moved (MONEY_COLUMNS)."""
        return [
            [
                neutralize(row.scope),
                neutralize(self.period),
                neutralize(row.customer_id),
                neutralize(row.customer_name),
                neutralize(row.figure),
                row.unit,
                cell("at_close", row.at_close),
                cell("now", row.now),
                cell("delta", row.delta),
            ]  # fmt: skip
            for row in (*self.total_rows(), *self.customer_rows())
        ]


# --------------------------------------------------------------------------- the files


def report_paths(period: str, out: Path | None, reports: Path) -> tuple[Path, Path, Path]:
    """The usage CSV (`--out`, or `<reports>/<period>/restatements-<period>.csv`), the PDF
    beside it as .pdf, and the money CSV beside it, `restatements-money-<period>.csv`."""
    name = safe_filename(period)
    path = out or reports / name / f"restatements-{name}.csv"
    pdf = path.with_suffix(".pdf")
    money = path.with_name(f"restatements-money-{name}.csv")
    if pdf == path or money == path:
        raise ValueError(
            f"--out {path}: the PDF goes beside the CSV as .pdf and the money beside it as "
            f"{money.name}; name the CSV otherwise"
        )
    return path, pdf, money


def read_restatements(warehouse: Path, period: str) -> list[dict]:
    """The period's usage restatement, read from the warehouse as published (a reader, like
    the journal export: no writer lock)."""
    con = connect(warehouse, read_only=True)
    try:
        return restatement_records(con, period)
    finally:
        con.close()


def write_restatements(
    paths: tuple[Path, Path, Path],
    period: str,
    records: list[dict],
    seller: Party,
    money: MoneyRestatement | None = None,
) -> list[Path]:
    """Write the usage CSV, the money CSV (with `money`) and the PDF; returns what was
    written. Each file appears complete or not at all (`exports.write_csv`,
    `DocumentRenderer.write_pdf`)."""
    path, pdf, money_path = paths
    write_csv(path, COLUMNS, csv_rows(records))
    if money is not None:
        write_csv(money_path, MONEY_COLUMNS, money.csv_rows())
    remove_orphaned_temp_files(pdf)
    context = restatement_context(seller, period, records, money)
    DocumentRenderer().render_document("restatements", context.template_context(), pdf)
    return [path, pdf] if money is None else [path, pdf, money_path]
