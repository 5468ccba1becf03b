-- Debits summed per ledger segment: what the sequential walk visits. Resumes after the
-- last close like the debits it sums (docs/incremental.md).
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_resume_window('first_booked_at') }}"
) }}
select
    customer_id,
    segment_start_at,
    count(*) as debits,
    min(booked_at) as first_booked_at,
    max(booked_at) as last_booked_at,
    cast(sum(credits) as {{ credits_type() }}) as credits
from {{ ref('int_usage_positioned') }}
where {{ in_resume_window('booked_at') }}
group by customer_id, segment_start_at
