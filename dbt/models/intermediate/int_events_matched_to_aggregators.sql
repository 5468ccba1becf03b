-- Which aggregators each parsed event matches (SPEC §4 rating): same event_type, and every
-- catalog filter satisfied (equality; a list of values means "in"). One event may match
-- several aggregators. Filters arrive as catalog rows, never as SQL text.
with

events as (
    select event_row_id, event_type, properties
    from {{ ref('stg_landing__events') }}
    where is_object and event_type is not null and properties_type is distinct from 'ARRAY'
),

aggregators as (
    select * from {{ ref('stg_catalog__aggregators') }}
),

filters as (
    select * from {{ ref('stg_catalog__aggregator_filters') }}
),

candidates as (
    select
        events.event_row_id,
        events.properties,
        aggregators.aggregator_id,
        aggregators.operation,
        aggregators.property_name,
        aggregators.filter_count
    from events
    inner join aggregators on events.event_type = aggregators.event_type
),

filter_hits as (
    select
        candidates.event_row_id,
        candidates.aggregator_id,
        count(distinct filters.property_name) as filters_matched
    from candidates
    inner join filters
        on
            candidates.aggregator_id = filters.aggregator_id
            and (candidates.properties ->> filters.property_name) = filters.property_value
    group by candidates.event_row_id, candidates.aggregator_id
),

matched as (
    select
        candidates.event_row_id,
        candidates.aggregator_id,
        candidates.operation,
        case
            when candidates.operation = 'sum'
                then candidates.properties ->> candidates.property_name
        end as quantity_text
    from candidates
    left join filter_hits
        on
            candidates.event_row_id = filter_hits.event_row_id
            and candidates.aggregator_id = filter_hits.aggregator_id
    where candidates.filter_count = coalesce(filter_hits.filters_matched, 0)
)

select * from matched
