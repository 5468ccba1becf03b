with

guarded as (
    {{ guarded_payload(source('landing', 'refunds')) }}
),

renamed as (
    select
        {{ landing_row_columns() }}
        nullif(trim({{ payload_field('refund_id') }}), '') as refund_id,
        nullif(trim({{ payload_field('purchase_id') }}), '') as purchase_id,
        {{ parse_utc_timestamp(payload_field('refunded_at')) }} as refunded_at,
        {{ payload_field('reason') }} as reason
    from guarded
)

select * from renamed
