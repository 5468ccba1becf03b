with

guarded as (
    {{ guarded_payload(source('landing', 'grant_amendments')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim(payload ->> 'amendment_id'), '') as amendment_id,
        nullif(trim(payload ->> 'grant_id'), '') as grant_id,
        lower(nullif(trim(payload ->> 'action'), '')) as action,
        nullif(trim(payload ->> 'effective_at'), '') as effective_at_text,
        {{ parse_utc_timestamp("payload ->> 'effective_at'") }} as effective_at,
        nullif(trim(payload ->> 'new_expires_at'), '') as new_expires_at_text,
        {{ parse_utc_timestamp("nullif(trim(payload ->> 'new_expires_at'), '')") }} as new_expires_at,
        payload ->> 'reason' as reason,
        payload ->> 'created_by' as created_by
    from guarded
)

select * from renamed
