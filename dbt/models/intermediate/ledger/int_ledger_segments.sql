-- Each customer's ledger segments [segment_start_at, segment_end_at): from one of its
-- instants (int_ledger_instants) to the next, the last one open (null end). A first segment
-- starts at the epoch and ends at the customer's first instant: debits before any instant
-- fall there. Usage within a segment is summed, so the walk visits segments, not events
-- (docs/ledger.md "Time and order").
with

instants as (
    select customer_id, instant_at from {{ ref('int_ledger_instants') }}
)

select
    customer_id,
    instant_at as segment_start_at,
    lead(instant_at) over (partition by customer_id order by instant_at) as segment_end_at
from instants
union all
select customer_id, {{ epoch_timestamp() }}, min(instant_at)
from instants
group by customer_id
