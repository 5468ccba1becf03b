-- One row per invoice or credit note (contract §6.2): everything its PDF shows besides the
-- seller and the lines (rpt_invoice_lines), read by the renderer in one select.
select
    invoices.invoice_id,
    invoices.invoice_number,
    invoices.invoice_type,
    invoices.status,
    invoices.customer_id,
    invoices.period,
    invoices.issued_at,
    invoices.due_at,
    invoices.currency,
    invoices.subtotal,
    invoices.tax_rate,
    invoices.tax,
    invoices.total,
    {{ customer_party_columns('customers') }},
    customers.currency as customer_currency
from {{ ref('int_invoices_numbered') }} as invoices
inner join {{ ref('dim_customers') }} as customers on invoices.customer_id = customers.customer_id
