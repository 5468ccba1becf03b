-- One row per invoice line (contract §6.1): description, quantity, unit amount and amount.
select
    invoice_id,
    line_number,
    description,
    line_kind,
    quantity,
    unit_amount,
    amount
from {{ ref('int_invoice_lines_drafted') }}
