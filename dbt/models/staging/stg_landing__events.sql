-- Usage events parsed out of their raw JSON payload: rename and cast only.
-- Rows that do not parse keep null fields here and are quarantined downstream.
-- A table, not a view like the other staging models: two models read it, and parsing
-- millions of JSON payloads twice costs a minute at 10M events.
{{ config(materialized='table') }}
with

source as (
    select * from {{ source('raw', 'events') }}
),

parsed as (
    select
        *,
        case when json_valid(raw_payload) then json_type(raw_payload) = 'OBJECT' else false end
            as is_object
    from source
),

renamed as (
    select
        -- A landing row's identity: the same path may be loaded again when its content changes.
        load_batch_id || ':' || source_file || ':' || line_number as event_row_id,
        load_batch_id,
        batch_seq,
        source_file,
        line_number,
        raw_payload,
        ingested_at,
        is_object,
        case when is_object then raw_payload ->> 'event_id' end as event_id,
        case when is_object then raw_payload ->> 'idempotency_key' end as idempotency_key,
        case when is_object then raw_payload ->> 'customer_id' end as customer_ref,
        case when is_object then raw_payload ->> 'event_type' end as event_type,
        case when is_object then raw_payload ->> 'timestamp' end as event_timestamp_text,
        case when is_object then {{ parse_utc_timestamp("raw_payload ->> 'timestamp'") }} end as event_at,
        case when is_object then json_type(raw_payload, 'properties') end as properties_type,
        case
            when is_object then coalesce(json_extract(raw_payload, 'properties'), '{}'::json)
        end as properties
    from parsed
)

select * from renamed
