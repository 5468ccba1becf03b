-- An invoice's subtotal is the sum of its lines: a check across two models. The rules on
-- one row (total = subtotal + tax; a line's amount = quantity × unit amount) are pandera's
-- (Invoices.total_is_subtotal_plus_tax, InvoiceLines.amount_is_quantity_times_unit).
-- Reads several models; Dagster shows it as a check on fct_invoices.
{{ config(meta={'dagster': {'ref': {'name': 'fct_invoices'}}}) }}
with
lines as (
    select invoice_id, sum(amount) as lines_total
    from {{ ref('fct_invoice_lines') }}
    group by invoice_id
)
select invoices.invoice_id
from {{ ref('fct_invoices') }} as invoices
left join lines on invoices.invoice_id = lines.invoice_id
where invoices.subtotal <> coalesce(lines.lines_total, 0)
