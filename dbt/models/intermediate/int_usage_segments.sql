-- Debits summed per ledger segment: what the sequential walk visits.
select
    customer_id,
    segment_start_at,
    count(*) as debits,
    min(booked_at) as first_booked_at,
    max(booked_at) as last_booked_at,
    cast(sum(credits) as {{ credits_type() }}) as credits
from {{ ref('int_usage_positioned') }}
group by customer_id, segment_start_at
