with

guarded as (
    {{ guarded_payload(source('raw', 'voids')) }}
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
        nullif(trim(payload ->> 'event_id'), '') as event_id,
        {{ parse_utc_timestamp("payload ->> 'voided_at'") }} as voided_at,
        payload ->> 'reason' as reason
    from guarded
)

select * from renamed
