-- Each debit's exact share of each grant (or shortfall): the overlap of its span of its
-- class's running total in the segment with the spans the walk gave each grant. No loop,
-- no rounding.
-- A view, not a table: it is one range join of two tables the build keeps anyway, read by
-- one model (int_ledger_entries_ordered, which sums it per day) and the checks. As a table
-- it held a row per debit and grant, 1,400 of 11,226 blocks of a 10M-event warehouse, which
-- every writing command copies (docs/incremental.md). A reader's filter on `booked_at`
-- reaches int_usage_positioned, so a resumed build joins only the debits from its resume
-- point on. Both tables keep their rows before it as they were, so neither does this view.
{{ config(materialized='view') }}
with

debits as (
    select * from {{ ref('int_usage_positioned') }}
),

spans as (
    select
        customer_id, segment_start_at, eligibility_class, position_from, position_to, grant_id,
        entry_type, span_seq
    from {{ ref('int_ledger_walked') }}
    where row_kind = 'span'
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
