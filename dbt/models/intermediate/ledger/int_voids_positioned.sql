-- Each valid void with the segment spans its event's debits occupied (in their class's
-- running total), so the walk can give each grant back exactly what it gave.
--
-- Resumes after the last close (docs/incremental.md). The spans of debits booked before the
-- resume point never change, so a build keeps those rows of the voids still valid (the
-- pre-hook drops the rest), places every valid void's debits from the resume point on (the
-- positions' last row groups), and looks the older debits up only for valid voids that have
-- none kept: new since the last build, or valid only since. Every valid void stays in the
-- table whatever its date, so the walk's digest of what acts before the resume point still
-- sees a void dated in a closed period that arrives after the close.
-- depends_on: {{ ref('int_voided_events') }}
{{ config(
    materialized=delete_insert_materialization(),
    incremental_strategy='append',
    pre_hook="{% if is_resuming() %}delete from {{ this }} as kept where kept.booked_at >= {{ resume_from() }} or not exists (select 1 from {{ ref('int_voids_validated') }} as voids where voids.quarantine_reason is null and voids.event_id = kept.event_id and voids.customer_id = kept.customer_id and voids.voided_at = kept.voided_at){% else %}{{ delete_resume_window('booked_at') }}{% endif %}"
) }}
{%- set debit_columns = [
    'event_id', 'customer_id', 'booked_at', 'aggregator_id', 'segment_start_at',
    'eligibility_class', 'position_before', 'position_after',
] %}
with

voids as (
    select event_id, customer_id, voided_at
    from {{ ref('int_voids_validated') }}
    where quarantine_reason is null
),

{% if is_resuming() -%}
unplaced as (
    select voids.event_id
    from voids
    where
        voids.event_id in (
            select event_id from {{ ref('int_voided_events') }} where booked_at < {{ resume_from() }}
        )
        and not exists (
            select 1 from {{ this }} as kept
            where
                kept.event_id = voids.event_id
                and kept.customer_id = voids.customer_id
                and kept.voided_at = voids.voided_at
        )
),
{%- endif %}

debits as (
    select {{ debit_columns | join(', ') }}
    from {{ ref('int_usage_positioned') }}
    where {{ in_resume_window('booked_at') }}
    {% if is_resuming() -%}
        union all
        select {{ debit_columns | join(', ') }}
        from {{ ref('int_usage_positioned') }}
        where booked_at < {{ resume_from() }} and event_id in (select event_id from unplaced)
    {%- endif %}
)

select
    voids.event_id,
    voids.customer_id,
    voids.voided_at,
    debits.booked_at,
    debits.aggregator_id,
    debits.segment_start_at,
    debits.eligibility_class,
    debits.position_before,
    debits.position_after
from voids
inner join debits
    on voids.event_id = debits.event_id and voids.customer_id = debits.customer_id
