-- Each valid void with the segment spans its event's debits occupied (in their class's
-- running total), so the walk can give each grant back exactly what it gave.
-- Resumes after the last close (docs/incremental.md), like int_usage_positioned: a resumed
-- walk acts only on voids from the resume point on, so only those are placed again. Their
-- events may be older: the debits are found by event id and booking instant, so DuckDB
-- reads only the debits booked in the months of those instants.
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    pre_hook="{{ delete_resume_window('voided_at') }}"
) }}
with

voids as (
    select event_id, customer_id, voided_at
    from {{ ref('int_voids_validated') }}
    where quarantine_reason is null and {{ in_resume_window('voided_at') }}
),

booked as (
    -- The instants the voided events are booked at (int_voided_events).
    select voids.event_id, voids.customer_id, voids.voided_at, named.booked_at
    from voids
    inner join {{ ref('int_voided_events') }} as named on voids.event_id = named.event_id
    where named.customer_id is not null
)

select
    booked.event_id,
    booked.customer_id,
    booked.voided_at,
    debits.aggregator_id,
    debits.segment_start_at,
    debits.eligibility_class,
    debits.position_before,
    debits.position_after
from booked
inner join {{ ref('int_usage_positioned') }} as debits
    on
        booked.event_id = debits.event_id
        and booked.customer_id = debits.customer_id
        and booked.booked_at = debits.booked_at
