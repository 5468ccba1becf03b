"""Invoice documents: each finalized invoice or credit note, from the marts, as a context.

Written at close beside the statements, once: an existing PDF is final and never rewritten.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb

from credits_warehouse.catalog import Catalog

INVOICE_COLUMNS = (
    "invoice_id", "invoice_number", "customer_id", "invoice_type", "period", "issued_at",
    "currency", "subtotal", "tax_rate", "tax", "total", "status",
)  # fmt: skip


def finalized_invoices(con: duckdb.DuckDBPyConnection, through: str) -> list[dict]:
    """Finalized invoices of closed periods, in number order."""
    rows = con.execute(
        f"select {', '.join(INVOICE_COLUMNS)} from marts.fct_invoices "  # noqa: S608 - fixed column names
        "where status = 'finalized' and period <= ? order by invoice_number",
        [through],
    ).fetchall()
    return [dict(zip(INVOICE_COLUMNS, row, strict=True)) for row in rows]


def invoice_context(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, invoice: dict, customer: dict
) -> dict:
    lines = con.execute(
        "select line_number, description, quantity, unit_amount, amount "
        "from marts.fct_invoice_lines where invoice_id = ? order by line_number",
        [invoice["invoice_id"]],
    ).fetchall()
    seller = catalog.seller
    issued_at: dt.datetime = invoice["issued_at"]
    return {
        "document_date": issued_at.isoformat(),
        "seller": {
            "name": seller.name,
            "address": seller.address,
            "email": seller.email,
            "tax_id": seller.tax_id,
            "payment_terms_days": seller.payment_terms_days,
        },
        "customer": {
            "customer_id": customer["customer_id"],
            "name": customer["customer_name"] or customer["customer_id"],
            "email": customer["email"] or "",
            "address": customer["address"] or "",
            "country": customer["country"] or "",
            "currency": customer["currency"],
        },
        "invoice": {
            **{
                k: invoice[k]
                for k in ("invoice_id", "invoice_number", "invoice_type", "period", "currency")
            },
            "issued_at": issued_at,
            "due_at": issued_at + dt.timedelta(days=seller.payment_terms_days),
            "subtotal": int(invoice["subtotal"]),
            "tax_rate": Decimal(invoice["tax_rate"]),
            "tax": int(invoice["tax"]),
            "total": int(invoice["total"]),
            "status": invoice["status"],
        },
        "lines": [
            {
                "line_number": n,
                "description": d,
                "quantity": int(q),
                "unit_amount": int(u),
                "amount": int(a),
            }
            for n, d, q, u, a in lines
        ],
    }
