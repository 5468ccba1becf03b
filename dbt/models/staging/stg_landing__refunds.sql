with

source as (
    select * from {{ source('raw', 'refunds') }}
),

guarded as (
    -- A payload that is not a JSON object keeps null fields and is quarantined downstream.
    select
        *,
        case when json_valid(raw_payload) then json_type(raw_payload) = 'OBJECT' else false end
            as is_object,
        case
            when json_valid(raw_payload) and json_type(raw_payload) = 'OBJECT' then raw_payload::json
        end as payload
    from source
),

renamed as (
    select
        load_batch_id,
        batch_seq,
        source_file,
        line_number,
        raw_payload,
        ingested_at,
        is_object,
        nullif(trim(payload ->> 'refund_id'), '') as refund_id,
        nullif(trim(payload ->> 'purchase_id'), '') as purchase_id,
        {{ parse_utc_timestamp("payload ->> 'refunded_at'") }} as refunded_at,
        payload ->> 'reason' as reason
    from guarded
)

select * from renamed
