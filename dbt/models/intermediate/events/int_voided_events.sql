-- Each event id a void names, with the accepted events it names now: a row per instant
-- they are booked at, with their customer and timestamp (the least, where two rows share
-- an id and a booking instant); one row of nulls when no accepted event has that id (the
-- void is then an unknown_event). int_voids_validated checks the voids against it, and
-- int_voids_positioned reads which voided events have debits before the resume point.
--
-- Incremental (docs/incremental.md): looking a name up reads the 10M event ids of
-- int_events_rated, so a run looks up only the names no earlier run looked up and the names
-- of events judged since (`verdict_seq`: rated again, or quarantined and their rating
-- dropped). Every other name's event is as it was, because a rating changes only when its
-- row is judged again (and a catalog change rebuilds everything). Every name is written
-- again each run with the last verdict_seq it has seen, so the next run's "judged since"
-- starts there.
{{ config(materialized=delete_insert_materialization(), incremental_strategy='delete+insert', unique_key='event_id') }}
with

named as (
    select distinct event_id from {{ ref('stg_landing__voids') }} where event_id is not null
),

judged_through as (
    select coalesce(max(verdict_seq), 0) as verdict_seq from {{ ref('int_events_validated') }}
),

{% if is_incremental() -%}
stale as (
    select event_id from named
    where event_id not in (select event_id from {{ this }})
    union
    select event_id from named
    where event_id in (
        -- Rated rows carry coalesce(event_id, dedup_key) as their event id.
        select coalesce(event_id, dedup_key)
        from {{ ref('int_events_validated') }}
        where verdict_seq > (select coalesce(max(verdict_seq), 0) from {{ this }})
    )
),
{%- endif %}

looked_up as (
    select named.event_id
    from named
    {% if is_incremental() -%}
        where named.event_id in (select event_id from stale)
    {%- endif %}
),

events as (
    -- An event has a rating per aggregator it matches, each with its customer and times.
    select event_id, booked_at, min(customer_id) as customer_id, min(event_at) as event_at
    from {{ ref('int_events_rated') }}
    where event_id in (select event_id from looked_up)
    group by event_id, booked_at
)

select
    looked_up.event_id,
    events.customer_id,
    events.event_at,
    events.booked_at,
    judged_through.verdict_seq
from looked_up
cross join judged_through
left join events on looked_up.event_id = events.event_id
{% if is_incremental() -%}
    union all
    select kept.event_id, kept.customer_id, kept.event_at, kept.booked_at, judged_through.verdict_seq
    from {{ this }} as kept
    cross join judged_through
    where
        kept.event_id in (select event_id from named)
        and kept.event_id not in (select event_id from looked_up)
{%- endif %}
