-- Each debit (accepted event × aggregator) placed in its ledger segment, with its
-- eligibility class (int_eligibility_classes: '' where no scope is in play) and its running
-- position among the debits of its class there, in debit order (timestamp, dedup key,
-- aggregator). The walk decides which grant covers which span of a class's running total;
-- a debit's share of each grant is then the overlap of its [position_before,
-- position_after) with that span, exact and without a loop.
-- Resumes after the last close (docs/incremental.md): a segment never spans the first
-- instant of a period, so the debits from there on are placed and positioned on their own.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    pre_hook="{{ delete_resume_window('booked_at') }}"
) }}
with

debits as (
    select customer_id, event_id, dedup_key, aggregator_id, booked_at, credits
    from {{ ref('int_events_rated') }}
    where booked_at <= {{ as_of_at() }} and {{ in_resume_window('booked_at') }}
),

segmented as (
    -- The segment a debit falls in; a customer with no instant has one, from the epoch.
    select
        debits.*,
        coalesce(segments.segment_start_at, {{ epoch_timestamp() }}) as segment_start_at
    from debits
    left join {{ ref('int_ledger_segments') }} as segments
        on
            debits.customer_id = segments.customer_id
            and debits.booked_at >= segments.segment_start_at
            and (segments.segment_end_at is null or debits.booked_at < segments.segment_end_at)
),

classed as (
    select
        segmented.customer_id,
        segmented.segment_start_at,
        segmented.event_id,
        segmented.dedup_key,
        segmented.aggregator_id,
        segmented.booked_at,
        segmented.credits,
        coalesce(classes.eligibility_class, '') as eligibility_class,
        -- Whether scopes are in play in the segment: only then may its debits differ in class.
        classes.customer_id is not null as has_scopes_in_play
    from segmented
    left join {{ ref('int_eligibility_classes') }} as classes
        on
            segmented.customer_id = classes.customer_id
            and segmented.segment_start_at = classes.segment_start_at
            and segmented.aggregator_id = classes.aggregator_id
),

positioned as (
    select
        customer_id,
        segment_start_at,
        eligibility_class,
        has_scopes_in_play,
        event_id,
        dedup_key,
        aggregator_id,
        booked_at,
        cast(credits as {{ credits_type() }}) as credits,
        cast(sum(credits) over (
            partition by customer_id, segment_start_at, eligibility_class
            order by booked_at, dedup_key, aggregator_id
            rows between unbounded preceding and current row
        ) as {{ credits_type() }}) as position_after
    from classed
)

select
    *,
    cast(position_after - credits as {{ credits_type() }}) as position_before
from positioned
