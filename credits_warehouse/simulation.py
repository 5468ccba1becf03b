"""What-if re-rating (`credits simulate`): the history rebuilt under another catalog, in a
scratch copy of the warehouse, and what changes per customer and period.

The warehouse is only read: it is copied (one read of the file as published; a run swaps
a new file in by rename, so the copy is one consistent state), and the copy is what
changes. In the copy:
- the catalog tables are the new catalog's (`write_catalog`, values bound, never spliced);
- the control tables of what closes froze and numbered (`raw.frozen_figures`,
  `raw.invoice_numbers`) are emptied, so that the frozen-figures check, which refuses a
  closed period that changed, does not stop the re-rating of closed periods, and numbers
  are given afresh, gap-free, to whatever invoices the new catalog makes. The closes
  themselves (`raw.period_closes`) are kept: invoices of closed periods are final and late
  events are late, as in the warehouse;
- every dbt model is rebuilt from `raw` (a full refresh) with the clock of the warehouse's
  last build, so that the catalog is the only difference.

The baseline is the warehouse's own marts (read from the copy before it changes). Under the
same catalog the rebuilt marts equal them (a full refresh equals the incremental builds,
tests/dbt/test_incremental.py), so every delta is zero.

Measures, per customer, period and (for money) currency, money in integer minor units:
- `credits_consumed`: credits of the usage booked in the period (`fct_monthly_usage`; a
  late event counts in the period it was booked in);
- `overage_credits`: overage settled at the period's end, the credits billed
  (`fct_credit_ledger` entries `overage_settlement`);
- `overage_amount`: what the period's invoices bill for overage (`fct_invoice_lines` of
  kind `overage`);
- `invoiced_amount`: the period's invoices, tax included, less its credit notes
  (`fct_invoices`, drafts of open periods included);
- `recognized_revenue`: usage, breakage and overage revenue of the period
  (`fct_journal_entries`, credits less debits of those three accounts).

No Dagster imports: the CLI rebuilds the copy with the dbt assets and calls this.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

from credits_warehouse.atomic_files import remove_orphaned_temp_files
from credits_warehouse.catalog import Catalog
from credits_warehouse.documents import DocumentRenderer, safe_filename
from credits_warehouse.documents.chart import bar_chart_svg
from credits_warehouse.documents.contexts import Party
from credits_warehouse.exports import neutralize, plain_number, write_csv
from credits_warehouse.warehouse import (
    connect,
    copy_warehouse_file,
    exclusive_lock,
    require_warehouse,
    write_catalog,
)


class SimulationError(ValueError):
    """A simulation that cannot run, said in one line."""


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    is_money: bool


MEASURES = (
    Measure("credits_consumed", "Credits consumed", is_money=False),
    Measure("overage_credits", "Overage billed, credits", is_money=False),
    Measure("overage_amount", "Overage billed", is_money=True),
    Measure("invoiced_amount", "Invoiced, less credit notes", is_money=True),
    Measure("recognized_revenue", "Revenue recognized", is_money=True),
)
MEASURE_ORDER = {m.name: i for i, m in enumerate(MEASURES)}
MONEY_MEASURES = tuple(m.name for m in MEASURES if m.is_money)
CREDIT_MEASURES = tuple(m.name for m in MEASURES if not m.is_money)

# (period, customer_id, measure, currency); currency is "" for credits.
Key = tuple[str, str, str, str]

CREDITS_SQL = """
select period, customer_id, 'credits_consumed' as measure, sum(credits) as value
from marts.fct_monthly_usage
where period between $first and $last
group by period, customer_id
union all
select period, customer_id, 'overage_credits', sum(credits)
from marts.fct_credit_ledger
where entry_type = 'overage_settlement' and period between $first and $last
group by period, customer_id
"""

MONEY_SQL = """
select invoices.period, invoices.customer_id, 'overage_amount' as measure, invoices.currency,
    sum(lines.amount) as value
from marts.fct_invoice_lines as lines
inner join marts.fct_invoices as invoices on lines.invoice_id = invoices.invoice_id
where lines.line_kind = 'overage' and invoices.period between $first and $last
group by invoices.period, invoices.customer_id, invoices.currency
union all
select period, customer_id, 'invoiced_amount', currency,
    sum(case when invoice_type = 'credit_note' then -total else total end)
from marts.fct_invoices
where period between $first and $last
group by period, customer_id, currency
union all
select period, customer_id, 'recognized_revenue', currency, sum(credit - debit)
from marts.fct_journal_entries
where account in ('usage_revenue', 'breakage_revenue', 'overage_revenue')
    and period between $first and $last
group by period, customer_id, currency
"""


def read_figures(
    con: duckdb.DuckDBPyConnection, periods: Sequence[str]
) -> dict[Key, int | Decimal]:
    """Every measure's value per customer and period in `periods` (consecutive), exact:
    credits as Decimal, money as int minor units."""
    bounds = {"first": periods[0], "last": periods[-1]}
    figures: dict[Key, int | Decimal] = {}
    for period, customer_id, measure, value in con.execute(CREDITS_SQL, bounds).fetchall():
        figures[(period, customer_id, measure, "")] = Decimal(value)
    for period, customer_id, measure, currency, value in con.execute(MONEY_SQL, bounds).fetchall():
        figures[(period, customer_id, measure, currency)] = int(value)
    return figures


def customer_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(
        con.execute("select customer_id, customer_name from marts.dim_customers").fetchall()
    )


def last_build_clock(con: duckdb.DuckDBPyConnection, warehouse: Path) -> dt.datetime:
    """The clock of the warehouse's last build, which the simulation rebuilds with."""
    try:
        rows = con.execute(
            "select as_of from raw.build_state order by build_seq desc limit 1"
        ).fetchall()
    except duckdb.CatalogException:
        rows = []
    if not rows:
        raise SimulationError(
            f"warehouse {warehouse} has not been built yet; run `credits run` first"
        )
    return rows[0][0]


def scratch_folder(warehouse: Path) -> Path:
    """Where a simulation of `warehouse` (or the money of its restatement report,
    credits_warehouse/restatements.py) makes its copy: one folder beside it, on the same
    disk; what a killed simulation left there is cleared by the next."""
    return warehouse.with_name(f"{warehouse.name}.simulate")


# dbt's partial parse of a build of the copy (dagster_project.dbt.kept_parse_path), kept
# for the next simulation: its copy has the same path, so dbt parses only what changed.
KEPT_PARSE_SUFFIX = ".partial_parse.msgpack"


def _clear_scratch(folder: Path) -> None:
    """Remove the copy and dbt's build folder; keep dbt's partial parse."""
    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name.endswith(KEPT_PARSE_SUFFIX):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_copy(warehouse: Path) -> Iterator[Path]:
    """A copy of the warehouse to rebuild, deleted afterwards. One simulation (or
    restatement) of a warehouse at a time (a lock beside it); the warehouse itself is only
    read."""
    require_warehouse(warehouse)
    folder = scratch_folder(warehouse)
    with exclusive_lock(folder):
        _clear_scratch(folder)
        folder.mkdir(exist_ok=True)
        try:
            copy = folder / "warehouse.duckdb"
            copy_warehouse_file(warehouse, copy)
            yield copy
        finally:
            _clear_scratch(folder)


@dataclass(frozen=True)
class Baseline:
    """What the warehouse holds, read from the copy before it is re-rated."""

    clock: dt.datetime
    figures: dict[Key, int | Decimal]
    names: dict[str, str]


def reprice(copy: Path, warehouse: Path, catalog: Catalog, periods: Sequence[str]) -> Baseline:
    """Read the baseline from the copy, then put the new catalog in it and forget what the
    closes froze and numbered (see the module's docstring). The copy is then ready for a
    full refresh at the returned clock."""
    con = connect(copy)
    try:
        clock = last_build_clock(con, warehouse)
        baseline = Baseline(clock, read_figures(con, periods), customer_names(con))
        write_catalog(con, catalog, closed_periods_kept=False)
        con.execute("delete from raw.frozen_figures")
        con.execute("delete from raw.invoice_numbers")
    finally:
        con.close()
    return baseline


def read_simulated(copy: Path, periods: Sequence[str]) -> dict[Key, int | Decimal]:
    con = connect(copy, read_only=True)
    try:
        return read_figures(con, periods)
    finally:
        con.close()


# --------------------------------------------------------------------------- the difference


@dataclass(frozen=True)
class Row:
    """One line of the report: a customer's or the total's measure in a period (or over
    the whole range), before and after."""

    scope: str  # "customer" or "total"
    period: str  # a period, or "FIRST..LAST" for the whole range
    customer_id: str  # "" for a total
    measure: str
    currency: str  # "" for credits
    baseline: int | Decimal
    simulated: int | Decimal

    @property
    def delta(self) -> int | Decimal:
        return self.simulated - self.baseline

    @property
    def unit(self) -> str:
        return "minor_units" if self.currency else "credits"


def _zero(currency: str) -> int | Decimal:
    return 0 if currency else Decimal(0)


def _measure_order(key: Key) -> tuple:
    period, customer_id, measure, currency = key
    return (period, customer_id, MEASURE_ORDER[measure], currency)


def _over(
    figures: Mapping[Key, int | Decimal], periods: Sequence[str]
) -> dict[tuple, int | Decimal]:
    """The figures summed over `periods`, per (customer_id, measure, currency)."""
    out: dict[tuple, int | Decimal] = {}
    for (period, customer_id, measure, currency), value in figures.items():
        if period in periods:
            key = (customer_id, measure, currency)
            out[key] = out.get(key, _zero(currency)) + value
    return out


@dataclass(frozen=True)
class Comparison:
    """The baseline and simulated figures of consecutive periods, and the report's rows."""

    periods: tuple[str, ...]
    baseline: Mapping[Key, int | Decimal]
    simulated: Mapping[Key, int | Decimal]
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def range_label(self) -> str:
        return f"{self.periods[0]}..{self.periods[-1]}"

    def _pair(self, key: Key) -> tuple[int | Decimal, int | Decimal]:
        zero = _zero(key[3])
        return self.baseline.get(key, zero), self.simulated.get(key, zero)

    def customer_rows(self) -> list[Row]:
        """A row for each customer, period and measure whose value changed, and none else:
        under the same catalog, none at all."""
        keys = sorted(set(self.baseline) | set(self.simulated), key=_measure_order)
        rows = [Row("customer", *key, *self._pair(key)) for key in keys]
        return [row for row in rows if row.delta != 0]

    def currencies(self) -> list[str]:
        return sorted({key[3] for key in (*self.baseline, *self.simulated) if key[3]})

    def total_rows(self) -> list[Row]:
        """Each measure summed over the customers, per period and, when there are several,
        over the whole range: credits once, money per currency; zero deltas included."""
        wanted = [(m, "") for m in CREDIT_MEASURES]
        wanted += [(m, c) for m in MONEY_MEASURES for c in self.currencies()]
        spans = [(p, (p,)) for p in self.periods]
        if len(self.periods) > 1:
            spans.append((self.range_label, self.periods))
        rows = []
        for label, periods in spans:
            before, after = _over(self.baseline, periods), _over(self.simulated, periods)
            for measure, currency in wanted:

                def total(sums, measure=measure, currency=currency):
                    values = (v for (_, m, c), v in sums.items() if (m, c) == (measure, currency))
                    return sum(values, _zero(currency))

                rows.append(Row("total", label, "", measure, currency, total(before), total(after)))
        return rows

    def changed_customers(self) -> list[dict]:
        """Each customer with a change, over the whole range: credits consumed before and
        after, and per currency the invoiced amount before and after and the revenue's
        change; the largest change in invoiced amount first."""
        before, after = _over(self.baseline, self.periods), _over(self.simulated, self.periods)
        changed = sorted({row.customer_id for row in self.customer_rows()})

        def pair(customer_id, measure, currency=""):
            zero = _zero(currency)
            key = (customer_id, measure, currency)
            return before.get(key, zero), after.get(key, zero)

        out = []
        for customer_id in changed:
            currencies = sorted(
                {c for (cid, _, c) in (*before, *after) if cid == customer_id and c}
            )
            money = []
            for currency in currencies:
                invoiced = pair(customer_id, "invoiced_amount", currency)
                revenue = pair(customer_id, "recognized_revenue", currency)
                money.append(
                    {
                        "currency": currency,
                        "invoiced_baseline": invoiced[0],
                        "invoiced_simulated": invoiced[1],
                        "invoiced_delta": invoiced[1] - invoiced[0],
                        "revenue_delta": revenue[1] - revenue[0],
                    }
                )
            consumed = pair(customer_id, "credits_consumed")
            out.append(
                {
                    "customer_id": customer_id,
                    "name": self.names.get(customer_id, ""),
                    "credits_baseline": consumed[0],
                    "credits_simulated": consumed[1],
                    "credits_delta": consumed[1] - consumed[0],
                    "money": money,
                }
            )
        return sorted(
            out,
            key=lambda c: (
                -max((abs(m["invoiced_delta"]) for m in c["money"]), default=0),
                -abs(c["credits_delta"]),
                c["customer_id"],
            ),
        )


# --------------------------------------------------------------------------- the report

CSV_COLUMNS = (
    "scope", "period", "customer_id", "measure", "currency", "unit",
    "baseline", "simulated", "delta",
)  # fmt: skip


def csv_rows(comparison: Comparison) -> list[list[str]]:
    """The report's rows (columns: CSV_COLUMNS): the totals (every measure, zero deltas
    included), then each customer row that changed. Text cells that a spreadsheet would
    run as a formula are prefixed with `'` (exports.neutralize); the numbers are ours,
    plain digits with at most a leading minus, and are written as they are."""
    return [
        [
            neutralize(c)
            for c in (row.scope, row.period, row.customer_id, row.measure, row.currency, row.unit)
        ]
        + [plain_number(n) for n in (row.baseline, row.simulated, row.delta)]
        for row in (*comparison.total_rows(), *comparison.customer_rows())
    ]


SIMULATIONS_FOLDER = "simulations"
TEMPLATE = "simulation.html.j2"
# Customers listed on the one page; the CSV has them all.
CUSTOMERS_ON_PAGE = 14


def report_paths(reports: Path, periods: Sequence[str], catalog_path: Path) -> tuple[Path, Path]:
    """`<reports>/simulations/<first>_<last>/<catalog file's stem>.csv` and `.pdf`: one
    folder per range, one pair of files per catalog simulated."""
    reports = Path(reports)
    folder = reports / SIMULATIONS_FOLDER / safe_filename(f"{periods[0]}_{periods[-1]}")
    stem = safe_filename(Path(catalog_path).stem or "catalog")
    csv_path, pdf_path = folder / f"{stem}.csv", folder / f"{stem}.pdf"
    if not pdf_path.resolve().is_relative_to(reports.resolve()):
        raise SimulationError(f"report path {pdf_path} escapes {reports}")
    return csv_path, pdf_path


def pdf_context(
    comparison: Comparison,
    catalog_name: str,
    clock: dt.datetime,
    seller: Party,
    csv_name: str,
) -> dict:
    """What the one-page PDF shows: the range's totals, credits consumed per period as a
    chart, and the customers that changed most."""
    rows = comparison.total_rows()
    span = comparison.range_label if len(comparison.periods) > 1 else comparison.periods[0]
    totals = [r for r in rows if r.period == span]
    per_period = {
        r.period: (r.baseline, r.simulated)
        for r in rows
        if r.measure == "credits_consumed" and r.period in comparison.periods
    }
    chart = bar_chart_svg(
        [(period, per_period[period]) for period in comparison.periods],
        ["Baseline", "Simulated"],
        "en_GB",
    )
    changed = comparison.changed_customers()
    labels = {m.name: m.label for m in MEASURES}
    return {
        "document_date": clock,
        "locale": "en_GB",
        "seller": seller,
        "catalog_name": catalog_name,
        "period_from": comparison.periods[0],
        "period_to": comparison.periods[-1],
        "clock": clock,
        "totals": [
            {
                "label": labels[r.measure],
                "currency": r.currency,
                "baseline": r.baseline,
                "simulated": r.simulated,
                "delta": r.delta,
            }
            for r in totals
        ],
        "chart": chart,
        "customers": changed[:CUSTOMERS_ON_PAGE],
        "customers_changed": len(changed),
        "csv_name": csv_name,
    }


def write_report(
    comparison: Comparison,
    reports: Path,
    catalog_path: Path,
    catalog: Catalog,
    clock: dt.datetime,
) -> tuple[Path, Path]:
    """Write the CSV and the one-page PDF, each complete or not at all; returns their paths."""
    csv_path, pdf_path = report_paths(reports, comparison.periods, catalog_path)
    remove_orphaned_temp_files(pdf_path)
    write_csv(csv_path, CSV_COLUMNS, csv_rows(comparison))
    context = pdf_context(
        comparison, Path(catalog_path).name, clock, Party.seller(catalog.seller), csv_path.name
    )
    DocumentRenderer().write_pdf(TEMPLATE, context, pdf_path)
    return csv_path, pdf_path
