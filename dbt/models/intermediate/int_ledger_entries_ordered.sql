-- Every ledger entry in entry order: the walk's entries, and usage draws summed per
-- customer × aggregator × grant (or shortfall kind) × UTC day, dated at their last debit.
-- Order: (entry_at, same-instant rank, sequence); docs/ledger.md "Time and order".
with

walked as (
    select
        customer_id, entry_at, entry_rank, entry_seq, period, entry_type, grant_id,
        cast(null as varchar) as aggregator_id, cast(entry_at as date) as usage_date, credits
    from {{ ref('int_ledger_walked') }}
    where row_kind = 'entry'
),

usage as (
    select
        customer_id,
        max(booked_at) as entry_at,
        5 as entry_rank,
        min(span_seq) as entry_seq,
        {{ period_of('max(booked_at)') }} as period,
        entry_type,
        grant_id,
        aggregator_id,
        cast(booked_at as date) as usage_date,
        cast(-sum(credits) as {{ credits_type() }}) as credits
    from {{ ref('int_usage_allocated_to_grants') }}
    group by customer_id, aggregator_id, grant_id, entry_type, cast(booked_at as date)
),

unioned as (
    select * from walked
    union all
    select * from usage
)

select
    *,
    row_number() over (
        partition by customer_id
        order by entry_at, entry_rank, entry_seq, aggregator_id, grant_id, entry_type
    ) as entry_number
from unioned
