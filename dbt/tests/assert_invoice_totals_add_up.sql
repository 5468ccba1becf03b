-- Invoice arithmetic: total = subtotal + tax, subtotal = the sum of the lines, and every
-- line's amount = quantity × unit amount.
-- Reads several models; Dagster shows it as a check on fct_invoices.
{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}
with

lines as (
    select invoice_id, sum(amount) as lines_total,
        bool_and(amount = quantity * unit_amount) as lines_multiply
    from {{ ref('fct_invoice_lines') }}
    group by invoice_id
)

select invoices.invoice_id
from {{ ref('fct_invoices') }} as invoices
left join lines on invoices.invoice_id = lines.invoice_id
where
    invoices.total <> invoices.subtotal + invoices.tax
    or invoices.subtotal <> lines.lines_total
    or not lines.lines_multiply
