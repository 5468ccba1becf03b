-- Every ledger entry in entry order: the walk's entries, and usage draws summed per
-- customer × aggregator × grant (or shortfall kind) × UTC day, dated at their last debit.
-- Order: (entry_at, same-instant rank, sequence); docs/ledger.md "Time and order".
-- Resumes after the last close (docs/incremental.md): entries from there on are numbered
-- after the customer's last earlier entry.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    pre_hook="{{ delete_resume_window('entry_at') }}"
) }}
with

walked as (
    select
        customer_id, entry_at, entry_rank, entry_seq, period, entry_type, grant_id,
        cast(null as string) as aggregator_id, cast(entry_at as date) as usage_date, credits
    from {{ ref('int_ledger_walked') }}
    where row_kind = 'entry' and {{ in_resume_window('walked_at') }}
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
    where {{ in_resume_window('booked_at') }}
    group by customer_id, aggregator_id, grant_id, entry_type, cast(booked_at as date)
),

unioned as (
    select * from walked
    union all
    select * from usage
),

numbered_before as (
    -- After the pre-hook, this table holds only the entries before the resume instant.
    {% if is_resuming() -%}
        select customer_id, max(entry_number) as entries_before from {{ this }} group by customer_id
    {%- else -%}
        select cast(null as string) as customer_id, cast(0 as bigint) as entries_before where false
    {%- endif %}
)

select
    unioned.*,
    coalesce(numbered_before.entries_before, 0) + row_number() over (
        partition by unioned.customer_id
        order by unioned.entry_at, unioned.entry_rank, unioned.entry_seq, unioned.aggregator_id nulls last, unioned.grant_id nulls last, unioned.entry_type
    ) as entry_number
from unioned
left join numbered_before on unioned.customer_id = numbered_before.customer_id
