-- The auditable credit ledger (SPEC §6.1): every movement of every customer's balance,
-- signed (+ adds to the balance), with the running balance in entry order.
with

entries as (
    select * from {{ ref('int_ledger_entries_ordered') }}
)

select
    customer_id || ':' || lpad(cast(entry_number as varchar), 9, '0') as entry_id,
    customer_id,
    entry_number as entry_seq,
    entry_at,
    period,
    entry_type,
    grant_id,
    aggregator_id,
    usage_date,
    credits,
    cast(sum(credits) over (
        partition by customer_id order by entry_number rows between unbounded preceding and current row
    ) as {{ credits_type() }}) as balance_after
from entries
