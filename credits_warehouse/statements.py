"""Monthly statements: which to write, and each one's figures from the marts.

Statements are written for closed periods only, once: a file that exists is frozen and is
never rewritten (SPEC §4 "Closed periods ... their statements never change").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from credits_warehouse.catalog import Catalog
from credits_warehouse.documents import invoice_path, statement_path, write_documents_parallel
from credits_warehouse.entry_types import CONSUMED_ENTRY_TYPES, EXPIRED_ENTRY_TYPES
from credits_warehouse.invoices import finalized_invoices, invoice_context
from credits_warehouse.periods import period_bounds
from credits_warehouse.sql import sql_list
from credits_warehouse.warehouse import closed_through


def closed_periods(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every period with ledger activity up to the last closed one, in order."""
    through = closed_through(con)
    if through is None:
        return []
    rows = con.execute(
        "select distinct period from marts.fct_credit_ledger where period <= ? order by period",
        [through],
    ).fetchall()
    return [r[0] for r in rows]


@dataclass
class StatementRun:
    written: int = 0
    frozen: int = 0


def statement_context(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, customer: dict, period: str
) -> dict:
    start, end = period_bounds(period)
    cid = customer["customer_id"]
    # By the entries' `period`: a period-end settlement, dated at the next period's first
    # instant, still belongs to the period it settles (SPEC §4).
    sums = con.execute(
        f"""
        select
            coalesce(sum(credits) filter (where period < $period), 0),
            coalesce(sum(credits) filter (where period = $period and entry_type = 'grant'), 0),
            coalesce(-sum(credits) filter (
                where period = $period and entry_type in {sql_list(CONSUMED_ENTRY_TYPES)}), 0),
            coalesce(-sum(credits) filter (
                where period = $period and entry_type in {sql_list(EXPIRED_ENTRY_TYPES)}), 0),
            coalesce(-sum(credits) filter (where period = $period and entry_type = 'refund'), 0),
            coalesce(sum(credits) filter (
                where period = $period and entry_type in ('overage_settlement', 'unfunded_writeoff')), 0),
            coalesce(sum(credits), 0)
        from marts.fct_credit_ledger
        where customer_id = $cid and period <= $period
        """,  # noqa: S608 - the in-lists are the constants of entry_types.py
        {"period": period, "cid": cid},
    ).fetchall()[0]
    usage = con.execute(
        """
        select aggregator_id, sum(events)::bigint, sum(units), sum(credits)
        from marts.fct_monthly_usage
        where customer_id = ? and period = ?
        group by aggregator_id
        order by aggregator_id
        """,
        [cid, period],
    ).fetchall()
    grants = con.execute(
        """
        select grant_id, kind, effective_at, expires_at, credits
        from marts.fct_grants
        where customer_id = ? and effective_at >= ? and effective_at < ?
        order by effective_at, grant_id
        """,
        [cid, start, end],
    ).fetchall()
    seller = catalog.seller
    return {
        "document_date": end.isoformat(),
        "seller": {
            "name": seller.name,
            "address": seller.address,
            "email": seller.email,
            "tax_id": seller.tax_id,
        },
        "customer": {
            "customer_id": cid,
            "name": customer["customer_name"] or cid,
            "email": customer["email"] or "",
            "address": customer["address"] or "",
            "country": customer["country"] or "",
            "currency": customer["currency"],
        },
        "period": period,
        "period_start": start.date(),
        "period_end": end.date(),
        "opening_balance": Decimal(sums[0]),
        "granted": Decimal(sums[1]),
        "consumed": Decimal(sums[2]),
        "expired": Decimal(sums[3]),
        "refunded": Decimal(sums[4]),
        "settled": Decimal(sums[5]),
        "closing_balance": Decimal(sums[6]),
        "usage": [
            {"aggregator_id": a, "events": int(n), "units": Decimal(u), "credits": Decimal(c)}
            for a, n, u, c in usage
        ],
        "grants": [
            {"grant_id": g, "kind": k, "effective_at": e, "expires_at": x, "credits": Decimal(c)}
            for g, k, e, x, c in grants
        ],
        **statement_activity(con, cid, period),
    }


EXPIRING_WINDOWS_DAYS = (30, 60, 90)


def statement_activity(con: duckdb.DuckDBPyConnection, cid: str, period: str) -> dict:
    """What a statement shows besides the balance summary (SPEC §6.2): expirations, top-ups,
    voids, late usage, the daily balance, what expires next, and the period's invoices."""
    start, end = period_bounds(period)
    expirations = con.execute(
        """
        select ledger.grant_id, grants.kind, ledger.entry_at, -ledger.credits
        from marts.fct_credit_ledger as ledger
        inner join marts.fct_grants as grants on ledger.grant_id = grants.grant_id
        where ledger.customer_id = ? and ledger.period = ? and ledger.entry_type = 'expiry'
        order by ledger.entry_at, ledger.grant_id
        """,
        [cid, period],
    ).fetchall()
    topups = con.execute(
        """
        select grant_id, effective_at, credits from marts.fct_grants
        where customer_id = ? and kind = 'auto_topup' and effective_at >= ? and effective_at < ?
        order by effective_at, grant_id
        """,
        [cid, start, end],
    ).fetchall()
    voided, late_usage = con.execute(
        """
        select
            (select coalesce(sum(credits), 0) from marts.fct_credit_ledger
             where customer_id = $cid and period = $period and entry_type = 'void'),
            (select coalesce(sum(credits), 0) from marts.fct_rated_events
             where customer_id = $cid and period = $period and is_late)
        """,
        {"cid": cid, "period": period},
    ).fetchall()[0]
    daily = con.execute(
        """
        select balance_date, closing_credits from marts.fct_balances_daily
        where customer_id = ? and balance_date >= ? and balance_date < ?
        order by balance_date
        """,
        [cid, start.date(), end.date()],
    ).fetchall()
    # Credits left at the period's end in grants that expire within the next N days.
    windows = ", ".join(
        f"coalesce(sum(left_at_end) filter (where expires_at <= $end + interval {days} day), 0)"
        for days in EXPIRING_WINDOWS_DAYS
    )
    expiring = con.execute(
        f"""
        select {windows}
        from (
            select grants.expires_at, sum(ledger.credits) as left_at_end
            from marts.fct_credit_ledger as ledger
            inner join marts.fct_grants as grants on ledger.grant_id = grants.grant_id
            where
                ledger.customer_id = $cid and ledger.entry_at < $end
                and grants.expires_at > $end
            group by grants.grant_id, grants.expires_at
        )
        """,  # noqa: S608 - the windows are fixed numbers
        {"cid": cid, "end": end},
    ).fetchall()[0]
    invoices = con.execute(
        """
        select invoice_number, invoice_type, issued_at, total, currency
        from marts.fct_invoices
        where customer_id = ? and period = ? and status = 'finalized'
        order by invoice_number
        """,
        [cid, period],
    ).fetchall()
    return {
        "expirations": [
            {"grant_id": g, "kind": k, "expired_at": at, "credits": Decimal(c)}
            for g, k, at, c in expirations
        ],
        "topups": [
            {"grant_id": g, "effective_at": at, "credits": Decimal(c)} for g, at, c in topups
        ],
        "voided": Decimal(voided),
        "late_usage": Decimal(late_usage),
        "daily_balances": [{"balance_date": d, "closing_credits": Decimal(c)} for d, c in daily],
        "expiring": {
            str(days): Decimal(v) for days, v in zip(EXPIRING_WINDOWS_DAYS, expiring, strict=True)
        },
        "invoices": [
            {
                "invoice_number": n,
                "invoice_type": t,
                "issued_at": at,
                "total": int(total),
                "currency": cur,
            }
            for n, t, at, total, cur in invoices
        ],
    }


DOCUMENT_CHUNK = 500
CUSTOMER_COLUMNS = (
    "customer_id",
    "customer_name",
    "email",
    "address",
    "country",
    "currency",
    "created_at",
)


def write_documents_for_closed_periods(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    reports: Path,
    progress: Callable[[int, int], None] | None = None,
) -> StatementRun:
    """Write the statements and final invoices of closed periods that do not exist yet;
    an existing file is final and never rewritten. Contexts are read here, then the PDFs are
    rendered on one process per core."""
    run = StatementRun()
    customers = {
        row[0]: dict(zip(CUSTOMER_COLUMNS, row, strict=True))
        for row in con.execute(
            f"select {', '.join(CUSTOMER_COLUMNS)} from marts.dim_customers order by customer_id"  # noqa: S608
        ).fetchall()
    }
    # Contexts are built lazily and rendered in chunks, so memory stays flat at any size.
    pending = []
    for period in closed_periods(con):
        _, end = period_bounds(period)
        for customer in customers.values():
            if customer["created_at"] is not None and customer["created_at"] >= end:
                continue
            path = statement_path(reports, period, customer["customer_id"])
            if path.exists():
                run.frozen += 1
            else:
                pending.append(
                    (
                        "statement",
                        lambda c=customer, p=period: statement_context(con, catalog, c, p),
                        path,
                    )
                )
    through = closed_through(con)
    if through is not None:
        for invoice in finalized_invoices(con, through):
            path = invoice_path(reports, invoice["period"], invoice["invoice_number"])
            if path.exists():
                run.frozen += 1
                continue
            kind = "credit_note" if invoice["invoice_type"] == "credit_note" else "invoice"
            customer = customers[invoice["customer_id"]]
            pending.append(
                (kind, lambda i=invoice, c=customer: invoice_context(con, catalog, i, c), path)
            )
    for first in range(0, len(pending), DOCUMENT_CHUNK):
        chunk = pending[first : first + DOCUMENT_CHUNK]
        jobs = [(kind, build(), path) for kind, build, path in chunk]

        def chunk_progress(done: int, _total: int, offset: int = first) -> None:
            if progress:
                progress(offset + done, len(pending))

        write_documents_parallel(jobs, progress=chunk_progress)
        run.written += len(jobs)
    return run
