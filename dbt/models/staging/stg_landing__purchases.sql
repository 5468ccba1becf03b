with

source as (
    select * from {{ source('raw', 'purchases') }}
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
        nullif(trim(payload ->> 'purchase_id'), '') as purchase_id,
        nullif(trim(payload ->> 'customer_id'), '') as customer_id,
        nullif(trim(payload ->> 'bundle_id'), '') as bundle_id,
        try_cast(coalesce(nullif(trim(payload ->> 'quantity'), ''), '1') as integer) as quantity,
        nullif(trim(payload ->> 'purchased_at'), '') as purchased_at_text,
        {{ parse_utc_timestamp("payload ->> 'purchased_at'") }} as purchased_at,
        nullif(trim(payload ->> 'amount_paid'), '') as amount_paid_text,
        try_cast(payload ->> 'amount_paid' as bigint) as amount_paid,
        nullif(trim(payload ->> 'currency'), '') as currency,
        lower(nullif(trim(payload ->> 'status'), '')) as status
    from guarded
)

select * from renamed
