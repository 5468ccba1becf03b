-- One row per invoice or credit note (contract §6.1): purchase, subscription or credit note,
-- with subtotal, tax and total in minor units. invoice_number is null while draft.
select
    invoice_id,
    invoice_number,
    customer_id,
    invoice_type,
    period,
    issued_at,
    currency,
    subtotal,
    tax_rate,
    tax,
    total,
    status
from {{ ref('int_invoices_numbered') }}
