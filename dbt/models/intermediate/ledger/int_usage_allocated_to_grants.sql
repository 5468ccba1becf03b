-- Each debit's exact share of each grant (or shortfall): the overlap of its span of its
-- class's running total in the segment with the spans the walk gave each grant. No loop,
-- no rounding.
-- Resumes after the last close (docs/incremental.md).
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    pre_hook="{{ delete_resume_window('booked_at') }}"
) }}
with

debits as (
    select * from {{ ref('int_usage_positioned') }}
    where {{ in_resume_window('booked_at') }}
),

spans as (
    select
        customer_id, segment_start_at, eligibility_class, position_from, position_to, grant_id,
        entry_type, span_seq
    from {{ ref('int_ledger_walked') }}
    where row_kind = 'span' and {{ in_resume_window('walked_at') }}
)

select
    debits.customer_id,
    debits.event_id,
    debits.dedup_key,
    debits.aggregator_id,
    debits.booked_at,
    spans.grant_id,
    spans.entry_type,
    spans.span_seq,
    cast(
        least(debits.position_after, spans.position_to) - greatest(debits.position_before, spans.position_from)
        as {{ credits_type() }}
    ) as credits
from debits
inner join spans
    on
        debits.customer_id = spans.customer_id
        and debits.segment_start_at = spans.segment_start_at
        and debits.eligibility_class = spans.eligibility_class
        and debits.position_before < spans.position_to
        and debits.position_after > spans.position_from
