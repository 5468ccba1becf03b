-- Usage events parsed out of their raw JSON payload: rename and cast only.
-- Rows that do not parse keep null fields here and are quarantined downstream.
-- A table, not a view like the other staging models, and incremental by load batch: each
-- landed row is parsed once, in the run that loads it (docs/incremental.md). Parsing every
-- payload again on each run cost 18 s at 10M events.
{{ config(materialized='incremental', incremental_strategy='append') }}
with

source as (
    -- rowid: the landed row's position in raw.events, which only ever grows (rows are never
    -- updated or deleted), a compact key for the joins downstream.
    select rowid as landed_row_id, * from {{ source('landing', 'events') }}
    {% if is_incremental() -%}
        where batch_seq > (select coalesce(max(batch_seq), 0) from {{ this }})
    {%- endif %}
),

parsed as (
    select
        *,
        {{ json_text_is_object('raw_payload') }} as is_object
    from source
),

extracted as (
    -- One parse for all scalar fields (a list of paths), one for the properties.
    select
        *,
        case
            when is_object
                then {{ json_field_texts('raw_payload', ['event_id', 'idempotency_key', 'customer_id', 'event_type', 'timestamp']) }}
        end as fields,
        case when is_object then {{ json_field_json('raw_payload', "'properties'") }} end as raw_properties
    from parsed
),

timed as (
    select
        *,
        {{ parse_utc_timestamp(list_item('fields', 5)) }} as parsed_at
    from extracted
),

renamed as (
    select
        -- A landed row's identity (the same path may be loaded again when its content changes).
        landed_row_id as event_row_id,
        {{ landing_row_columns(with_payload=false) }}
        {{ list_item('fields', 1) }} as event_id,
        {{ list_item('fields', 2) }} as idempotency_key,
        {{ list_item('fields', 3) }} as customer_ref,
        {{ list_item('fields', 4) }} as event_type,
        -- The timestamp's text only where a verdict reads it again: when it did not parse
        -- (missing_field or bad_timestamp), or when it is part of the content key (no
        -- event_id and no idempotency_key). A parsed timestamp is event_at; its text a
        -- second time took 388 of this table's 1,731 blocks at 10M events.
        case
            when parsed_at is null or ({{ list_item('fields', 2) }} is null and {{ list_item('fields', 1) }} is null)
                then {{ list_item('fields', 5) }}
        end as event_timestamp_text,
        parsed_at as event_at,
        case when is_object then coalesce({{ json_kind('raw_properties') }}, 'NULL') end as properties_type,
        case when is_object then coalesce(raw_properties, {{ empty_json_object() }}) end as properties
    from timed
)

select * from renamed
