"""Monthly statements: which to write, and each one's figures from the marts.

Statements are written for closed periods only, once: a file that exists is frozen and is
never rewritten (contract §4 "Closed periods ... their statements never change"), except by
the run that closes its period, over what a run killed before its swap left (and what that
run left that this one does not write is removed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from credits_warehouse.atomic_files import remove_stale_temp_files
from credits_warehouse.catalog import Catalog
from credits_warehouse.documents import (
    document_folders,
    invoice_path,
    statement_path,
    write_documents_parallel,
)
from credits_warehouse.documents.contexts import (
    EXPIRING_WINDOWS_DAYS,
    Customer,
    DailyBalance,
    ExpirationLine,
    GrantLine,
    InvoiceContext,
    InvoiceSummary,
    Party,
    StatementContext,
    TopupLine,
    UsageLine,
    UserLine,
)
from credits_warehouse.invoices import finalized_invoices, read_invoices
from credits_warehouse.warehouse import closed_through


@dataclass
class StatementRun:
    written: int = 0
    frozen: int = 0


# One select per chunk of statements: each rpt_statements row with its lines as a list.
STATEMENTS_SQL = """
with

wanted as (
    select unnest($customers::varchar[]) as customer_id, unnest($periods::varchar[]) as period
),

lines as (
    select
        customer_id,
        period,
        list(
            struct_pack(
                section, item_id, label, kind, occurred_at, expires_at, events, units, credits,
                amount, currency
            )
            order by section, line_number
        ) as lines
    from reporting.rpt_statement_lines
    semi join wanted using (customer_id, period)
    group by customer_id, period
)

select statements.*, coalesce(lines.lines, []) as lines
from reporting.rpt_statements as statements
semi join wanted using (customer_id, period)
left join lines using (customer_id, period)
order by statements.customer_id, statements.period
"""


def read_statements(
    con: duckdb.DuckDBPyConnection, seller: Party, keys: Sequence[tuple[str, str]]
) -> list[StatementContext]:
    """The statements of these (customer_id, period) pairs, in one select."""
    if not keys:
        return []
    cursor = con.execute(
        STATEMENTS_SQL,
        {"customers": [c for c, _ in keys], "periods": [p for _, p in keys]},
    )
    columns = [d[0] for d in cursor.description]
    return [_statement(seller, dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]


def _statement(seller: Party, row: dict) -> StatementContext:
    sections: dict[str, list[dict]] = {}
    for line in row["lines"]:
        sections.setdefault(line["section"], []).append(line)

    def section(name: str) -> list[dict]:
        return sections.get(name, [])

    period_end: dt.datetime = row["period_end"]
    return StatementContext(
        document_date=period_end.isoformat(),
        seller=seller,
        customer=Customer.from_row(row, currency_column="currency"),
        period=row["period"],
        period_start=row["period_start"].date(),
        period_end=period_end.date(),
        **{figure: row[figure] for figure in STATEMENT_FIGURES},
        expiring={str(days): row[f"expiring_{days}"] for days in EXPIRING_WINDOWS_DAYS},
        usage=tuple(
            UsageLine(line["item_id"], int(line["events"]), line["units"], line["credits"])
            for line in section("usage")
        ),
        top_users=tuple(
            UserLine(line["item_id"], int(line["events"]), line["credits"])
            for line in section("top_user")
        ),
        grants=tuple(_grant_line(line) for line in section("grant")),
        coming=tuple(_grant_line(line) for line in section("coming")),
        topups=tuple(
            TopupLine(line["item_id"], line["label"], line["occurred_at"], line["credits"])
            for line in section("topup")
        ),
        expirations=tuple(
            ExpirationLine(
                line["item_id"], line["label"], line["kind"], line["occurred_at"], line["credits"]
            )
            for line in section("expiration")
        ),
        daily_balances=tuple(
            DailyBalance(line["occurred_at"].date(), line["credits"])
            for line in section("daily_balance")
        ),
        invoices=tuple(
            InvoiceSummary(
                line["item_id"],
                line["kind"],
                line["occurred_at"],
                int(line["amount"]),
                line["currency"],
            )  # fmt: skip
            for line in section("invoice")
        ),
        projected_depletion_date=row["projected_depletion_date"],
    )


def _grant_line(line: dict) -> GrantLine:
    return GrantLine(
        line["item_id"],
        line["label"],
        line["kind"],
        line["occurred_at"],
        line["expires_at"],
        line["credits"],
    )


STATEMENT_FIGURES = (
    "opening_balance", "granted", "consumed", "expired", "refunded", "settled",
    "closing_balance", "voided", "late_usage",
)  # fmt: skip


DOCUMENT_CHUNK = 500


def write_documents_for_closed_periods(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    reports: Path,
    progress: Callable[[int, int], None] | None = None,
    rewrite_after: str | None = None,
) -> StatementRun:
    """Write the statements and final invoices of closed periods that do not exist yet;
    an existing file is final and never rewritten, except in the periods after
    `rewrite_after` (those the caller's run closed, whose files no committed run wrote).
    The document folders of the periods no committed run closed end holding exactly this
    run's documents (see `remove_documents_not_written`). Each chunk's contexts are read
    in one select per document kind, then the PDFs are rendered on one process per core."""
    run = StatementRun()
    through = closed_through(con)
    pending = [] if through is None else closed_documents(con, reports, through)
    # The documents of later periods are not final: no committed run wrote them.
    final_through = rewrite_after if rewrite_after is not None else (through or "")
    todo = [
        (kind, key, path)
        for kind, key, path, period in pending
        if not path.exists() or period > final_through
    ]
    run.frozen = len(pending) - len(todo)
    remove_documents_not_written(reports, final_through, {path for _, _, path in todo})
    # A document still to write may have a temporary file from a run killed mid-write.
    for folder in sorted({path.parent for _, _, path in todo}):
        remove_stale_temp_files(folder)
    seller = Party.seller(catalog.seller)
    for first in range(0, len(todo), DOCUMENT_CHUNK):
        chunk = todo[first : first + DOCUMENT_CHUNK]
        contexts: dict[object, StatementContext | InvoiceContext] = {}
        statement_keys = [key for kind, key, _ in chunk if kind == "statement"]
        for context in read_statements(con, seller, statement_keys):
            contexts[(context.customer.customer_id, context.period)] = context
        invoice_ids = [key for kind, key, _ in chunk if kind != "statement"]
        facturx_countries = frozenset(catalog.settings.facturx_countries)
        for context in read_invoices(con, seller, invoice_ids, facturx_countries):
            contexts[context.invoice.invoice_id] = context
        jobs = [(kind, contexts[key].template_context(), path) for kind, key, path in chunk]

        def chunk_progress(done: int, _total: int, offset: int = first) -> None:
            if progress:
                progress(offset + done, len(todo))

        write_documents_parallel(jobs, progress=chunk_progress)
        run.written += len(jobs)
    return run


def closed_documents(
    con: duckdb.DuckDBPyConnection, reports: Path, through: str, period: str | None = None
) -> list[tuple[str, object, Path, str]]:
    """(kind, key, path, period) of every document of the periods closed through `through`
    (of `period` alone, if given): a statement per customer and period, keyed
    (customer_id, period), and each finalized invoice and credit note, keyed invoice_id."""
    documents: list[tuple[str, object, Path, str]] = [
        ("statement", (customer_id, of), statement_path(reports, of, customer_id), of)
        for customer_id, of in con.execute(
            "select customer_id, period from reporting.rpt_statements"
            " where period <= $through and period = coalesce($period, period)"
            " order by period, customer_id",
            {"through": through, "period": period},
        ).fetchall()
    ]
    for invoice_id, number, of, kind in finalized_invoices(con, through, period):
        documents.append((kind, invoice_id, invoice_path(reports, of, number), of))
    return documents


def remove_documents_not_written(reports: Path, final_through: str, written: set[Path]) -> int:
    """Remove every file in the document folders of the periods after `final_through` that
    is not in `written` (what this run writes there). Such a file is a run's that was
    killed before its swap, so no committed close stands behind it: a statement or an
    invoice number the data no longer gives (say a purchase that has gone from the landing
    since), a period a longer close reached, or a temporary file. Earlier periods' folders
    are final and never touched."""
    removed = 0
    for period, folders in document_folders(reports).items():
        if period <= final_through:
            continue
        for folder in folders:
            for path in sorted(folder.iterdir()):
                if path.is_file() and path not in written:
                    path.unlink()
                    removed += 1
    return removed
