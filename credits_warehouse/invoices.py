"""Invoice documents: each finalized invoice or credit note of `reporting.rpt_invoices`,
with its lines, as a typed context.

Written at close beside the statements, once: an existing PDF is final and never rewritten.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import duckdb

from credits_warehouse.documents.contexts import (
    Customer,
    Invoice,
    InvoiceContext,
    InvoiceLine,
    Party,
    is_facturx_country,
)


def finalized_invoices(
    con: duckdb.DuckDBPyConnection, through: str, period: str | None = None
) -> list[tuple[str, str, str, str]]:
    """(invoice_id, invoice_number, period, document kind) of the finalized invoices and
    credit notes of closed periods (of `period` alone, if given), in number order."""
    return con.execute(
        """
        select
            invoice_id,
            invoice_number,
            period,
            case when invoice_type = 'credit_note' then 'credit_note' else 'invoice' end
        from reporting.rpt_invoices
        where status = 'finalized' and period <= $through and period = coalesce($period, period)
        order by invoice_number
        """,
        {"through": through, "period": period},
    ).fetchall()


# One select per chunk of invoices: each rpt_invoices row with its lines as a list.
INVOICES_SQL = """
with

lines as (
    select
        invoice_id,
        list(
            struct_pack(
                line_number, description_template, description_quantity, quantity,
                unit_amount, amount
            )
            order by line_number
        ) as lines
    from reporting.rpt_invoice_lines
    where invoice_id in (select unnest($ids::varchar[]))
    group by invoice_id
)

select invoices.*, coalesce(lines.lines, []) as lines
from reporting.rpt_invoices as invoices
left join lines using (invoice_id)
where invoices.invoice_id in (select unnest($ids::varchar[]))
order by invoices.invoice_id
"""

INVOICE_FIELDS = (
    "invoice_id", "invoice_number", "invoice_type", "period", "currency", "issued_at", "due_at",
    "subtotal", "tax_rate", "tax", "total", "status",
)  # fmt: skip


def read_invoices(
    con: duckdb.DuckDBPyConnection,
    seller: Party,
    invoice_ids: Sequence[str],
    facturx_countries: Collection[str] = (),
) -> list[InvoiceContext]:
    """The invoices and credit notes with these ids, in one select; those of customers in
    `facturx_countries` (catalog settings) are Factur-X e-invoices."""
    if not invoice_ids:
        return []
    cursor = con.execute(INVOICES_SQL, {"ids": list(invoice_ids)})
    columns = [d[0] for d in cursor.description]
    contexts = []
    for values in cursor.fetchall():
        row = dict(zip(columns, values, strict=True))
        customer = Customer.from_row(row, currency_column="customer_currency")
        contexts.append(
            InvoiceContext(
                document_date=row["issued_at"].isoformat(),
                seller=seller,
                customer=customer,
                invoice=Invoice(**{field: row[field] for field in INVOICE_FIELDS}),
                lines=tuple(InvoiceLine(**line) for line in row["lines"]),
                facturx=is_facturx_country(customer.country, facturx_countries),
            )
        )
    return contexts
