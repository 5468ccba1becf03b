-- What the sequential walk visits: the debits of a ledger segment summed per *run*, the
-- longest stretch of debits of one eligibility class in debit order, with where the run
-- starts in its class's running total (docs/ledger.md "Scoped credits"). A segment without
-- scopes in play is one run. Resumes after the last close like the debits it sums
-- (docs/incremental.md).
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    pre_hook="{{ delete_resume_window('first_booked_at') }}"
) }}
with

debits as (
    select * from {{ ref('int_usage_positioned') }}
    where {{ in_resume_window('booked_at') }}
),

classed as (
    -- A run starts where a debit's class differs from the one before it.
    select
        *,
        sum(starts_run) over (
            partition by customer_id, segment_start_at
            order by booked_at, dedup_key, aggregator_id
            rows between unbounded preceding and current row
        ) as run_seq
    from (
        select
            *,
            case
                when eligibility_class = lag(eligibility_class) over (
                    partition by customer_id, segment_start_at
                    order by booked_at, dedup_key, aggregator_id
                ) then 0
                else 1
            end as starts_run
        from debits
        where has_scopes_in_play
    ) as boundaries
),

runs as (
    select
        customer_id, segment_start_at, eligibility_class, run_seq, booked_at, credits,
        position_before
    from classed
    union all
    select
        customer_id, segment_start_at, eligibility_class, 0 as run_seq, booked_at, credits,
        position_before
    from debits
    where not has_scopes_in_play
)

select
    customer_id,
    segment_start_at,
    eligibility_class,
    run_seq,
    count(*) as debits,
    min(booked_at) as first_booked_at,
    max(booked_at) as last_booked_at,
    cast(min(position_before) as {{ credits_type() }}) as position_from,
    cast(sum(credits) as {{ credits_type() }}) as credits
from runs
group by customer_id, segment_start_at, eligibility_class, run_seq
