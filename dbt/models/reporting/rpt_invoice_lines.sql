-- The lines of each invoice or credit note as its PDF prints them (contract §6.2). The words
-- are a template with a `{quantity}` slot that the renderer fills in the customer's locale
-- ("10.000 credits" on a German invoice); `description` is the English text of
-- fct_invoice_lines.
select
    invoice_id,
    line_number,
    line_kind,
    description,
    description_template,
    description_quantity,
    quantity,
    unit_amount,
    amount
from {{ ref('int_invoice_lines_drafted') }}
