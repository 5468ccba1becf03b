-- The figures a close freezes, per customer and period: ledger totals by entry type, the
-- final invoices' totals, and deferred revenue at the period's end. Recomputing a closed
-- period must give them back unchanged (tests/assert_closed_periods_reproduce_frozen_figures).
select period, customer_id, 'ledger:' || entry_type as figure, cast(sum(credits) as decimal(38, 12)) as value
from {{ ref('int_ledger_entries_ordered') }}
group by period, customer_id, entry_type
union all
select period, customer_id, 'invoices:' || invoice_type || ':' || currency, cast(sum(total) as decimal(38, 12))
from {{ ref('int_invoices_numbered') }}
where status = 'finalized'
group by period, customer_id, invoice_type, currency
union all
select period, customer_id, 'deferred_revenue:' || currency, cast(sum(closing_deferred_amount) as decimal(38, 12))
from {{ ref('int_revenue_by_grant_period') }}
group by period, customer_id, currency
