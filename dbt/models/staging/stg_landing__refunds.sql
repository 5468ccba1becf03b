with

guarded as (
    {{ guarded_payload(source('landing', 'refunds')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim(payload ->> 'refund_id'), '') as refund_id,
        nullif(trim(payload ->> 'purchase_id'), '') as purchase_id,
        {{ parse_utc_timestamp("payload ->> 'refunded_at'") }} as refunded_at,
        payload ->> 'reason' as reason
    from guarded
)

select * from renamed
